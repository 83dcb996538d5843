/**
 * The job-type contract (issue 14: one `JobType` per job kind, used by every room). A job type
 * says how its task is parsed (once, by one parser), checked at submission, which columns it
 * reads, what a round's members sum and validate (layout, predicates, noise), and how the
 * coordinator folds each accepted aggregate into the job's result. The registry of the
 * definitions is ./registry.ts; the coordinator's job machine, the Worker's routes, the node's
 * tasks (client/agent/tasks) and the CLI look a type up there by `spec.type`.
 *
 * Everything here is pure: the coordinator may re-run a reduce after a crash before its output
 * was stored, so a reduce is deterministic in its inputs and does no I/O. Model weights never
 * travel through the reduce state: it holds their hashes; the bytes are stored by round (R2 on
 * Workers) and handed to the reduce as {@link StoredModel}.
 */
import type { JobSpec, JobType } from "../api/schemas.ts";
import type { NoiseConfig } from "../mascot/noise.ts";
import type { Predicate } from "../mascot/party.ts";

export type FieldName = JobSpec["field"];
export type AggregationMode = JobSpec["mode"];

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

/** Parties whose inputs were summed: the committee minus those excluded by validation. */
export function summedParties(agg: RoundAggregate): number {
  return agg.committee.length - agg.excluded.length;
}

/**
 * The global model a round started from, as stored beside the log: its bytes (whose SHA-256 is
 * the logged model hash) and the job type's private carried state for that round (e.g. the
 * server optimiser's moments), or null when the type keeps none.
 */
export interface StoredModel {
  bytes: Uint8Array;
  carry: Uint8Array | null;
}

export interface ReduceOutput {
  /** Reducer state carried to the next round (structured-cloneable, small: hashes, never weights). */
  state: unknown;
  /** True when the job is finished (else the coordinator starts another round, up to `roundLimit`). */
  done: boolean;
  /** The job's current result (JSON-serialisable, no weights), shown by GET /v1/jobs/:id/result. */
  result: unknown;
  /** New global model for the next round: stored by round, its hash logged. */
  model?: Uint8Array;
  /** Private state stored beside `model` (never served), handed back to the next reduce. Only with `model`. */
  carry?: Uint8Array;
}

/** What every member of a round derives the same way before it computes its input. */
export interface RoundContext {
  field: FieldName;
  mode: AggregationMode;
  /** Committee size. */
  parties: number;
  /** The round only evaluates the final model (learning; decided from the log, protocol/jobs/learning.ts). */
  evaluationOnly: boolean;
}

/** A round's secure sum as every member derives it from the task. */
export interface RoundPlan<Layout = unknown> {
  /** Entries of the summed vector. */
  length: number;
  /** Validation predicates (empty outside validated mode), the noise-norm predicate included for a private round. */
  predicates: Predicate[];
  /** A private round's noise, which the MASCOT party must add (SecureSumConfig.noise). */
  noise?: NoiseConfig;
  /** The type's own layout (fixed-point plans), for encoding the input. */
  layout: Layout;
}

/**
 * One job type. Methods (not function-valued properties) so a definition over its own task
 * type is usable where the registry's erased `JobTypeDef` is expected.
 */
export interface JobTypeDef<Task = unknown, Layout = unknown> {
  readonly type: JobType;
  /** Parses `spec.task`: the one parser of this type's task. Throws ZodError / TypeError / RangeError naming the problem. */
  parseTask(task: Record<string, unknown>): Task;
  /**
   * Submission checks of the whole spec: the task parses, fits the committee, mode, rounds and
   * field, and stays within what the coordinator can serve (protocol/jobs/limits.ts). Cheap:
   * nothing of the model is built. Throws SpecLimitError (a limit: HTTP 413 `spec-too-large`)
   * or another Error naming the problem (HTTP 400 `invalid-task`).
   */
  validate(spec: JobSpec): Task;
  /** Every column the task reads, sorted; ["*"] when it reads the whole row (node policy targets). */
  columns(task: Task): string[];
  /** The round's secure sum: length, predicates, noise, layout. Throws RangeError when no encoding fits. */
  roundPlan(task: Task, ctx: RoundContext): RoundPlan<Layout>;
  /** The job's first reduce state and, if the type has one, its round-0 model. */
  init(spec: JobSpec): { state: unknown; model?: Uint8Array };
  /** The most rounds the job may run: `spec.maxRounds` unless the type adds rounds of its own. */
  roundLimit(spec: JobSpec): number;
  /**
   * Called when the current round cannot run (no committee, retry budget exhausted, output
   * released). Returns the result to complete the job with when that round is optional, or
   * null to fail the job.
   */
  abandonRound(spec: JobSpec, state: unknown): { result: unknown } | null;
  /**
   * Folds one accepted aggregate into the job. `model` is the stored global model the round
   * started from (null when the job has none). Throws (the job then fails `reduce-failed`) on
   * an aggregate of the wrong shape, or a missing or altered model.
   */
  reduce(spec: JobSpec, state: unknown, aggregate: RoundAggregate, model: StoredModel | null): ReduceOutput;
}
