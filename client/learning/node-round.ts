/**
 * The map step of a learning round on a node, for the agent: verify the global model
 * against the logged hash, evaluate it on held-out rows (federated evaluation of the
 * incoming model), train locally, and produce the fixed-point contribution [n·Δ ‖ n] and the
 * evaluation vector, ready for the secure sum (then `field.fromInts`); or, in the job's
 * evaluation-only last round, the evaluation alone ({@link runNodeEvaluation}).
 */
import type { LocalModel, LocalUpdate } from "./model.ts";
import { subset, type Dataset } from "./datasets.ts";
import { bytesEqual } from "../../protocol/encoding.ts";
import { decodeGlobalModel, globalModelHash } from "../../protocol/learning/codec.ts";
import { weightedContribution, evalVector, type EvalSums } from "../../protocol/learning/aggregate.ts";
import { quantize, validateContribution, type UpdateEncodingPlan, type planEvalEncoding } from "../../protocol/learning/bounds.ts";
import type { LearningDp } from "../../protocol/learning/dp.ts";
import type { ModelSpec } from "../../protocol/learning/spec.ts";
import { cryptoRng, type Rng } from "../../protocol/rng.ts";
import { clippedGradientSum, sampleBatch } from "./dp-sgd.ts";

/** A model whose bytes do not match the transparency log, or of the wrong round or size. */
export class ModelRejected extends Error {
  constructor(readonly reason: "hash-mismatch" | "wrong-round" | "wrong-size", detail: string) {
    super(`global model rejected (${reason}): ${detail}`);
    this.name = "ModelRejected";
  }
}

/** Deterministic split of a node's rows: the first ⌊n·fraction⌋ rows held out for evaluation, the rest for training. */
export function splitHeldOut(ds: Dataset, fraction: number): { train: Dataset; heldOut: Dataset } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`splitHeldOut: fraction must be in [0, 1), got ${fraction}`);
  const k = Math.floor(ds.n * fraction);
  const idx = Array.from({ length: ds.n }, (_, i) => i);
  return { heldOut: subset(ds, idx.slice(0, k)), train: subset(ds, idx.slice(k)) };
}

export interface NodeRoundInput {
  model: LocalModel;
  /** Bytes of the global model as fetched (encodeGlobalModel format). */
  globalModel: Uint8Array;
  /** The hash recorded in the job's transparency log for this round's model. */
  expectedHash: Uint8Array;
  /** The round the model must be for (the round of the weights being trained from). */
  round: number;
  /** Training rows (already standardised if the job says so). */
  train: Dataset;
  /** Held-out rows for federated evaluation; may be empty. */
  heldOut: Dataset;
  plan: UpdateEncodingPlan;
  /** If given, `evaluation` is quantised with it (safe integers), ready for the secure sum. */
  evalPlan?: ReturnType<typeof planEvalEncoding>;
  /** Committee index, mixed into the shuffling seed. */
  salt: number;
}

export interface NodeRoundOutput {
  /** Quantised [n·Δ ‖ n] as safe integers, length plan.length: the secure-sum input. */
  contribution: Float64Array;
  /** [Σloss, Σcorrect, count] of the incoming global model on the held-out rows (quantised if `evalPlan` was given). */
  evaluation: Float64Array;
  evalSums: EvalSums;
  update: LocalUpdate;
}

/** Checks the fetched global model against the logged hash, its round and the model's size; returns its weights. Throws {@link ModelRejected}. */
function verifiedWeights(input: Pick<NodeRoundInput, "model" | "globalModel" | "expectedHash" | "round">): Float64Array {
  if (!bytesEqual(globalModelHash(input.globalModel), input.expectedHash)) throw new ModelRejected("hash-mismatch", "SHA-256 of the fetched model differs from the logged hash");
  const { round, weights } = decodeGlobalModel(input.globalModel);
  if (round !== input.round) throw new ModelRejected("wrong-round", `model is for round ${round}, expected ${input.round}`);
  if (weights.length !== input.model.size) throw new ModelRejected("wrong-size", `model has ${weights.length} weights, spec ${input.model.size}`);
  return weights;
}

/**
 * The node's step in a learning job's evaluation-only round (the final model's evaluation,
 * protocol/jobs/learning.ts): verify the model as {@link runNodeRound} does, evaluate it on
 * the held-out rows, train nothing. Returns [Σloss, Σcorrect, count], quantised with
 * `evalPlan`. Throws {@link ModelRejected}.
 */
export function runNodeEvaluation(input: Pick<NodeRoundInput, "model" | "globalModel" | "expectedHash" | "round" | "heldOut"> & { evalPlan: NonNullable<NodeRoundInput["evalPlan"]> }): { evaluation: Float64Array; evalSums: EvalSums } {
  const weights = verifiedWeights(input);
  const evalSums = input.heldOut.n > 0 ? input.model.evaluate(input.heldOut, weights) : { lossSum: 0, correct: 0, count: 0 };
  return { evaluation: quantize(evalVector(evalSums), input.evalPlan.fracBits, input.evalPlan.bound), evalSums };
}

/**
 * Runs the node's map step. Throws {@link ModelRejected} if the model bytes do not hash to
 * `expectedHash` (checked before anything else), carry another round, or do not fit the
 * model; throws Error if the produced contribution fails the job's own validation (a bug:
 * clipping should prevent it).
 */
export function runNodeRound(input: NodeRoundInput): NodeRoundOutput {
  const { model, plan } = input;
  const weights = verifiedWeights(input);
  if (plan.length !== model.size + 1) throw new ModelRejected("wrong-size", `update plan has ${plan.length} entries, model ${model.size} weights + count`);
  const evalSums = input.heldOut.n > 0 ? model.evaluate(input.heldOut, weights) : { lossSum: 0, correct: 0, count: 0 };
  const update = model.trainLocal(weights, input.train, { round: input.round, salt: input.salt });
  const contribution = quantize(weightedContribution(update.delta, update.samples), plan.fracBits, plan.bound);
  const v = validateContribution(contribution, plan);
  if (!v.ok) throw new Error(`runNodeRound: own contribution fails validation (${v.reason}); is model.clipNorm set?`);
  const ev = evalVector(evalSums);
  const evaluation = input.evalPlan ? quantize(ev, input.evalPlan.fracBits, input.evalPlan.bound) : ev;
  return { contribution, evaluation, evalSums, update };
}

/**
 * The node's step in a training round of a private job (DP-FedSGD, protocol/learning/dp.ts):
 * verify the model as {@link runNodeRound} does, sample exactly dp.batchSize training rows
 * with `rng` (cryptoRng by default), and return the quantised [Σ clip(g_i) ‖ B] and the zero
 * evaluation vector (a private training round releases no evaluation). The noise is added by
 * the MASCOT party (SecureSumConfig.noise). Throws {@link ModelRejected}, RangeError when the
 * node has fewer training rows than the batch, and Error if the contribution fails the job's
 * own validation (a bug).
 */
export function runNodeDpRound(input: Pick<NodeRoundInput, "globalModel" | "expectedHash" | "round" | "train" | "plan"> & { spec: Pick<ModelSpec, "inputDim" | "classes" | "architecture">; size: number; dp: LearningDp; rng?: Rng }): { contribution: Float64Array; evaluation: Float64Array; clipped: number } {
  const weights = verifiedWeights({ ...input, model: { size: input.size } as LocalModel });
  const { plan, dp } = input;
  if (plan.length !== input.size + 1) throw new ModelRejected("wrong-size", `update plan has ${plan.length} entries, model ${input.size} weights + count`);
  if (input.train.n < dp.batchSize) throw new RangeError(`the node has ${input.train.n} training rows, the job samples ${dp.batchSize} per round`);
  const batch = sampleBatch(input.train.n, dp.batchSize, input.rng ?? cryptoRng);
  const { sum, clipped } = clippedGradientSum(input.spec, weights, input.train, batch, dp.clip);
  const v = new Float64Array(sum.length + 1);
  v.set(sum);
  v[sum.length] = dp.batchSize;
  const contribution = quantize(v, plan.fracBits, plan.bound);
  const ok = validateContribution(contribution, plan);
  if (!ok.ok) throw new Error(`runNodeDpRound: own contribution fails validation (${ok.reason})`);
  return { contribution, evaluation: new Float64Array(3), clipped };
}
