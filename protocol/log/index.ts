/**
 * A job's transparency log (DESIGN §7): append-only, hash-chained, every entry signed by the
 * coordinator. Pure: the JobDO appends, nodes and `2pm job verify` re-verify offline.
 *
 *   hash_i = SHA-256("2pm/log/v1" ‖ canonicalJson({seq, prevHash, timestamp, body}))
 *   prevHash_0 = 64 zeros, prevHash_i = hash_{i−1}
 *   signature_i = Ed25519(coordinatorKey, hash_i bytes)
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { canonicalJson, concatBytes, fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from "../encoding.ts";

import { sign, verify } from "../crypto/identity.ts";

export { canonicalJson };

export const GENESIS_HASH = "0".repeat(64);

export type LogBody =
  /** `submitter`: the submitter's Ed25519 key and signature over the spec (protocol/jobs/signed-spec.ts), null when unsigned. */
  | { kind: "job"; jobId: string; specHash: string; spec: unknown; submitter?: { key: string; signature: string } | null }
  | { kind: "manifest"; round: number; attempt: number; manifestHash: string; manifest: unknown }
  | { kind: "dataset-commitments"; round: number; attempt: number; commitments: Array<{ nodeId: string; schemaId: string; rows: number; commitment: string }> }
  | { kind: "model"; round: number; modelHash: string; bytes: number }
  | { kind: "result"; round: number; attempt: number; aggregateHash: string; transcriptHash: string; excluded: number[]; done: boolean; result?: unknown }
  /** `released`: the relay saw an output-opening message before the abort (the round is then never rerun). */
  | { kind: "abort"; round: number; attempt: number; code: string; culprits: string[]; detail: string; released?: boolean }
  | { kind: "status"; status: string; detail: string };

export interface LogEntry {
  seq: number;
  prevHash: string;
  timestamp: number;
  body: LogBody;
  /** Hex SHA-256, see module comment. */
  hash: string;
  /** base64url Ed25519 signature by the coordinator over the 32 hash bytes. */
  signature: string;
}


/** Hex SHA-256 of the canonical JSON of `v` (used for manifests and specs). */
export function objectHash(v: unknown): string {
  return toHex(sha256(utf8(canonicalJson(v))));
}

/** The hash of an entry's content (everything except hash and signature). */
export function entryHash(e: Pick<LogEntry, "seq" | "prevHash" | "timestamp" | "body">): string {
  const c = canonicalJson({ seq: e.seq, prevHash: e.prevHash, timestamp: e.timestamp, body: e.body });
  return toHex(sha256(concatBytes(utf8("2pm/log/v1"), utf8(c))));
}

/**
 * Builds the next entry after `prev` (null for the first) and signs it. The timestamp is
 * clamped to be ≥ the previous one so the log is monotone.
 */
export function appendEntry(prev: LogEntry | null, body: LogBody, timestamp: number, coordinatorSecretKey: Uint8Array): LogEntry {
  const seq = prev ? prev.seq + 1 : 0;
  const prevHash = prev ? prev.hash : GENESIS_HASH;
  const ts = prev ? Math.max(prev.timestamp, Math.floor(timestamp)) : Math.floor(timestamp);
  const hash = entryHash({ seq, prevHash, timestamp: ts, body });
  return { seq, prevHash, timestamp: ts, body, hash, signature: toBase64Url(sign(coordinatorSecretKey, fromHex(hash))) };
}

/**
 * Re-verifies a whole log offline: sequence numbers 0..n−1, hash chain, entry hashes,
 * coordinator signatures, monotone timestamps, and that every manifest's hash matches its
 * content. Returns the list of problems (empty = valid). Never throws.
 *
 * With `after` (an entry the caller verified earlier, e.g. the last one of a log it already
 * holds), `entries` are checked as the continuation of that log: the first must have seq
 * after.seq + 1 and chain to after.hash, so a verifier keeps its verified prefix and checks
 * only what was appended (linear instead of quadratic over a job's rounds); a coordinator
 * that rewrote anything up to `after` breaks the chain here.
 */
export function verifyLog(entries: readonly LogEntry[], coordinatorPublicKey: Uint8Array, after: LogEntry | null = null): string[] {
  const problems: string[] = [];
  let prev: LogEntry | null = after;
  const first = after ? after.seq + 1 : 0;
  entries.forEach((e, k) => {
    const i = first + k;
    try {
      if (e.seq !== i) problems.push(`entry ${i}: seq is ${e.seq}, expected ${i}`);
      const expectedPrev = prev ? prev.hash : GENESIS_HASH;
      if (e.prevHash !== expectedPrev) problems.push(`entry ${i}: prevHash does not chain to entry ${i - 1}`);
      if (prev && e.timestamp < prev.timestamp) problems.push(`entry ${i}: timestamp goes backwards`);
      const h = entryHash(e);
      if (h !== e.hash) problems.push(`entry ${i}: hash mismatch (content altered)`);
      let sig: Uint8Array | null = null;
      try { sig = fromBase64Url(e.signature); } catch { /* reported below */ }
      if (!sig || !verify(coordinatorPublicKey, fromHex(e.hash), sig)) problems.push(`entry ${i}: bad coordinator signature`);
      if (e.body.kind === "manifest" && objectHash(e.body.manifest) !== e.body.manifestHash) problems.push(`entry ${i}: manifestHash does not match manifest`);
    } catch (err) {
      problems.push(`entry ${i}: malformed (${err instanceof Error ? err.message : String(err)})`);
    }
    prev = e;
  });
  return problems;
}

/** The latest model hash logged for `round`, or null. */
export function modelHashForRound(entries: readonly LogEntry[], round: number): string | null {
  let h: string | null = null;
  for (const e of entries) if (e.body.kind === "model" && e.body.round === round) h = e.body.modelHash;
  return h;
}
