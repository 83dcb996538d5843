/**
 * A learning job's round protocol, shared by the node (map) and the JobDO (reduce). Pure.
 *
 * Each round r the committee securely sums, per node k,
 *     [ n_k·Δ_k (d entries) ‖ n_k ‖ Σloss_k ‖ correct_k ‖ count_k ]
 * in fixed point: the sample-weighted update of local training from global model r (clipped
 * to ‖Δ‖ ≤ clipNorm, see protocol/learning/bounds.ts) and the federated evaluation of global
 * model r on the node's held-out rows. The reduce divides (FedAvg weighting), applies the
 * server optimiser (FedAvg / FedAdam / FedYogi), records the evaluation of model r, decides
 * whether to stop, and publishes model r+1 (its hash goes into the transparency log).
 * Once the stopping rule fires, one evaluation-only round evaluates the final model (below).
 */
import { fieldByName } from "../field/index.ts";
import { finishEval, finishWeightedMean } from "../learning/aggregate.ts";
import { dequantize, MAX_ROW_LOSS, planEvalEncoding, type UpdateEncodingPlan } from "../learning/bounds.ts";
import { learningAccountant, learningNoisePlan, noiseFitIssues, privacyStatement, type LearningNoisePlan, type LearningPrivacyStatement } from "../learning/dp.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { decodeGlobalModel, decodeServerMoments, encodeGlobalModel, encodeServerMoments } from "../learning/codec.ts";
import { totalSize } from "../learning/flatten.ts";
import { LearningJob, planForJob } from "../learning/job.ts";
import { serverInit, serverStep, type ServerState } from "../learning/server.ts";
import { weightShapes, type ModelSpec } from "../learning/spec.ts";
import { shouldStop, type RoundMetrics } from "../learning/stopping.ts";
import type { Standardization } from "../learning/features.ts";
import { z } from "zod";
import { toHex } from "../encoding.ts";
import { seededRng } from "../rng.ts";
import type { Predicate } from "../mascot/party.ts";
import { noisePredicate, type NoiseConfig } from "../mascot/noise.ts";
import type { LogEntry } from "../log/index.ts";
import { checkModelParameters, checkSpecLimits } from "./limits.ts";
import { summedParties, type JobTypeDef, type RoundContext, type RoundPlan, type StoredModel } from "./types.ts";

/** Entries appended after the update: Σloss, Σcorrect, count (fixed point, evalPlan). */
export const EVAL_ENTRIES = 3;

/** Fractional bits of a private job's evaluation sums (non-private: planEvalEncoding's default 16). */
export const DP_EVAL_FRAC_BITS = 4;

export interface LearningLayout {
  plan: UpdateEncodingPlan;
  evalPlan: ReturnType<typeof planEvalEncoding>;
  /** Total secure-sum length: plan.length + EVAL_ENTRIES. */
  length: number;
  /** Offset of the evaluation entries. */
  evalOffset: number;
  /** A private job's noise (protocol/learning/dp.ts); absent for a non-private job. */
  privacy?: LearningNoisePlan;
}

/** A learning job's task: the LearningJob plus the standardisation from a prior stats job. */
export interface LearningTask {
  job: LearningJob;
  /** Federated mean/std per input feature (from a statistics job), when the model standardises. */
  standardization: Standardization | null;
}

const StandardizationSchema = z.strictObject({ mean: z.array(z.number()), std: z.array(z.number().positive()) });

/**
 * Parses a learning job's task (`LearningJob` fields plus optional `standardization`).
 * Throws ZodError naming the offending path, or RangeError if standardisation is required
 * but missing or of the wrong length.
 */
export function parseLearningTask(task: Record<string, unknown>): LearningTask {
  const { standardization, ...rest } = task;
  const job = LearningJob.parse(rest);
  const st = standardization === undefined ? null : StandardizationSchema.parse(standardization);
  if (job.model.preprocessing?.standardize && !st) throw new RangeError("task.standardization is required when model.preprocessing.standardize is true (run a statistics job for the features' mean and std first)");
  if (st && (st.mean.length !== job.model.inputDim || st.std.length !== job.model.inputDim)) throw new RangeError(`task.standardization must have inputDim (${job.model.inputDim}) entries`);
  return { job, standardization: st };
}

/** The secure-sum layout of a job for a committee of `parties` over `fieldName`. Throws RangeError if no encoding fits. */
export function learningLayout(job: LearningJob, parties: number, fieldName: "m61" | "p128"): LearningLayout {
  const p = fieldByName(fieldName).p;
  // A private job's evaluation sums carry noise of σ ≫ 1 row, so 4 fractional bits of loss suffice (and keep the noise in the field).
  const evalPlan = planEvalEncoding({ p, parties, maxSamples: job.aggregation.maxSamplesPerNode, ...(job.privacy ? { fracBits: DP_EVAL_FRAC_BITS } : {}) });
  if (!job.privacy || !job.dp) {
    const plan = planForJob(job, parties, p);
    return { plan, evalPlan, length: plan.length + EVAL_ENTRIES, evalOffset: plan.length };
  }
  // A private job: the largest fracBits ≤ 16 whose encoding and noise both fit the field
  // (under DP the noise, σ ≈ 2C/√(2ρ) per entry, dominates the 2^-f rounding).
  const { privacy, dp } = job;
  const candidates = job.aggregation.fracBits !== undefined ? [job.aggregation.fracBits] : Array.from({ length: 13 }, (_, i) => 16 - i);
  let last = "";
  for (const f of candidates) {
    let plan: UpdateEncodingPlan;
    try { plan = planForJob(job, parties, p, f); } catch (e) { last = (e as Error).message; continue; }
    const noise = learningNoisePlan({ privacy, dp, stoppingMaxRounds: job.stopping.maxRounds, updateLength: plan.length, fracBits: f, evalFracBits: evalPlan.fracBits });
    const entry = plan.normCheck === "pine" ? BigInt(Math.ceil(Math.sqrt(Number(plan.l2Bound)))) + 1n : BigInt(plan.intBound);
    const issues = [
      ...noiseFitIssues(p, parties, plan.length + EVAL_ENTRIES, noise.training.normBound, entry > BigInt(evalPlan.intBound) ? entry : BigInt(evalPlan.intBound)),
      ...noiseFitIssues(p, parties, EVAL_ENTRIES, noise.evaluation.normBound, BigInt(evalPlan.intBound)),
    ];
    if (issues.length === 0) return { plan, evalPlan, length: plan.length + EVAL_ENTRIES, evalOffset: plan.length, privacy: noise };
    last = `fracBits ${f}: ${issues.join("; ")}`;
  }
  throw new RangeError(`learningLayout: no fracBits fits the private job and its noise in field ${fieldName} (${last}); lower aggregation.fracBits (the noise, not the rounding, dominates), use field p128, or raise the budget`);
}

/**
 * Validation predicates of a learning round (validated mode), derived identically by every
 * committee member from the job:
 *  - the d update entries n·Δ_i are signed: x + intBound ∈ [0, 2^rangeBits);
 *  - the sample count n (encoded n·2^f) is unsigned, so it is range-checked without an
 *    offset — 0 ≤ x < 2^countBits — and, by a second unsigned check of the shifted value
 *    x + (2^countBits − 1 − countMax) ∈ [0, 2^countBits), also x ≤ countMax = N·2^f (no
 *    wrap: x < 2^countBits from the first check). A signed check (x + B ≥ 0) would accept
 *    a negative count, which passes the L2 bound ((−n)² = n²) and scales the FedAvg mean
 *    Σ n_k·Δ_k / Σ n_k by hundreds or zeroes its denominator;
 *  - ‖[n·Δ ‖ n]‖² ≤ l2Bound;
 *  - the evaluation sums [Σloss, Σcorrect, count] are unsigned: [0, 2^rangeBits) with no offset.
 * With plan.normCheck "pine" (default above 256 entries, protocol/learning/bounds.ts) the
 * per-entry signed range check of the update entries is dropped: the L2 predicate uses
 * PINE's wraparound checks (method "pine"), which make it sound over the integers without
 * per-entry bits — each entry is then bounded by the norm, which is what FedAvg needs.
 */
export function learningPredicates(layout: LearningLayout): Predicate[] {
  const { plan, evalPlan } = layout;
  const c = plan.length - 1; // index of the count
  const countShift = (1n << BigInt(plan.countBits)) - 1n - BigInt(plan.countMax);
  const pine = plan.normCheck === "pine";
  return [
    ...(pine ? [] : [{ kind: "range", bits: plan.rangeBits, indices: [0, c], offset: BigInt(plan.intBound) } as Predicate]),
    { kind: "range", bits: plan.countBits, indices: [c, c + 1] },
    ...(countShift > 0n ? [{ kind: "range", bits: plan.countBits, indices: [c, c + 1], offset: countShift } as Predicate] : []),
    pine ? { kind: "l2-norm", bound: plan.l2Bound, indices: [0, plan.length], method: "pine" } : { kind: "l2-norm", bound: plan.l2Bound, indices: [0, plan.length] },
    { kind: "range", bits: evalPlan.rangeBits, indices: [layout.evalOffset, layout.length] },
  ];
}

/**
 * Initial global weights (round 0), deterministic in the spec's seed: Glorot-uniform kernels
 * (limit √(6/(fan_in+fan_out))), zero biases, in tfjs `getWeights()` order. Pure, so the
 * JobDO can create them without tfjs; every node and auditor can recompute them.
 */
export function initialGlobalWeights(spec: ModelSpec): Float64Array {
  const shapes = weightShapes(spec);
  const out = new Float64Array(totalSize(shapes));
  const rng = seededRng(`2pm/init/v1/${spec.seed}`);
  let off = 0;
  for (const shape of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (shape.length === 2) {
      const limit = Math.sqrt(6 / (shape[0]! + shape[1]!));
      const bytes = rng.bytes(4 * size);
      const dv = new DataView(bytes.buffer);
      for (let i = 0; i < size; i++) out[off + i] = (dv.getUint32(4 * i, true) / 2 ** 32) * 2 * limit - limit;
    }
    off += size;
  }
  return out;
}

export interface LearningState {
  /** Global model the next round trains from. */
  round: number;
  weights: Float64Array;
  server: ServerState;
  /** Federated evaluation of global model r, one entry per completed round. */
  history: Array<RoundMetrics & { samples: number; parties: number }>;
}

/** The job's first state and its round-0 model bytes. */
export function initLearning(job: LearningJob): { state: LearningState; model: Uint8Array } {
  const weights = initialGlobalWeights(job.model);
  return { state: { round: 0, weights, server: serverInit(job.model.strategy, weights.length), history: [] }, model: encodeGlobalModel(0, weights) };
}

export interface LearningResult {
  /**
   * Per evaluated model: model `round`'s federated evaluation; loss and accuracy null when no
   * node evaluated (JSON has no NaN). `samples` counts the rows trained on from that model (0
   * for the final model, which is only evaluated).
   */
  history: Array<{ round: number; loss: number | null; accuracy: number | null; samples: number; parties: number }>;
  /** Round whose global model is the job's answer (best monitored metric, or the last). */
  bestRound: number;
  /** Round of the newest global model stored. */
  latestModelRound: number;
  stopReason: "target" | "no-improvement" | "max-rounds" | null;
  /**
   * The final model's evaluation: "evaluating" once the stopping rule fired (the next round
   * only evaluates model `latestModelRound`), "evaluated" when that round is done,
   * "not-evaluated" if that round could not run (the job completes with its models anyway).
   * Absent while training goes on (and in results logged before this field existed).
   */
  final?: "evaluating" | "evaluated" | "not-evaluated";
  /**
   * A private job's privacy (protocol/learning/dp.ts): ρ per round, ρ and (ε, δ) spent by the
   * releases so far, per-node σ. Training rounds release no evaluation (loss and accuracy null);
   * the final model's metrics come from noisy sums, clamped.
   */
  privacy?: LearningPrivacyStatement;
}

/** Signed integers from a field-encoded aggregate (values above p/2 are negative). Throws RangeError past 2^53. */
function signedInts(fieldName: "m61" | "p128", bytes: Uint8Array): number[] {
  const field = fieldByName(fieldName);
  const half = field.p / 2n;
  return field.toBigInts(field.decode(bytes)).map((x) => {
    const v = x > half ? x - field.p : x;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError("aggregate entry exceeds 2^53");
    return Number(v);
  });
}

/**
 * Applies one accepted round. `parties` = inputs summed (committee minus excluded).
 * Returns the next state, the new model bytes (round r+1), the job's result so far and
 * whether to stop. Throws RangeError on an aggregate of the wrong length or with no samples.
 */
export function reduceLearning(job: LearningJob, state: LearningState, fieldName: "m61" | "p128", aggregate: Uint8Array, parties: number, committeeSize: number): { state: LearningState; model: Uint8Array; result: LearningResult; done: boolean } {
  const layout = learningLayout(job, committeeSize, fieldName);
  const ints = signedInts(fieldName, aggregate);
  if (ints.length !== layout.length) throw new RangeError(`aggregate has ${ints.length} entries, the job's layout ${layout.length}`);
  const f = layout.plan.fracBits;
  if (job.privacy && job.dp && layout.privacy) return reducePrivate(job, job.privacy, job.dp, layout.privacy, state, ints, f, parties);
  // [Σ n_k·Δ_k ‖ Σ n_k] were quantised together (protocol/learning/bounds.ts quantize).
  const { meanDelta, totalSamples } = finishWeightedMean(dequantize(ints.slice(0, layout.plan.length), f));
  const ev = dequantize(ints.slice(layout.evalOffset), layout.evalPlan.fracBits);
  const metrics = Math.round(ev[2]!) > 0 ? finishEval(ev) : { loss: Number.NaN, accuracy: Number.NaN, count: 0 };
  const step = serverStep(job.model.strategy, state.server, state.weights, meanDelta);
  const history = [...state.history, { round: state.round, loss: metrics.loss, accuracy: metrics.accuracy, samples: totalSamples, parties }];
  const decision = shouldStop(history.filter((h) => Number.isFinite(h.loss)), job.stopping);
  const next: LearningState = { round: state.round + 1, weights: step.weights, server: step.state, history };
  return trainingOutput(next, decision.stop, decision.stop ? decision.bestRound : state.round, decision.stop ? decision.reason : null);
}

/** A history entry as results report it: metrics that are not finite (not evaluated) as null. */
const reported = <H extends { loss: number; accuracy: number }>(h: H) => ({ ...h, loss: Number.isFinite(h.loss) ? h.loss : null, accuracy: Number.isFinite(h.accuracy) ? h.accuracy : null });

/** A training round's reduce output: the next state, its encoded model and the result. */
function trainingOutput(next: LearningState, done: boolean, bestRound: number, stopReason: LearningResult["stopReason"], privacy?: LearningPrivacyStatement): { state: LearningState; model: Uint8Array; result: LearningResult; done: boolean } {
  return {
    state: next,
    model: encodeGlobalModel(next.round, next.weights),
    done,
    result: { history: next.history.map(reported), bestRound, latestModelRound: next.round, stopReason, ...(privacy ? { privacy } : {}) },
  };
}

/**
 * DP-FedSGD reduce: the noisy Σ of clipped per-example gradients over the public parties·B
 * examples gives the mean gradient ĝ (no noisy count is used); Δ = −learningRate·ĝ goes to the
 * server optimiser. No evaluation is released in a training round. The accountant stops
 * training while one more training round and the final evaluation round would still fit the
 * budget no more: after releases − 1 training rounds.
 */
function reducePrivate(job: LearningJob, privacy: NonNullable<LearningJob["privacy"]>, dp: NonNullable<LearningJob["dp"]>, plan: LearningNoisePlan, state: LearningState, ints: number[], f: number, parties: number): { state: LearningState; model: Uint8Array; result: LearningResult; done: boolean } {
  if (!Number.isSafeInteger(parties) || parties < 1) throw new RangeError(`reduceLearning: parties must be a positive integer, got ${parties}`);
  const d = ints.length - EVAL_ENTRIES - 1;
  const sum = dequantize(ints.slice(0, d), f);
  const examples = parties * dp.batchSize;
  const lr = job.model.optimizer.learningRate;
  const meanDelta = new Float64Array(d);
  for (let i = 0; i < d; i++) meanDelta[i] = (-lr * sum[i]!) / examples;
  const step = serverStep(job.model.strategy, state.server, state.weights, meanDelta);
  const history = [...state.history, { round: state.round, loss: Number.NaN, accuracy: Number.NaN, samples: examples, parties }];
  const next: LearningState = { round: state.round + 1, weights: step.weights, server: step.state, history };
  const acct = learningAccountant(privacy, job.stopping.maxRounds);
  const done = next.round + 1 >= acct.releases;
  return trainingOutput(next, done, next.round, done ? "max-rounds" : null, privacyStatement(privacy, dp, job.stopping.maxRounds, plan, next.round, parties));
}

/**
 * Metrics from noisy evaluation sums [Σloss, Σcorrect, count] (post-processing only): the count
 * rounded and clamped at 0, Σcorrect clamped to [0, count], Σloss to [0, count·MAX_ROW_LOSS].
 * NaN metrics when the clamped count is 0.
 */
export function noisyEvalMetrics(ev: ArrayLike<number>): { loss: number; accuracy: number; count: number } {
  const count = Math.max(0, Math.round(ev[2]!));
  if (count === 0) return { loss: Number.NaN, accuracy: Number.NaN, count: 0 };
  const correct = Math.min(count, Math.max(0, ev[1]!));
  const loss = Math.min(count * MAX_ROW_LOSS, Math.max(0, ev[0]!));
  return finishEval([loss, correct, count]);
}

// ---------------------------------------------------------------- the final evaluation

/*
 * Evaluation runs inside each training round on the incoming model, so the model produced by
 * the last training round would never be evaluated. When the stopping rule fires, the job
 * therefore runs one more round in which nodes only evaluate that final model: they sum
 * [Σloss ‖ Σcorrect ‖ count] (no update, no new model), and the result gains its metrics.
 */

/** The secure-sum layout of an evaluation-only round: the three evaluation sums (and, for a private job, their noise). Throws RangeError as learningLayout. */
export function evaluationLayout(job: LearningJob, parties: number, fieldName: "m61" | "p128"): { evalPlan: LearningLayout["evalPlan"]; length: number; noise?: NoiseConfig } {
  // A private job: the noise of the final evaluation (its share of the budget, protocol/learning/dp.ts).
  if (job.privacy) {
    const l = learningLayout(job, parties, fieldName);
    return { evalPlan: l.evalPlan, length: EVAL_ENTRIES, noise: l.privacy!.evaluation.noise };
  }
  const p = fieldByName(fieldName).p;
  return { evalPlan: planEvalEncoding({ p, parties, maxSamples: job.aggregation.maxSamplesPerNode }), length: EVAL_ENTRIES };
}

/** Validation predicates of an evaluation-only round (validated mode): the sums are unsigned, [0, 2^rangeBits). */
export function evaluationPredicates(layout: ReturnType<typeof evaluationLayout>): Predicate[] {
  return [{ kind: "range", bits: layout.evalPlan.rangeBits, indices: [0, EVAL_ENTRIES] }];
}

/**
 * Whether `round` of a learning job only evaluates the final model, decided from the job's
 * log as every committee member sees it: the previous round's logged result says the stopping
 * rule fired (`final: "evaluating"`). A coordinator that claims it falsely can only make nodes
 * disclose less (three sums instead of an update) and end training early, which it could do
 * anyway by stopping the job. Pure.
 */
export function isFinalEvaluationRound(entries: readonly LogEntry[], round: number): boolean {
  if (round === 0) return false;
  for (const e of entries) {
    if (e.body.kind !== "result" || e.body.round !== round - 1) continue;
    const r = e.body.result as Partial<LearningResult> | undefined;
    if (r?.final === "evaluating" && r.latestModelRound === round) return true;
  }
  return false;
}

/**
 * Marks a training round's result as the last training round: the stopping rule fired, so the
 * next round evaluates model `result.latestModelRound` only. Pure.
 */
export function startFinalEvaluation(result: LearningResult): LearningResult {
  return { ...result, final: "evaluating" };
}

/** The privacy statement after the final evaluation round (one more release). */
function finalPrivacy(job: LearningJob, prior: LearningPrivacyStatement, committeeSize: number, fieldName: "m61" | "p128", parties: number): LearningPrivacyStatement {
  const plan = learningLayout(job, committeeSize, fieldName).privacy!;
  return privacyStatement(job.privacy!, job.dp!, job.stopping.maxRounds, plan, Math.min(prior.roundsReleased + 1, prior.releases), parties);
}

/**
 * Applies the evaluation-only round (only `state.round` and `state.history` are read; the
 * rest of `state` is returned as is): model `state.round`'s metrics join the history, and the
 * best model becomes the final one if it beats the stopping rule's choice on the monitored
 * metric (by more than `minDelta`). `prior` is the previous round's result. Throws RangeError
 * on an aggregate of the wrong length. Pure.
 */
export function reduceFinalEvaluation<S extends Pick<LearningState, "round" | "history">>(job: LearningJob, state: S, prior: LearningResult, fieldName: "m61" | "p128", aggregate: Uint8Array, parties: number, committeeSize: number): { state: S; result: LearningResult } {
  const layout = evaluationLayout(job, committeeSize, fieldName);
  const ints = signedInts(fieldName, aggregate);
  if (ints.length !== layout.length) throw new RangeError(`evaluation aggregate has ${ints.length} entries, expected ${layout.length}`);
  const ev = dequantize(ints, layout.evalPlan.fracBits);
  const m = job.privacy ? noisyEvalMetrics(ev) : Math.round(ev[2]!) > 0 ? finishEval(ev) : { loss: Number.NaN, accuracy: Number.NaN, count: 0 };
  const entry = { round: state.round, loss: m.loss, accuracy: m.accuracy, samples: 0, parties };
  const history = [...state.history, entry];
  const rule = job.stopping;
  const monitor = rule.monitor ?? rule.target?.metric ?? "loss";
  const best = prior.history.find((h) => h.round === prior.bestRound);
  const finalBetter = Number.isFinite(m.loss) && (!best || best.loss === null || best.accuracy === null
    || (monitor === "accuracy" ? m.accuracy > best.accuracy + rule.minDelta : m.loss < best.loss - rule.minDelta));
  return {
    state: { ...state, history },
    result: {
      ...prior,
      history: [...prior.history, reported(entry)],
      bestRound: finalBetter ? state.round : prior.bestRound,
      final: "evaluated",
      ...(prior.privacy ? { privacy: finalPrivacy(job, prior.privacy, committeeSize, fieldName, parties) } : {}),
    },
  };
}

// ---------------------------------------------------------------- the job type

/** A learning round's layout: a training round's update and evaluation plans, or the final evaluation-only round's. */
export type LearningRoundLayout =
  | { kind: "training"; layout: LearningLayout }
  | { kind: "evaluation"; layout: ReturnType<typeof evaluationLayout> };

/**
 * The round's secure sum as every member derives it from the job: in a training round the
 * update layout with the L2-norm, count and evaluation predicates in validated mode (a private
 * job: always, with its noise and the noise-norm predicate on [d, 2d)); in the evaluation-only
 * round the three evaluation sums with unsigned ranges (and their noise). Throws RangeError as
 * {@link learningLayout}.
 */
export function learningRoundPlan(job: LearningJob, ctx: RoundContext): RoundPlan<LearningRoundLayout> {
  const field = fieldByName(ctx.field);
  if (ctx.evaluationOnly) {
    const ev = evaluationLayout(job, ctx.parties, ctx.field);
    const predicates = ctx.mode === "validated" ? evaluationPredicates(ev) : [];
    const layout = { kind: "evaluation", layout: ev } as const;
    if (!ev.noise) return { length: ev.length, predicates, layout };
    return { length: ev.length, predicates: [...predicates, noisePredicate(field, ev.noise, ev.length)], noise: ev.noise, layout };
  }
  const l = learningLayout(job, ctx.parties, ctx.field);
  const layout = { kind: "training", layout: l } as const;
  if (job.dp && l.privacy) {
    const noise = l.privacy.training.noise;
    return { length: l.length, predicates: [...learningPredicates(l), noisePredicate(field, noise, l.length)], noise, layout };
  }
  return { length: l.length, predicates: ctx.mode === "validated" ? learningPredicates(l) : [], layout };
}

/** Every column a learning task reads: its preprocessing's numeric, categorical and label columns, sorted; ["*"] without preprocessing (features from the whole schema). */
export function learningColumns(task: LearningTask): string[] {
  const pre = task.job.model.preprocessing;
  if (!pre) return ["*"];
  return [...new Set([...pre.numeric, ...pre.categorical.map((c) => c.column), ...(pre.label ? [pre.label.column] : [])])].sort();
}

/**
 * The coordinator's state of a learning job between rounds: small and weight-free. The global
 * model the next round starts from is stored by round (its hash logged and kept here); an
 * adaptive server optimiser's moments are stored beside it (`carryHash`).
 */
export interface LearningJobState {
  /** The round whose global model the next round trains from. */
  round: number;
  /** Hex SHA-256 of model `round`'s bytes. */
  modelHash: string;
  /** The server optimiser without its moments. */
  server: Pick<ServerState, "kind" | "round">;
  /** Hex SHA-256 of the stored moments of model `round` (FedAdam / FedYogi after round 0), else null. */
  carryHash: string | null;
  history: LearningState["history"];
  /** The last training round's result while the final model is being evaluated. */
  finalEvaluation?: LearningResult;
  /** Every node excluded by validation in any round so far (the result lists them all). */
  excludedNodes?: string[];
}

const hexHash = (b: Uint8Array): string => toHex(sha256(b));

/**
 * The full protocol state of the round a reduce applies, from the lean state and the stored
 * model. A state stored before weights moved out of it (it holds `weights` and `server`
 * itself) is used as it is; the reduce then stores the lean one. Throws RangeError on a missing
 * or altered model or moments.
 */
function loadLearningState(job: LearningJob, st: LearningJobState, stored: StoredModel | null): LearningState {
  const legacy = st as unknown as Partial<LearningState>;
  if (legacy.weights instanceof Float64Array && legacy.server) return { round: st.round, weights: legacy.weights, server: legacy.server, history: st.history };
  if (!stored) throw new RangeError(`the global model of round ${st.round} is missing from storage`);
  if (hexHash(stored.bytes) !== st.modelHash) throw new RangeError(`the stored global model of round ${st.round} does not match its logged hash`);
  const { round, weights } = decodeGlobalModel(stored.bytes);
  if (round !== st.round) throw new RangeError(`the stored global model is for round ${round}, expected ${st.round}`);
  const fresh = serverInit(job.model.strategy, weights.length);
  if (st.carryHash === null) return { round, weights, server: { ...fresh, round: st.server.round }, history: st.history };
  if (!stored.carry || hexHash(stored.carry) !== st.carryHash) throw new RangeError(`the server optimiser's moments of round ${st.round} are missing or do not match their hash`);
  const { m, v } = decodeServerMoments(stored.carry);
  if (m.length !== weights.length) throw new RangeError(`the server optimiser's moments have ${m.length} entries, the model ${weights.length}`);
  return { round, weights, server: { kind: st.server.kind, round: st.server.round, m, v }, history: st.history };
}

/** The learning job type: FedAvg-family rounds, then one evaluation-only round of the final model. */
export const learningJobType: JobTypeDef<LearningTask, LearningRoundLayout> = {
  type: "learning",
  parseTask: parseLearningTask,
  validate(spec) {
    checkSpecLimits(spec, spec.maxRounds + 1);
    const task = parseLearningTask(spec.task);
    const { job } = task;
    if (job.stopping.maxRounds > spec.maxRounds) throw new RangeError(`task.stopping.maxRounds (${job.stopping.maxRounds}) exceeds the job's maxRounds (${spec.maxRounds})`);
    if (job.aggregation.mode !== spec.mode) throw new RangeError(`task.aggregation.mode (${job.aggregation.mode}) differs from the job's mode (${spec.mode})`);
    // Before any layout or weights: a training round sums the update, the count and the evaluation sums.
    checkModelParameters(totalSize(weightShapes(job.model)), spec.field, 1 + EVAL_ENTRIES);
    learningLayout(job, spec.committee.size, spec.field);
    return task;
  },
  columns: learningColumns,
  roundPlan: (task, ctx) => learningRoundPlan(task.job, ctx),
  init(spec) {
    const { job } = parseLearningTask(spec.task);
    const { state, model } = initLearning(job);
    const lean: LearningJobState = { round: 0, modelHash: hexHash(model), server: { kind: state.server.kind, round: 0 }, carryHash: null, history: [] };
    return { state: lean, model };
  },
  // One evaluation-only round after the last training round.
  roundLimit: (spec) => spec.maxRounds + 1,
  // Training is over once the final evaluation is pending: without it the job still has its models.
  abandonRound: (_spec, state) => {
    const prior = (state as LearningJobState | null)?.finalEvaluation;
    return prior ? { result: { ...prior, final: "not-evaluated" } satisfies LearningResult } : null;
  },
  reduce(spec, state, agg, stored) {
    const { job } = parseLearningTask(spec.task);
    const st = state as LearningJobState;
    const excludedNodes = [...new Set([...(st.excludedNodes ?? []), ...agg.excluded.map((i) => agg.committee[i]!)])];
    if (st.finalEvaluation) {
      const { finalEvaluation: prior, excludedNodes: _seen, ...rest } = st;
      const out = reduceFinalEvaluation(job, rest, prior, spec.field, agg.bytes, summedParties(agg), agg.committee.length);
      return { state: out.state, done: true, result: { ...out.result, excludedNodes } };
    }
    const out = reduceLearning(job, loadLearningState(job, st, stored), spec.field, agg.bytes, summedParties(agg), agg.committee.length);
    const { m, v } = out.state.server;
    const carry = m && v ? encodeServerMoments(out.state.round, m, v) : undefined;
    // The stopping rule fired: the job's last round evaluates the model this round produced.
    const result = out.done ? startFinalEvaluation(out.result) : out.result;
    const next: LearningJobState = {
      round: out.state.round, modelHash: hexHash(out.model), server: { kind: out.state.server.kind, round: out.state.server.round },
      carryHash: carry ? hexHash(carry) : null, history: out.state.history, excludedNodes, ...(out.done ? { finalEvaluation: result } : {}),
    };
    return { state: next, done: false, result: { ...result, excludedNodes }, model: out.model, ...(carry ? { carry } : {}) };
  },
};
