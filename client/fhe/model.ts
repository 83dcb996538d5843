/**
 * DenseModel (`2pm-dense/v1`, docs/ARCHITECTURE.md) → an encrypted-evaluation plan.
 *
 * A plan is a list of affine layers `z = Wᵀh + b`, each optionally followed by a square; the
 * preprocessing (x − mean)/std is folded into the first layer, so the querier sends raw rows. The
 * last layer's activation (sigmoid / softmax / linear) is applied by the querier after
 * decryption, so logistic regression has no approximation error. Hidden `poly2` activations
 * c0 + c1·z + c2·z² are folded into one square by completing the square:
 * c2·(z + c1/2c2)² + (c0 − c1²/4c2): √|c2| and the shift go into this layer, the sign and the
 * constant into the next; so each hidden layer costs two levels (plain mult + square).
 */
import { z } from "zod";
import { FheError } from "./errors.ts";

/** The dense model format is defined once, in protocol/learning/dense.ts (the learning export). */
export type { DenseActivation, DenseLayer, DenseModel } from "../../protocol/learning/dense.ts";
import { activate, denseLogits, type DenseModel } from "../../protocol/learning/dense.ts";

const finite = z.number().refine(Number.isFinite, "must be finite");
export const denseModelSchema = z.object({
  format: z.literal("2pm-dense/v1"),
  inputDim: z.number().int().min(1).max(4096),
  preprocessing: z.object({ mean: z.array(finite), std: z.array(finite) }).nullable(),
  layers: z
    .array(
      z.object({
        weights: z.array(z.array(finite)),
        bias: z.array(finite),
        activation: z.enum(["linear", "sigmoid", "softmax", "relu", "square", "poly2"]),
        poly: z.array(finite).length(3).optional(),
      }),
    )
    .min(1)
    .max(8),
});

/** One affine layer of a plan, weights [in][out]; `square` squares every output. */
export interface PlanLayer {
  weights: number[][];
  bias: number[];
  square: boolean;
}

export interface Plan {
  inputDim: number;
  outputDim: number;
  layers: PlanLayer[];
  /** Applied by the querier to decrypted scores. */
  output: "sigmoid" | "softmax" | "linear";
  /** Number of rescales = levels needed. */
  depth: number;
}

/**
 * Validates a DenseModel: shapes chain, preprocessing matches inputDim with std ≠ 0, hidden
 * activations are linear/square/poly2 (not relu/sigmoid/softmax), the last layer is
 * linear/sigmoid/softmax. Throws FheError("bad-model") naming the problem.
 */
export function checkDenseModel(m: unknown): DenseModel {
  const r = denseModelSchema.safeParse(m);
  if (!r.success) throw new FheError("bad-model", `invalid DenseModel: ${r.error.issues[0]?.path.join(".")}: ${r.error.issues[0]?.message}`);
  const model = r.data as DenseModel;
  let dim = model.inputDim;
  if (model.preprocessing) {
    const { mean, std } = model.preprocessing;
    if (mean.length !== dim || std.length !== dim) throw new FheError("bad-model", `preprocessing must have ${dim} entries`);
    if (std.some((s) => s === 0)) throw new FheError("bad-model", "preprocessing std must be non-zero");
  }
  model.layers.forEach((l, i) => {
    if (l.weights.length !== dim) throw new FheError("bad-model", `layer ${i}: weights have ${l.weights.length} rows, expected ${dim}`);
    const out = l.bias.length;
    if (out < 1 || l.weights.some((row) => row.length !== out)) throw new FheError("bad-model", `layer ${i}: weights/bias shapes disagree`);
    const last = i === model.layers.length - 1;
    if (last && !["linear", "sigmoid", "softmax"].includes(l.activation)) throw new FheError("bad-model", `layer ${i}: output activation ${l.activation} is not supported under FHE`);
    if (!last && !["linear", "square", "poly2"].includes(l.activation)) throw new FheError("bad-model", `layer ${i}: hidden activation ${l.activation} is not a polynomial; train with square or poly2`);
    if (l.activation === "poly2" && !l.poly) throw new FheError("bad-model", `layer ${i}: poly2 needs poly coefficients`);
    dim = out;
  });
  return model;
}

/** Compiles a validated model into a plan (see module doc). Throws FheError("bad-model"). */
export function compilePlan(m: DenseModel): Plan {
  const model = checkDenseModel(m);
  const layers: PlanLayer[] = model.layers.map((l) => ({ weights: l.weights.map((r) => [...r]), bias: [...l.bias], square: false }));
  // Preprocessing (x − mean)/std folded into the first layer: the querier sends raw features
  // and never needs the training set's statistics.
  if (model.preprocessing) {
    const { mean, std } = model.preprocessing;
    const first = layers[0]!;
    first.bias = first.bias.map((b, o) => b - first.weights.reduce((s, r, j) => s + (r[o]! * mean[j]!) / std[j]!, 0));
    first.weights = first.weights.map((r, j) => r.map((w) => w / std[j]!));
  }
  for (let i = 0; i < model.layers.length - 1; i++) {
    const src = model.layers[i]!;
    const cur = layers[i]!;
    const next = layers[i + 1]!;
    if (src.activation === "square") cur.square = true;
    else if (src.activation === "poly2") {
      const [c0, c1, c2] = src.poly as [number, number, number];
      if (c2 === 0) {
        scaleLayer(cur, c1, c0);
      } else {
        const a = Math.sqrt(Math.abs(c2));
        const shift = c1 / (2 * c2);
        cur.bias = cur.bias.map((b) => a * (b + shift));
        cur.weights = cur.weights.map((r) => r.map((w) => a * w));
        cur.square = true;
        const sign = Math.sign(c2);
        const k = c0 - (c1 * c1) / (4 * c2);
        // next z = Wᵀ(sign·u² + k) + b
        next.bias = next.bias.map((b, o) => b + k * next.weights.reduce((s, r) => s + r[o]!, 0));
        next.weights = next.weights.map((r) => r.map((w) => sign * w));
      }
    }
  }
  const last = model.layers[model.layers.length - 1]!;
  const depth = layers.reduce((d, l) => d + 1 + (l.square ? 1 : 0), 0);
  return { inputDim: model.inputDim, outputDim: last.bias.length, layers, output: last.activation as Plan["output"], depth };
}

function scaleLayer(l: PlanLayer, c1: number, c0: number): void {
  l.weights = l.weights.map((r) => r.map((w) => c1 * w));
  l.bias = l.bias.map((b) => c1 * b + c0);
}

/**
 * Plaintext reference: the final layer's pre-activation scores (logits) of one raw row,
 * evaluating the DenseModel directly (poly2 as written, not the folded plan).
 */
export function plainScores(m: DenseModel, row: ArrayLike<number>): Float64Array {
  return denseLogits(m, row);
}

/** Predicted label from final scores: argmax for several outputs, score > 0 for one. */
export function labelOf(scores: ArrayLike<number>): number {
  if (scores.length === 1) return scores[0]! > 0 ? 1 : 0;
  let best = 0;
  for (let k = 1; k < scores.length; k++) if (scores[k]! > scores[best]!) best = k;
  return best;
}

/** Exact output activation on decrypted scores. */
export function applyOutput(output: Plan["output"], scores: ArrayLike<number>): Float64Array {
  const s = Float64Array.from(scores);
  activate(s, output);
  return s;
}
