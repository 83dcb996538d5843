/**
 * The coordinator side of each job type, keyed by `JobSpec.type`: submit-time validation of
 * the task, the initial reduce state (and round-0 global model, for learning), and the reduce
 * applied to each accepted aggregate. Pure: a reduce is deterministic in its inputs (it may be
 * re-run after a crash before its output was stored) and does no I/O.
 */
import type { JobSpec, JobType } from "../../protocol/api/schemas.ts";
import { reduceStats, validateStatsTask } from "../../protocol/jobs/stats.ts";
import {
  initLearning, learningLayout, parseLearningTask, reduceFinalEvaluation, reduceLearning, startFinalEvaluation, type LearningResult, type LearningState,
} from "../../protocol/jobs/learning.ts";

/** The accepted output of one round. */
export interface RoundAggregate {
  round: number;
  attempt: number;
  /** The opened aggregate bytes, identical at every committee member. */
  bytes: Uint8Array;
  /** Hex SHA-256 of `bytes`. */
  hash: string;
  transcriptHash: string;
  /** Committee indices whose input failed validation and was excluded. */
  excluded: number[];
  /** Committee node ids, in party order. */
  committee: string[];
}

export interface ReduceOutput {
  /** Reducer state carried to the next round (structured-cloneable). */
  state: unknown;
  /** True when the job is finished (else the JobDO starts another round, up to the engine's roundLimit). */
  done: boolean;
  /** The job's current result (JSON-serialisable), shown by GET /v1/jobs/:id/result. */
  result: unknown;
  /** Optional new global model for the next round; stored in R2 and its hash logged. */
  model?: Uint8Array;
}

/** One job type on the coordinator side. */
export interface JobEngine {
  /** Throws (TypeError / RangeError / ZodError) with a message naming the problem; the route answers 400 invalid-task. */
  validate(spec: JobSpec): void;
  init(spec: JobSpec): { state: unknown; model?: Uint8Array };
  /** The most rounds the job may run (the machine completes it after that many accepted rounds): `spec.maxRounds` unless the type adds rounds of its own. */
  roundLimit(spec: JobSpec): number;
  /**
   * Called when the current round cannot run (no committee, retry budget exhausted, output
   * released). Returns the result to complete the job with when that round is optional, or
   * null to fail the job (the default).
   */
  abandonRound?(spec: JobSpec, state: unknown): { result: unknown } | null;
  reduce(spec: JobSpec, state: unknown, aggregate: RoundAggregate): ReduceOutput;
}

/** Parties whose inputs were summed: the committee minus those excluded by validation. */
function summed(agg: RoundAggregate): number {
  return agg.committee.length - agg.excluded.length;
}

const statsEngine: JobEngine = {
  roundLimit: (spec) => spec.maxRounds,
  validate: (spec) => void validateStatsTask(spec.task, spec.field, spec.committee.size, spec.schemaId, spec.mode),
  init: () => ({ state: null }),
  reduce: (spec, _state, agg) => {
    const task = validateStatsTask(spec.task, spec.field, agg.committee.length, spec.schemaId);
    const stats = reduceStats(task, spec.field, agg.bytes, summed(agg));
    return {
      state: null,
      done: true,
      result: { round: agg.round, stats, excludedNodes: agg.excluded.map((i) => agg.committee[i]!), aggregateHash: agg.hash },
    };
  },
};

/** The learning engine's state: the protocol's LearningState, plus the last result while the final model is being evaluated. */
/** `excludedNodes`: every node excluded by validation in any round so far (the result lists them all). */
type LearningEngineState = LearningState & { finalEvaluation?: LearningResult; excludedNodes?: string[] };

const learningEngine: JobEngine = {
  // One evaluation-only round after the last training round (protocol/jobs/learning.ts).
  roundLimit: (spec) => spec.maxRounds + 1,
  // Training is over once the final evaluation is pending: without it the job still has its models.
  abandonRound: (_spec, state) => {
    const prior = (state as LearningEngineState | null)?.finalEvaluation;
    return prior ? { result: { ...prior, final: "not-evaluated" } satisfies LearningResult } : null;
  },
  validate: (spec) => {
    const { job } = parseLearningTask(spec.task);
    if (job.stopping.maxRounds > spec.maxRounds) throw new RangeError(`task.stopping.maxRounds (${job.stopping.maxRounds}) exceeds the job's maxRounds (${spec.maxRounds})`);
    if (job.aggregation.mode !== spec.mode) throw new RangeError(`task.aggregation.mode (${job.aggregation.mode}) differs from the job's mode (${spec.mode})`);
    learningLayout(job, spec.committee.size, spec.field);
  },
  init: (spec) => {
    const { state, model } = initLearning(parseLearningTask(spec.task).job);
    return { state, model };
  },
  reduce: (spec, state, agg) => {
    const { job } = parseLearningTask(spec.task);
    const st = state as LearningEngineState;
    const excludedNodes = [...new Set([...(st.excludedNodes ?? []), ...agg.excluded.map((i) => agg.committee[i]!)])];
    if (st.finalEvaluation) {
      const { finalEvaluation: prior, excludedNodes: _seen, ...learning } = st;
      const out = reduceFinalEvaluation(job, learning, prior, spec.field, agg.bytes, summed(agg), agg.committee.length);
      return { state: out.state, done: true, result: { ...out.result, excludedNodes } };
    }
    const { excludedNodes: _seen, ...learning } = st;
    const out = reduceLearning(job, learning, spec.field, agg.bytes, summed(agg), agg.committee.length);
    // The stopping rule fired: the job's last round evaluates the model this round produced.
    const result = out.done ? startFinalEvaluation(out.result) : out.result;
    const next: LearningEngineState = { ...out.state, excludedNodes, ...(out.done ? { finalEvaluation: result } : {}) };
    return { state: next, done: false, result: { ...result, excludedNodes }, model: out.model };
  },
};

/** The registry of job types. */
export const engines: Record<JobType, JobEngine> = {
  stats: statsEngine,
  learning: learningEngine,
};

