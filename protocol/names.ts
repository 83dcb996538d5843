/**
 * Deterministic Durable Object names: one function per object kind, pinned by
 * test/unit/crypto/names.test.ts. Never build these strings anywhere else.
 */

function checkJobId(jobId: string): void {
  if (typeof jobId !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(jobId)) throw new TypeError(`jobId must match [A-Za-z0-9_-]{1,64}, got ${JSON.stringify(jobId)}`);
}

function checkIndex(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
}

/** `job/<jobId>`: the JobDO of one job. */
export function jobObjectName(jobId: string): string {
  checkJobId(jobId);
  return `job/${jobId}`;
}

/** `round/<jobId>/<round>/<attempt>`: the RoundDO of one attempt of one round. */
export function roundObjectName(jobId: string, round: number, attempt: number): string {
  checkJobId(jobId);
  checkIndex("round", round);
  checkIndex("attempt", attempt);
  return `round/${jobId}/${round}/${attempt}`;
}
