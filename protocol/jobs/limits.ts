/**
 * What one coordinator can serve, checked at submission (every job type's `validate`, the
 * Worker answers 413 `spec-too-large`) before anything is written: no Durable Object, no R2
 * object, no D1 row exists for a refused job. Each limit names what sets it.
 *
 *  - The opened aggregate of a round reaches the RoundDO in one `result` frame, at most
 *    2,000,000 base64url characters (protocol/api/frames.ts ClientFrame), i.e.
 *    {@link JOB_LIMITS.maxAggregateBytes} = 1,500,000 bytes, and is kept there in one SQLite
 *    row (≤ 2 MB). So a round sums at most 187,500 entries over m61 (8 bytes each) and 93,750
 *    over p128 (16 bytes). A learning round sums d + 4 entries for a model of d parameters
 *    (protocol/jobs/learning.ts: update, count, three evaluation sums): at most 187,496
 *    parameters over m61, 93,746 over p128 — above the 100k-parameter validated goal on m61.
 *    To go further the result must travel in chunks (then raise maxAggregateBytes).
 *  - {@link JOB_LIMITS.maxModelParameters} = 1,000,000 bounds a model whatever the transport:
 *    the JobDO's reduce holds ≈ 100 bytes per parameter at once (the weights, the decoded
 *    aggregate, the mean update, the new weights, an adaptive optimiser's two moment vectors
 *    and their successors), ≈ 100 MB at 1M under the isolate's 128 MB; every node downloads
 *    8 bytes per parameter per round.
 *  - {@link JOB_LIMITS.maxRounds} = 100: each round adds about four log entries and a result
 *    entry that repeats the history so far; a node reads one page of 1000 entries
 *    (GET /v1/jobs/:id/log) when it checks its assignment, which leaves room for retries.
 *  - {@link JOB_LIMITS.maxTaskBytes} = 32 KiB: the task is copied into every round manifest,
 *    logged with each attempt and written to each member's assignment row (D1); 64 members ×
 *    32 KiB stays within a 2 MB batch. (Job bodies are limited to 64 KiB as a whole.)
 *  - {@link JOB_LIMITS.maxCommittee} = 64: the schema's bound (MASCOT's pairwise OT setup is
 *    quadratic in the committee; the relay keeps one aggregate row per member).
 */
import type { JobSpec } from "../api/schemas.ts";
import { utf8 } from "../encoding.ts";
import { fieldByName } from "../field/index.ts";
import type { FieldName } from "./types.ts";

export const JOB_LIMITS = {
  maxModelParameters: 1_000_000,
  maxAggregateBytes: 1_500_000,
  maxRounds: 100,
  maxTaskBytes: 32 * 1024,
  maxCommittee: 64,
} as const;

/** A spec asks for more than the coordinator can serve. The Worker answers 413 `spec-too-large`; `limit` names which. */
export class SpecLimitError extends RangeError {
  readonly code = "spec-too-large";
  constructor(readonly limit: keyof typeof JOB_LIMITS, detail: string) {
    super(detail);
    this.name = "SpecLimitError";
  }
}

/** Most entries one round's opened aggregate may have over `field` (whole entries of maxAggregateBytes). */
export function maxAggregateEntries(field: FieldName): number {
  return Math.floor(JOB_LIMITS.maxAggregateBytes / fieldByName(field).byteLength);
}

/** Checks the limits every job type shares: committee, rounds (`roundLimit`: the rounds the type may run) and task size. Throws SpecLimitError. */
export function checkSpecLimits(spec: JobSpec, roundLimit: number): void {
  if (spec.committee.size > JOB_LIMITS.maxCommittee) throw new SpecLimitError("maxCommittee", `committee.size ${spec.committee.size} exceeds the coordinator's limit of ${JOB_LIMITS.maxCommittee}`);
  if (roundLimit > JOB_LIMITS.maxRounds) throw new SpecLimitError("maxRounds", `the job may run ${roundLimit} rounds; this coordinator serves at most ${JOB_LIMITS.maxRounds} (maxRounds ≤ ${JOB_LIMITS.maxRounds - (roundLimit - spec.maxRounds)})`);
  const bytes = utf8(JSON.stringify(spec.task)).length;
  if (bytes > JOB_LIMITS.maxTaskBytes) throw new SpecLimitError("maxTaskBytes", `task is ${bytes} bytes of JSON; this coordinator serves at most ${JOB_LIMITS.maxTaskBytes}`);
}

/** Checks that a round's aggregate of `entries` over `field` fits one result frame. `what` names the entries. Throws SpecLimitError. */
export function checkAggregateLength(entries: number, field: FieldName, what: string): void {
  const max = maxAggregateEntries(field);
  if (entries > max) {
    throw new SpecLimitError("maxAggregateBytes", `a round would sum ${entries} entries (${what}); over ${field} one round's result carries at most ${max} (${JOB_LIMITS.maxAggregateBytes} bytes)`);
  }
}

/** Checks a model's parameter count against maxModelParameters and what one round can carry (`overhead`: entries summed besides the parameters). Throws SpecLimitError. */
export function checkModelParameters(parameters: number, field: FieldName, overhead: number): void {
  if (parameters > JOB_LIMITS.maxModelParameters) {
    throw new SpecLimitError("maxModelParameters", `the model has ${parameters} parameters; this coordinator serves at most ${JOB_LIMITS.maxModelParameters}`);
  }
  const max = maxAggregateEntries(field) - overhead;
  if (parameters > max) {
    throw new SpecLimitError("maxAggregateBytes", `the model has ${parameters} parameters; over ${field} one round's result carries at most ${max} (${JOB_LIMITS.maxAggregateBytes} bytes of aggregate)`);
  }
}
