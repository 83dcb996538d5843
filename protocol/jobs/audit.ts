/**
 * Whole-job audit of a transparency log, beyond the chain and signatures that
 * protocol/log's verifyLog checks: the log opens with the job's spec (hash matching), every
 * manifest is bound to its round (session id derived from job/round/attempt, committee in
 * index order without duplicates), every result and abort answers a published manifest,
 * MAC-check transcript and aggregate hashes are well-formed, at most one result per round,
 * each round's manifest starts from the model logged for that round, and no round is rerun
 * after an attempt that released its output. Pure; runs
 * offline (`2pm job verify`).
 */
import { deriveSessionId } from "../api/schemas.ts";
import { toBase64Url } from "../encoding.ts";
import { objectHash, verifyLog, type LogEntry } from "../log/index.ts";

/** Round and attempt as people read them: counted from 1 ("3.1" is round 3, first attempt). */
const shown = (b: { round: number; attempt: number }): string => `${b.round + 1}.${b.attempt + 1}`;

export interface AuditReport {
  problems: string[];
  summary: string[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const B64_32 = /^[A-Za-z0-9_-]{43}$/;

interface ManifestLike {
  jobId?: string; round?: number; attempt?: number; sessionId?: string; modelHash?: string | null;
  committee?: Array<{ index: number; nodeId: string }>;
}

/** Returns every problem found (empty = the job's log is sound) and a human summary. Never throws. */
export function verifyJobLog(entries: readonly LogEntry[], coordinatorPublicKey: Uint8Array): AuditReport {
  const problems = verifyLog(entries, coordinatorPublicKey);
  const summary: string[] = [];
  if (entries.length === 0) return { problems: [...problems, "log is empty"], summary };
  const first = entries[0]!.body;
  let jobId: string | undefined;
  if (first.kind !== "job") problems.push("entry 0 is not the job's spec");
  else {
    jobId = first.jobId;
    if (objectHash(first.spec) !== first.specHash) problems.push("entry 0: specHash does not match the spec");
  }
  const manifests = new Map<string, ManifestLike>();
  const accepted = new Map<number, string>();
  const models = new Map<number, string>();
  const aborts: string[] = [];
  /** Rounds with an aborted attempt that had released its output: never rerun (DESIGN §1). */
  const released = new Set<number>();
  entries.forEach((e, i) => {
    const b = e.body;
    try {
      switch (b.kind) {
        case "manifest": {
          const m = b.manifest as ManifestLike;
          const key = `${b.round}.${b.attempt}`;
          if (manifests.has(key)) problems.push(`entry ${i}: second manifest for round ${shown(b)}`);
          if (released.has(b.round)) problems.push(`entry ${i}: round ${b.round + 1} rerun after an attempt had released its output`);
          manifests.set(key, m);
          if (m.round !== b.round || m.attempt !== b.attempt || (jobId && m.jobId !== jobId)) problems.push(`entry ${i}: manifest names another job or round`);
          if (jobId && m.sessionId !== toBase64Url(deriveSessionId(jobId, b.round, b.attempt))) problems.push(`entry ${i}: session id not bound to round ${shown(b)}`);
          const c = m.committee ?? [];
          if (c.some((x, k) => x.index !== k) || new Set(c.map((x) => x.nodeId)).size !== c.length) problems.push(`entry ${i}: committee not in index order or has a duplicate party`);
          // A learning round starts from the global model logged for it (by the previous round's reduce, or at creation).
          if (models.size > 0 && m.modelHash !== (models.get(b.round) ?? null)) problems.push(`entry ${i}: round ${b.round + 1} does not start from the model logged for it`);
          break;
        }
        case "result": {
          const key = `${b.round}.${b.attempt}`;
          if (!manifests.has(key)) problems.push(`entry ${i}: result for round ${shown(b)} without a manifest`);
          if (!HEX64.test(b.aggregateHash)) problems.push(`entry ${i}: malformed aggregate hash`);
          if (!B64_32.test(b.transcriptHash) && !HEX64.test(b.transcriptHash)) problems.push(`entry ${i}: malformed MAC-check transcript hash`);
          if (accepted.has(b.round)) problems.push(`entry ${i}: second accepted result for round ${b.round + 1} (counted twice)`);
          accepted.set(b.round, b.aggregateHash);
          const n = manifests.get(key)?.committee?.length ?? 0;
          if (b.excluded.some((x) => x < 0 || x >= n)) problems.push(`entry ${i}: excluded party outside the committee`);
          break;
        }
        case "abort": {
          const key = `${b.round}.${b.attempt}`;
          if (!manifests.has(key)) problems.push(`entry ${i}: abort for round ${shown(b)} without a manifest`);
          if (b.released) released.add(b.round);
          aborts.push(`${shown(b)} ${b.code}${b.culprits.length ? ` (${b.culprits.map((c) => c.slice(0, 8)).join(", ")})` : ""}`);
          break;
        }
        case "model":
          if (!HEX64.test(b.modelHash)) problems.push(`entry ${i}: malformed model hash`);
          models.set(b.round, b.modelHash);
          break;
        default:
          break;
      }
    } catch (err) {
      problems.push(`entry ${i}: malformed (${err instanceof Error ? err.message : String(err)})`);
    }
  });
  summary.push(`job ${jobId ?? "?"}: ${manifests.size} round attempt(s), ${accepted.size} accepted, ${aborts.length} aborted`);
  for (const a of aborts) summary.push(`  aborted ${a}`);
  if (models.size) summary.push(`  ${models.size} model hash(es) logged`);
  return { problems, summary };
}
