/**
 * Reduce hooks, keyed by job type. When a round's aggregate is accepted, the JobDO calls
 * `reducers[spec.type](spec, state, aggregate, ctx)` and stores what it returns. The stats and
 * learning engines replace the default entries with their own (statistics finalisation,
 * FedAvg / server optimiser). A reducer must be deterministic in its inputs (it may be
 * re-run after a crash before its output was stored) and must not do I/O.
 */
import type { JobSpec, JobType } from "../protocol/api/schemas.ts";
import { toBase64Url } from "../protocol/encoding.ts";

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
  /** Reducer state carried to the next round (JSON-serialisable). */
  state: unknown;
  /** True when the job is finished (else the JobDO starts another round, up to maxRounds). */
  done: boolean;
  /** The job's current result (JSON-serialisable), shown by GET /v1/jobs/:id/result. */
  result: unknown;
  /** Optional new global model for the next round; stored in R2 and its hash logged. */
  model?: Uint8Array;
}

export type Reducer = (spec: JobSpec, state: unknown, aggregate: RoundAggregate) => ReduceOutput | Promise<ReduceOutput>;

/** Default: keep the latest aggregate as the result; done after maxRounds. */
export const defaultReducer: Reducer = (spec, _state, agg) => ({
  state: { rounds: agg.round + 1 },
  done: agg.round + 1 >= spec.maxRounds,
  result: { round: agg.round, aggregate: toBase64Url(agg.bytes), aggregateHash: agg.hash, excluded: agg.excluded },
});

/** The registry. The stats and learning engines replace their entry here with an import of their reducer. */
export const reducers: Record<JobType, Reducer> = {
  stats: defaultReducer,
  learning: defaultReducer,
};
