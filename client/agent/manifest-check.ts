/**
 * Before a node computes anything for a round it checks the round manifest against the
 * job's transparency log: the log's hash chain and coordinator signatures verify under the
 * coordinator key the node pinned, the entry the assignment names publishes exactly this
 * manifest, the node sits at the index it was told, and the session id is the one derived
 * from (job, round, attempt). A coordinator that shows different manifests to different
 * nodes would have to sign two logs, which `2pm job verify` exposes.
 */
import { deriveSessionId, type Assignment } from "../../protocol/api/schemas.ts";
import { fromBase64Url, bytesEqual, toBase64Url } from "../../protocol/encoding.ts";
import { objectHash, verifyLog, type LogEntry } from "../../protocol/log/index.ts";

export class ManifestRejected extends Error {
  constructor(detail: string) {
    super(`round manifest rejected: ${detail}`);
    this.name = "ManifestRejected";
  }
}

/**
 * Throws ManifestRejected naming the first failed check; returns nothing on success.
 * `verified` = how many leading entries of `log` the caller already verified under the same
 * key (a {@link VerifiedLogs} mirror); only the rest is re-checked, chained onto them.
 */
export function checkAssignment(a: Assignment, log: readonly LogEntry[], coordinatorKey: Uint8Array, myNodeId: string, myIdentityKey: Uint8Array, myKxKey?: Uint8Array, verified = 0): void {
  const problems = verified > 0 ? verifyLog(log.slice(verified), coordinatorKey, log[verified - 1]!) : verifyLog(log, coordinatorKey);
  if (problems.length) throw new ManifestRejected(`transparency log does not verify: ${problems[0]}`);
  const entry = log.find((e) => e.hash === a.logEntryHash);
  if (!entry) throw new ManifestRejected("the log has no entry with the announced hash");
  if (entry.body.kind !== "manifest") throw new ManifestRejected(`log entry is a ${entry.body.kind}, not a manifest`);
  if (entry.body.round !== a.round || entry.body.attempt !== a.attempt) throw new ManifestRejected("log entry is for another round");
  if (entry.body.manifestHash !== objectHash(a.manifest) || objectHash(entry.body.manifest) !== objectHash(a.manifest)) {
    throw new ManifestRejected("manifest differs from the one in the log");
  }
  const m = a.manifest;
  if (m.jobId !== a.jobId || m.round !== a.round || m.attempt !== a.attempt) throw new ManifestRejected("manifest names another round");
  const me = m.committee[a.index];
  if (!me || me.nodeId !== myNodeId || !bytesEqual(fromBase64Url(me.identityKey), myIdentityKey)) throw new ManifestRejected("this node is not at its announced committee index");
  // Our own key-agreement key as the peers will use it: a substituted one would let the relay read our messages.
  if (myKxKey && !bytesEqual(fromBase64Url(me.kxKey), myKxKey)) throw new ManifestRejected("the manifest carries another key-agreement key for this node");
  if (m.committee.some((c, i) => c.index !== i)) throw new ManifestRejected("committee indices are not 0..n-1 in order");
  if (new Set(m.committee.map((c) => c.nodeId)).size !== m.committee.length) throw new ManifestRejected("duplicate party in the committee");
  if (m.sessionId !== toBase64Url(deriveSessionId(m.jobId, m.round, m.attempt))) throw new ManifestRejected("session id is not bound to this round");
}

/**
 * A node's copies of the logs of the jobs it serves, each verified up to its end: a round
 * fetches and checks only the entries appended since the node's last look (the whole log
 * stays in memory for the policy and task checks). A fetched suffix that does not chain onto
 * the verified prefix (a coordinator that rewrote or forked the log) is rejected by
 * {@link checkAssignment}, and the mirror keeps only what verified. Keeps the `maxJobs` most
 * recently used jobs.
 */
export class VerifiedLogs {
  private readonly logs = new Map<string, LogEntry[]>();
  constructor(private readonly maxJobs = 32) {}

  /** The verified prefix of `jobId`'s log (empty if none). */
  verified(jobId: string): readonly LogEntry[] {
    return this.logs.get(jobId) ?? [];
  }

  /** Records `log` (whose first `verified(jobId).length` entries are the verified prefix) as verified. */
  remember(jobId: string, log: LogEntry[]): void {
    this.logs.delete(jobId);
    this.logs.set(jobId, log);
    while (this.logs.size > this.maxJobs) this.logs.delete(this.logs.keys().next().value!);
  }
}
