/**
 * The `2pm-dense/v1` export (docs/ARCHITECTURE.md, "Dense model export"), built from a spec
 * and a flat weight vector without tfjs, so the coordinator can package a final model from
 * stored weights; plus a plain float64 reference forward pass used to cross-check tfjs and
 * the FHE evaluator.
 */
import { outputLayer, weightShapes, type ModelSpec } from "./spec.ts";
import { unflatten } from "./flatten.ts";
import type { Standardization } from "./features.ts";

export type DenseActivation = "linear" | "sigmoid" | "softmax" | "relu" | "square" | "poly2";

export interface DenseLayer {
  /** [in][out] */
  weights: number[][];
  bias: number[];
  activation: DenseActivation;
  /** poly2 coefficients c0 + c1·x + c2·x² */
  poly?: number[];
}

export interface DenseModel {
  format: "2pm-dense/v1";
  inputDim: number;
  preprocessing: { mean: number[]; std: number[] } | null;
  layers: DenseLayer[];
}

/**
 * Builds the dense export. Throws RangeError if the weight vector does not fit the spec or
 * a hidden layer uses `tanh` (not representable in 2pm-dense/v1).
 */
export function toDenseModel(
  spec: Pick<ModelSpec, "inputDim" | "classes" | "architecture">,
  weights: ArrayLike<number>,
  standardization: Standardization | null = null,
): DenseModel {
  const shapes = weightShapes(spec);
  const parts = unflatten(weights, shapes);
  const hidden = spec.architecture.kind === "mlp" ? spec.architecture.hidden : [];
  const acts: Array<{ activation: DenseActivation; poly?: number[] }> = hidden.map((l) => {
    switch (l.activation) {
      case "tanh": throw new RangeError("toDenseModel: tanh has no 2pm-dense/v1 activation; use poly2 or square");
      case "poly2": return { activation: "poly2", poly: [...l.poly!] };
      default: return { activation: l.activation };
    }
  });
  acts.push({ activation: outputLayer(spec).activation });
  const layers: DenseLayer[] = acts.map((a, i) => {
    const [fanIn, fanOut] = shapes[2 * i]! as [number, number];
    const k = parts[2 * i]!;
    const w: number[][] = [];
    for (let r = 0; r < fanIn; r++) w.push(Array.from(k.subarray(r * fanOut, (r + 1) * fanOut)));
    return { weights: w, bias: Array.from(parts[2 * i + 1]!), ...a };
  });
  if (standardization && (standardization.mean.length !== spec.inputDim || standardization.std.length !== spec.inputDim)) {
    throw new RangeError(`toDenseModel: standardization must have ${spec.inputDim} entries`);
  }
  return {
    format: "2pm-dense/v1",
    inputDim: spec.inputDim,
    preprocessing: standardization ? { mean: [...standardization.mean], std: [...standardization.std] } : null,
    layers,
  };
}

/** Applies one activation in place (`poly`: poly2's coefficients). Never throws. */
export function activate(v: Float64Array, a: DenseActivation, poly?: number[]): void {
  switch (a) {
    case "linear": return;
    case "relu": for (let i = 0; i < v.length; i++) v[i] = Math.max(0, v[i]!); return;
    case "sigmoid": for (let i = 0; i < v.length; i++) v[i] = 1 / (1 + Math.exp(-v[i]!)); return;
    case "square": for (let i = 0; i < v.length; i++) v[i] = v[i]! * v[i]!; return;
    case "poly2": {
      const [c0, c1, c2] = poly as [number, number, number];
      for (let i = 0; i < v.length; i++) { const x = v[i]!; v[i] = c0 + c1 * x + c2 * x * x; }
      return;
    }
    case "softmax": {
      let m = -Infinity;
      for (const x of v) m = Math.max(m, x);
      let s = 0;
      for (let i = 0; i < v.length; i++) { v[i] = Math.exp(v[i]! - m); s += v[i]!; }
      for (let i = 0; i < v.length; i++) v[i]! /= s;
    }
  }
}

/**
 * Reference forward pass on one raw feature vector (standardised with the model's
 * preprocessing, if any; NaN → mean). Returns the output layer's values (probabilities).
 * Throws RangeError on a wrong input length.
 */
export function denseForward(model: DenseModel, x: ArrayLike<number>): Float64Array {
  const h = denseLogits(model, x);
  const last = model.layers.at(-1);
  if (last) activate(h, last.activation, last.poly);
  return h;
}

/** {@link denseForward} without the output layer's activation: its pre-activation values (logits). Throws as denseForward. */
export function denseLogits(model: DenseModel, x: ArrayLike<number>): Float64Array {
  if (x.length !== model.inputDim) throw new RangeError(`denseForward: input has ${x.length} features, model ${model.inputDim}`);
  let h = Float64Array.from(x as ArrayLike<number>);
  if (model.preprocessing) {
    const { mean, std } = model.preprocessing;
    for (let j = 0; j < h.length; j++) h[j] = Number.isNaN(h[j]!) ? 0 : (h[j]! - mean[j]!) / std[j]!;
  }
  model.layers.forEach((l, k) => {
    const out = Float64Array.from(l.bias);
    for (let i = 0; i < h.length; i++) {
      const xi = h[i]!;
      if (xi === 0) continue;
      const row = l.weights[i]!;
      for (let j = 0; j < out.length; j++) out[j]! += xi * row[j]!;
    }
    if (k < model.layers.length - 1) activate(out, l.activation, l.poly);
    h = out;
  });
  return h;
}
