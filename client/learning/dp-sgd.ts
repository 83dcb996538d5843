/**
 * DP-SGD on a node (docs/dp.md "Learning (DP-FedAvg)"): exact per-example gradients of the
 * dense models a learning spec allows (logistic regression and MLPs with relu, sigmoid, tanh,
 * square, poly2, linear hidden layers; sigmoid + binary cross-entropy or softmax + categorical
 * cross-entropy output), by plain float64 backpropagation, with no tfjs. Weights are flat in
 * tfjs `getWeights()` order (per layer: kernel [in, out] row-major, then bias), as
 * protocol/learning/spec.ts `weightShapes` says. A missing feature (NaN) counts as 0, the
 * standardised mean.
 *
 * The node's round contribution is Σ over a uniformly sampled batch of exactly B rows of the
 * per-example gradients, each clipped to L2 ≤ C: ‖sum‖ ≤ B·C, and replacing one row changes it
 * by at most 2C (protocol/learning/dp.ts).
 */
import { randomBelow, type Rng } from "../../protocol/rng.ts";
import { outputLayer, weightShapes, type HiddenLayer, type ModelSpec } from "../../protocol/learning/spec.ts";
import { totalSize } from "../../protocol/learning/flatten.ts";
import { activate as activateDense } from "../../protocol/learning/dense.ts";
import type { Dataset } from "./datasets.ts";

type DenseSpec = Pick<ModelSpec, "inputDim" | "classes" | "architecture">;

/** Probabilities are clipped to [EPS, 1 − EPS] for the loss, as client/learning/model.ts does with tfjs. */
const EPS = 1e-7;

interface Layer { fanIn: number; fanOut: number; kOff: number; bOff: number; act: HiddenLayer | null }

function layers(spec: DenseSpec): Layer[] {
  const shapes = weightShapes(spec);
  const hidden = spec.architecture.kind === "mlp" ? spec.architecture.hidden : [];
  const out: Layer[] = [];
  let off = 0;
  for (let l = 0; l < shapes.length / 2; l++) {
    const [fanIn, fanOut] = shapes[2 * l]! as [number, number];
    out.push({ fanIn, fanOut, kOff: off, bOff: off + fanIn * fanOut, act: l < hidden.length ? hidden[l]! : null });
    off += fanIn * fanOut + fanOut;
  }
  return out;
}

function activate(z: Float64Array, act: HiddenLayer): Float64Array {
  const a = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) {
    const v = z[i]!;
    switch (act.activation) {
      case "relu": a[i] = v > 0 ? v : 0; break;
      case "sigmoid": a[i] = 1 / (1 + Math.exp(-v)); break;
      case "tanh": a[i] = Math.tanh(v); break;
      case "square": a[i] = v * v; break;
      case "poly2": a[i] = act.poly![0] + act.poly![1] * v + act.poly![2] * v * v; break;
      case "linear": a[i] = v; break;
    }
  }
  return a;
}

/** d activation / d z at z (with a = activation(z)). */
function derivative(z: number, a: number, act: HiddenLayer): number {
  switch (act.activation) {
    case "relu": return z > 0 ? 1 : 0;
    case "sigmoid": return a * (1 - a);
    case "tanh": return 1 - a * a;
    case "square": return 2 * z;
    case "poly2": return act.poly![1] + 2 * act.poly![2] * z;
    case "linear": return 1;
  }
}

/** The output layer's probabilities (protocol/learning/spec.ts outputLayer: one sigmoid unit for two classes, else softmax). */
function outputProbs(z: Float64Array, spec: DenseSpec): Float64Array {
  const p = Float64Array.from(z);
  activateDense(p, outputLayer(spec).activation);
  return p;
}

function forward(spec: DenseSpec, ls: Layer[], w: ArrayLike<number>, x: ArrayLike<number>): { as: Float64Array[]; zs: Float64Array[]; probs: Float64Array } {
  let a: Float64Array = new Float64Array(spec.inputDim);
  for (let i = 0; i < a.length; i++) { const v = x[i]!; a[i] = Number.isNaN(v) ? 0 : v; }
  const as: Float64Array[] = [a];
  const zs: Float64Array[] = [];
  for (const l of ls) {
    const z = new Float64Array(l.fanOut);
    for (let j = 0; j < l.fanOut; j++) z[j] = w[l.bOff + j]!;
    for (let i = 0; i < l.fanIn; i++) {
      const ai = a[i]!;
      if (ai === 0) continue;
      const row = l.kOff + i * l.fanOut;
      for (let j = 0; j < l.fanOut; j++) z[j]! += ai * w[row + j]!;
    }
    zs.push(z);
    if (l.act) { a = activate(z, l.act); as.push(a); }
  }
  return { as, zs, probs: outputProbs(zs.at(-1)!, spec) };
}

/** The model's class probabilities for one feature vector (binary: [P(class 1)]). Throws RangeError on a weight vector of the wrong size. */
export function predictProba(spec: DenseSpec, weights: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  const ls = layers(spec);
  if (weights.length !== totalSize(weightShapes(spec))) throw new RangeError(`predictProba: ${weights.length} weights, spec needs ${totalSize(weightShapes(spec))}`);
  return forward(spec, ls, weights, x).probs;
}

/**
 * The gradient of one example's cross-entropy loss with respect to the flat weights, and the
 * loss. Exact backpropagation in float64. Throws RangeError on a weight vector of the wrong
 * size or a label outside [0, classes).
 */
export function perExampleGradient(spec: DenseSpec, weights: ArrayLike<number>, x: ArrayLike<number>, y: number, out?: Float64Array): { grad: Float64Array; loss: number } {
  const ls = layers(spec);
  const size = totalSize(weightShapes(spec));
  if (weights.length !== size) throw new RangeError(`perExampleGradient: ${weights.length} weights, spec needs ${size}`);
  if (!Number.isInteger(y) || y < 0 || y >= spec.classes) throw new RangeError(`perExampleGradient: label ${y} is not in [0, ${spec.classes})`);
  const grad = out ?? new Float64Array(size);
  if (grad.length !== size) throw new RangeError("perExampleGradient: output buffer of the wrong size");
  grad.fill(0);
  const { as, zs, probs } = forward(spec, ls, weights, x);
  const binary = spec.classes === 2;
  // dL/dz of the output layer: p − y (sigmoid + BCE, softmax + CE).
  let delta: Float64Array;
  let loss: number;
  if (binary) {
    const p = probs[0]!;
    delta = Float64Array.of(p - y);
    const pc = Math.min(1 - EPS, Math.max(EPS, p));
    loss = -(y * Math.log(pc) + (1 - y) * Math.log(1 - pc));
  } else {
    delta = Float64Array.from(probs);
    delta[y]! -= 1;
    loss = -Math.log(Math.min(1 - EPS, Math.max(EPS, probs[y]!)));
  }
  for (let li = ls.length - 1; li >= 0; li--) {
    const l = ls[li]!;
    const aIn = as[li]!;
    for (let i = 0; i < l.fanIn; i++) {
      const ai = aIn[i]!;
      if (ai === 0) continue;
      const row = l.kOff + i * l.fanOut;
      for (let j = 0; j < l.fanOut; j++) grad[row + j] = ai * delta[j]!;
    }
    for (let j = 0; j < l.fanOut; j++) grad[l.bOff + j] = delta[j]!;
    if (li === 0) break;
    const prev = ls[li - 1]!;
    const back = new Float64Array(l.fanIn);
    for (let i = 0; i < l.fanIn; i++) {
      const row = l.kOff + i * l.fanOut;
      let s = 0;
      for (let j = 0; j < l.fanOut; j++) s += weights[row + j]! * delta[j]!;
      back[i] = s * derivative(zs[li - 1]![i]!, aIn[i]!, prev.act!);
    }
    delta = back;
  }
  return { grad, loss };
}

/**
 * A uniformly random set of exactly `size` distinct row indices of [0, n) (partial
 * Fisher–Yates with `rng`). Throws RangeError if size > n or either is not a non-negative integer.
 */
export function sampleBatch(n: number, size: number, rng: Rng): number[] {
  if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(size) || size < 0) throw new RangeError(`sampleBatch: bad sizes n=${n}, size=${size}`);
  if (size > n) throw new RangeError(`sampleBatch: cannot sample ${size} distinct rows of ${n}`);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < size; i++) {
    const j = i + randomBelow(rng, n - i);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, size);
}

/**
 * One node's DP-SGD contribution: Σ over the rows `batch` of the per-example gradients at
 * `weights`, each scaled to L2 ≤ `clip`. Returns the sum (‖sum‖ ≤ batch.length·clip), how many
 * gradients were scaled down, and the mean loss of the batch (local only, never sent). Throws
 * RangeError on a non-positive clip, a row index out of range or a non-finite gradient.
 */
export function clippedGradientSum(spec: DenseSpec, weights: ArrayLike<number>, data: Dataset, batch: readonly number[], clip: number): { sum: Float64Array; clipped: number; meanLoss: number } {
  if (!(clip > 0) || !Number.isFinite(clip)) throw new RangeError(`clippedGradientSum: clip must be a positive number, got ${clip}`);
  if (data.d !== spec.inputDim) throw new RangeError(`clippedGradientSum: data has ${data.d} features, spec ${spec.inputDim}`);
  const size = totalSize(weightShapes(spec));
  const sum = new Float64Array(size);
  const g = new Float64Array(size);
  let clipped = 0, lossSum = 0;
  for (const r of batch) {
    if (!Number.isInteger(r) || r < 0 || r >= data.n) throw new RangeError(`clippedGradientSum: row ${r} is not in [0, ${data.n})`);
    const { loss } = perExampleGradient(spec, weights, data.x.subarray(r * data.d, (r + 1) * data.d), data.y[r]!, g);
    lossSum += loss;
    let sq = 0;
    for (let i = 0; i < size; i++) sq += g[i]! * g[i]!;
    const norm = Math.sqrt(sq);
    if (!Number.isFinite(norm)) throw new RangeError(`clippedGradientSum: non-finite gradient at row ${r}`);
    const f = norm > clip ? clip / norm : 1;
    if (f < 1) clipped++;
    for (let i = 0; i < size; i++) sum[i]! += f * g[i]!;
  }
  return { sum, clipped, meanLoss: batch.length ? lossSum / batch.length : 0 };
}

/** [Σloss, Σcorrect, count] of `weights` on `data` (the sums a node's evaluation releases), with the float64 forward pass. */
export function evaluateDense(spec: DenseSpec, weights: ArrayLike<number>, data: Dataset): { lossSum: number; correct: number; count: number } {
  const ls = layers(spec);
  let lossSum = 0, correct = 0;
  const out = outputLayer(spec).units;
  for (let r = 0; r < data.n; r++) {
    const { probs } = forward(spec, ls, weights, data.x.subarray(r * data.d, (r + 1) * data.d));
    const y = data.y[r]!;
    if (out === 1) {
      const p = Math.min(1 - EPS, Math.max(EPS, probs[0]!));
      lossSum -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
      if ((probs[0]! > 0.5 ? 1 : 0) === y) correct++;
    } else {
      lossSum -= Math.log(Math.min(1 - EPS, Math.max(EPS, probs[y]!)));
      let best = 0;
      for (let k = 1; k < probs.length; k++) if (probs[k]! > probs[best]!) best = k;
      if (best === y) correct++;
    }
  }
  return { lossSum, correct, count: data.n };
}
