/**
 * The learning job's model spec: architecture, loss, local optimiser, federated strategy,
 * client-side clipping and feature preprocessing. Shared by the coordinator (validation of
 * submitted jobs, server optimiser) and the node (tfjs model building, local training).
 * Pure: zod only.
 */
import { z } from "zod";
import type { DatasetSchema } from "../stats/schema.ts";

/** Hidden-layer activations. `square` is x², `poly2` is c0 + c1·x + c2·x² (FHE-friendly). */
export const HiddenActivation = z.enum(["relu", "sigmoid", "tanh", "square", "poly2", "linear"]);
export type HiddenActivation = z.infer<typeof HiddenActivation>;

/** One hidden dense layer. `poly` is required iff `activation` is `poly2`. */
export const HiddenLayer = z
  .strictObject({
    units: z.int().min(1).max(4096),
    activation: HiddenActivation,
    poly: z.tuple([z.number(), z.number(), z.number()]).optional(),
  })
  .refine((l) => (l.activation === "poly2") === (l.poly !== undefined), {
    message: "poly (c0, c1, c2) is required for activation poly2 and only for it",
  });
export type HiddenLayer = z.infer<typeof HiddenLayer>;

/** Logistic regression (no hidden layer) or a multi-layer perceptron. */
export const Architecture = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("logistic") }),
  z.strictObject({ kind: z.literal("mlp"), hidden: z.array(HiddenLayer).min(1).max(8) }),
]);
export type Architecture = z.infer<typeof Architecture>;

/** The server optimiser parameters of FedAdam and FedYogi. */
const ADAPTIVE = {
  eta: z.number().positive(),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.99),
  tau: z.number().positive().default(1e-3),
};

/** Federated strategy. Server-side parameters follow Reddi et al., "Adaptive Federated Optimization", ICLR 2021. */
export const Strategy = z.discriminatedUnion("kind", [
  /** McMahan et al. 2017; `serverLearningRate` 1 is plain model averaging. */
  z.strictObject({ kind: z.literal("fedavg"), serverLearningRate: z.number().positive().default(1) }),
  /** Li et al. 2020: local objective + μ/2‖w − w_global‖²; server as FedAvg. */
  z.strictObject({ kind: z.literal("fedprox"), mu: z.number().nonnegative(), serverLearningRate: z.number().positive().default(1) }),
  z.strictObject({ kind: z.literal("fedadam"), ...ADAPTIVE }),
  z.strictObject({ kind: z.literal("fedyogi"), ...ADAPTIVE }),
]);
export type Strategy = z.infer<typeof Strategy>;

/** Raw-column → feature-vector encoding. Feature order: `numeric` columns, then each categorical's one-hot block. */
export const Preprocessing = z.strictObject({
  /** Numeric columns, in feature order. */
  numeric: z.array(z.string().min(1)),
  /** Categorical columns, one-hot encoded over `levels` (an unknown or missing value encodes as all zeros). */
  categorical: z.array(z.strictObject({ column: z.string().min(1), levels: z.array(z.string()).min(1) })).default([]),
  /** Standardise numeric features with the federated mean/std from a statistics round before training. */
  standardize: z.boolean().default(true),
  /** Label column and its classes; class index = position in `classes` (binary: classes[1] is the positive class). */
  label: z.strictObject({ column: z.string().min(1), classes: z.array(z.string()).min(2) }).optional(),
});
export type Preprocessing = z.infer<typeof Preprocessing>;

/**
 * Every way `pre` does not fit the declared dataset schema, as `path: message` strings (empty
 * when it fits): unknown columns (naming the schema's), a numeric feature that is not a numeric
 * column, a categorical feature or label that is not categorical, and levels or classes the
 * schema does not declare (they would silently encode as all zeros). Pure; never throws.
 */
export function preprocessingIssues(pre: z.input<typeof Preprocessing>, schema: DatasetSchema): string[] {
  const issues: string[] = [];
  const col = (name: string) => schema.columns.find((c) => c.name === name);
  const names = schema.columns.map((c) => c.name).join(", ");
  pre.numeric.forEach((name, i) => {
    const c = col(name);
    if (!c) issues.push(`preprocessing.numeric.${i}: no column "${name}" in schema ${schema.name} (columns: ${names})`);
    else if (c.type !== "numeric") issues.push(`preprocessing.numeric.${i}: "${name}" is a ${c.type} column; list it under categorical`);
  });
  (pre.categorical ?? []).forEach((cat, i) => {
    const c = col(cat.column);
    if (!c) { issues.push(`preprocessing.categorical.${i}: no column "${cat.column}" in schema ${schema.name} (columns: ${names})`); return; }
    if (c.type === "numeric") { issues.push(`preprocessing.categorical.${i}: "${cat.column}" is numeric; list it under numeric`); return; }
    const unknown = cat.levels.filter((l) => !c.levels.includes(l));
    if (unknown.length) issues.push(`preprocessing.categorical.${i}: ${cat.column} has no level ${unknown.map((l) => JSON.stringify(l)).join(", ")} (levels: ${c.levels.join(", ")})`);
  });
  if (pre.label) {
    const c = col(pre.label.column);
    if (!c) issues.push(`preprocessing.label: no column "${pre.label.column}" in schema ${schema.name} (columns: ${names})`);
    else if (c.type === "numeric") issues.push(`preprocessing.label: "${pre.label.column}" is numeric; a label needs declared classes`);
    else {
      const unknown = pre.label.classes.filter((l) => !c.levels.includes(l));
      if (unknown.length) issues.push(`preprocessing.label: ${pre.label.column} has no class ${unknown.map((l) => JSON.stringify(l)).join(", ")} (levels: ${c.levels.join(", ")})`);
    }
  }
  return issues;
}

/** The model spec of a learning job. `z.input<typeof ModelSpec>` is what a submitter writes. */
export const ModelSpec = z
  .strictObject({
    version: z.literal(1).default(1),
    inputDim: z.int().min(1).max(100_000),
    /** Number of classes; 2 means a single sigmoid output, > 2 a softmax output. */
    classes: z.int().min(2).max(1000),
    architecture: Architecture,
    loss: z.enum(["binary-crossentropy", "categorical-crossentropy"]),
    metrics: z.array(z.literal("accuracy")).default(["accuracy"]),
    optimizer: z.strictObject({ kind: z.enum(["sgd", "adam"]), learningRate: z.number().positive().max(10) }),
    epochs: z.int().min(1).max(1000),
    batchSize: z.int().min(1).max(65536),
    /** Seeds initialisation and local shuffling; training is reproducible given the seed. */
    seed: z.int().min(0).max(2 ** 31 - 1),
    strategy: Strategy,
    /** Client-side clipping: the update Δ = w_local − w_global is scaled to L2 norm ≤ clipNorm. Required for validated aggregation. */
    clipNorm: z.number().positive().optional(),
    preprocessing: Preprocessing.optional(),
  })
  .superRefine((s, ctx) => {
    const want = s.classes === 2 ? "binary-crossentropy" : "categorical-crossentropy";
    if (s.loss !== want) ctx.addIssue({ code: "custom", path: ["loss"], message: `classes=${s.classes} needs loss ${want}` });
    if (s.preprocessing) {
      const dim = s.preprocessing.numeric.length + s.preprocessing.categorical.reduce((a, c) => a + c.levels.length, 0);
      if (dim !== s.inputDim) ctx.addIssue({ code: "custom", path: ["inputDim"], message: `preprocessing encodes ${dim} features, inputDim is ${s.inputDim}` });
      const lab = s.preprocessing.label;
      if (lab && lab.classes.length !== s.classes) ctx.addIssue({ code: "custom", path: ["preprocessing", "label"], message: `label has ${lab.classes.length} classes, spec has ${s.classes}` });
    }
  });
export type ModelSpec = z.infer<typeof ModelSpec>;
export type ModelSpecInput = z.input<typeof ModelSpec>;

/** Parses and validates a spec. Throws a `z.ZodError` naming the offending path. */
export function parseModelSpec(input: unknown): ModelSpec {
  return ModelSpec.parse(input);
}

/** Output activation implied by the spec: sigmoid (1 unit) for 2 classes, softmax (K units) otherwise. */
export function outputLayer(spec: Pick<ModelSpec, "classes">): { units: number; activation: "sigmoid" | "softmax" } {
  return spec.classes === 2 ? { units: 1, activation: "sigmoid" } : { units: spec.classes, activation: "softmax" };
}

/**
 * Weight shapes of the dense stack in tfjs `getWeights()` order: per dense layer, kernel
 * [in, out] then bias [out]. Both sides use it to size update vectors without tfjs.
 */
export function weightShapes(spec: Pick<ModelSpec, "inputDim" | "classes" | "architecture">): number[][] {
  const shapes: number[][] = [];
  let fanIn = spec.inputDim;
  const hidden = spec.architecture.kind === "mlp" ? spec.architecture.hidden : [];
  for (const l of hidden) {
    shapes.push([fanIn, l.units], [l.units]);
    fanIn = l.units;
  }
  const out = outputLayer(spec).units;
  shapes.push([fanIn, out], [out]);
  return shapes;
}
