/**
 * The coordinator side of each job type, keyed by `JobSpec.type`: submit-time validation of
 * the task, the initial reduce state (and round-0 global model, for learning), and the reduce
 * applied to each accepted aggregate. Pure: a reduce is deterministic in its inputs (it may be
 * re-run after a crash before its output was stored) and does no I/O.
 */
import type { JobSpec, JobType } from "../../protocol/api/schemas.ts";
import { reduceStats, validateStatsTask } from "../../protocol/jobs/stats.ts";
import { initLearning, learningLayout, parseLearningTask, reduceLearning, type LearningState } from "../../protocol/jobs/learning.ts";

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
  /** True when the job is finished (else the JobDO starts another round, up to maxRounds). */
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
  reduce(spec: JobSpec, state: unknown, aggregate: RoundAggregate): ReduceOutput;
}

/** Parties whose inputs were summed: the committee minus those excluded by validation. */
function summed(agg: RoundAggregate): number {
  return agg.committee.length - agg.excluded.length;
}

const statsEngine: JobEngine = {
  validate: (spec) => void validateStatsTask(spec.task, spec.field, spec.committee.size, spec.schemaId),
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

const learningEngine: JobEngine = {
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
    const out = reduceLearning(job, state as LearningState, spec.field, agg.bytes, summed(agg), agg.committee.length);
    return { state: out.state, done: out.done, result: { ...out.result, excludedNodes: agg.excluded.map((i) => agg.committee[i]!) }, model: out.model };
  },
};

/** The registry of job types. */
export const engines: Record<JobType, JobEngine> = {
  stats: statsEngine,
  learning: learningEngine,
};

