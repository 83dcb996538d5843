/**
 * The node's own record of what it has taken part in, kept in its own storage (never the
 * coordinator's): which jobs used each dataset (the policy's query budget), per round attempt
 * whether this node may have released the round's output, and the privacy (zCDP ρ) each
 * attempt spent on the dataset (the policy's privacy budget, docs/node-policy.md).
 *
 * Write-ahead: an attempt is recorded (`join`, released "unknown") before the node sends its
 * first protocol message, and settled to true/false when the attempt ends. A crash in between
 * leaves "unknown", which counts as released: after a restart the node still never joins a
 * rerun of a round whose output it may have helped open (DESIGN §1), and the attempt's ρ stays
 * spent. Only an attempt settled `false` (the node provably never emitted its share of the
 * output opening) spends nothing. Once released (true), an attempt never becomes unreleased.
 *
 * Tamper-evident: the ledger is an append-only list of entries, hash-chained
 *     hash_i = SHA-256("2pm/ledger/v1" ‖ 0x00 ‖ canonicalJson({seq, prev, at, body})),
 *     prev_0 = 64 zeros, prev_i = hash_{i−1},
 * each signed with the node's Ed25519 identity key over "2pm/ledger-entry/v1" ‖ 0x00 ‖ hash_i,
 * closed by a signed head (entry count and last hash). Loading re-verifies the chain and the
 * head signature (and, with `audit`, every entry signature); since the head commits to every
 * entry, a modified, removed, reordered or inserted entry, or a dropped tail, is refused with
 * {@link LedgerError} (never silently reset). What no local file can show: the whole file
 * replaced by an older copy of itself, or deleted (the node then starts a fresh ledger);
 * every release is also in the coordinator's transparency log, from which the spend can be
 * recomputed.
 */
import { z } from "zod";
import { sha256 } from "@noble/hashes/sha2.js";
import { identityPublicKey, sign, verify } from "../../protocol/crypto/identity.ts";
import { bytesEqual, concatBytes, fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from "../../protocol/encoding.ts";
import { canonicalJson } from "../../protocol/log/index.ts";
import { PrivacySpec } from "../../protocol/dp/privacy.ts";
import { b64url, firstIssue, Hash32Hex } from "../../protocol/api/schemas.ts";
import type { PrivacyCharge } from "../../protocol/dp/accountant.ts";

const GENESIS = "0".repeat(64);

const JoinBody = z.strictObject({
  kind: z.literal("join"),
  jobId: z.string(),
  schemaId: z.string(),
  round: z.number().int(),
  attempt: z.number().int(),
  committee: z.array(z.string()),
  /** ρ this attempt spends on the dataset (computed by the node from the signed spec); null: a non-private release. */
  rho: z.number().nonnegative().nullable(),
  /** The job's signed privacy field, null when it has none. */
  privacy: PrivacySpec.nullable(),
});
const SettleBody = z.strictObject({ kind: z.literal("settle"), jobId: z.string(), round: z.number().int(), attempt: z.number().int(), released: z.boolean() });
const Body = z.discriminatedUnion("kind", [JoinBody, SettleBody]);
type Body = z.infer<typeof Body>;

const Entry = z.strictObject({ seq: z.number().int().min(0), prev: Hash32Hex, at: z.number(), body: Body, hash: Hash32Hex, sig: b64url(64).nullable() });
type Entry = z.infer<typeof Entry>;

const LedgerFileV2 = z.strictObject({
  version: z.literal(2),
  /** base64url Ed25519 key that signs every entry and the head; null for an unsigned ledger (hash chain only). */
  key: b64url(32).nullable(),
  entries: z.array(Entry),
  head: z.strictObject({ count: z.number().int().min(0), hash: Hash32Hex, sig: b64url(64).nullable() }),
});
type LedgerFileV2 = z.infer<typeof LedgerFileV2>;

/** The format before privacy accounting (mutable JSON, no chain); imported on load, rewritten as version 2 on the next write. */
const LedgerFileV1 = z.strictObject({
  version: z.literal(1),
  jobs: z.array(z.strictObject({
    jobId: z.string(),
    schemaId: z.string(),
    firstAt: z.number(),
    attempts: z.array(z.strictObject({ round: z.number().int(), attempt: z.number().int(), committee: z.array(z.string()), released: z.union([z.boolean(), z.literal("unknown")]) })),
  })),
});

/** Why a stored ledger was refused. Stable codes: `ledger-invalid` (not a ledger), `ledger-tampered` (chain, signature or content check failed), `ledger-key` (signed by another key, or written without the key it needs). */
export class LedgerError extends TypeError {
  constructor(readonly code: "ledger-invalid" | "ledger-tampered" | "ledger-key", detail: string) {
    super(`ledger: ${detail}`);
    this.name = "LedgerError";
  }
}

/** Where the ledger lives (a file for the CLI node, IndexedDB in a browser, memory in tests). */
export interface LedgerStore {
  load(): Promise<string | null>;
  /** Must be durable when it resolves (the CLI writes a temp file and renames it). */
  save(text: string): Promise<void>;
}

/** An in-memory store (tests, throwaway nodes). */
export function memoryLedgerStore(): LedgerStore & { text: string | null } {
  const s = { text: null as string | null, load: async () => s.text, save: async (t: string) => { s.text = t; } };
  return s;
}

/** Keys for {@link Ledger.open}: the node's identity secret key signs new entries; `verifyKey` pins the key a read-only reader expects. */
export interface LedgerKeys {
  /** The node's Ed25519 identity secret key (32 bytes): entries are signed with it, and an existing ledger must be signed by its public key. */
  signingKey?: Uint8Array;
  /**
   * Also verify every entry's own signature (one Ed25519 verification per entry, ≈ 3 ms each on a
   * slow core). Without it, loading verifies the hash chain and the signed head, which commits
   * to every entry's content, so tampering is detected either way; the audit also checks each
   * entry's signature, which lets one entry be shown to a third party on its own. `2pm node budget` audits.
   */
  audit?: boolean;
  /** Expected signer (32-byte public key) of a signed ledger opened without `signingKey` (e.g. `2pm node budget`); an unsigned ledger is still read (`snapshot().signedBy` is null). */
  verifyKey?: Uint8Array;
}

/**
 * What the policy check (client/agent/policy.ts) decided an attempt costs, handed to the
 * ledger so that `join` records it. `recheck` runs synchronously inside `join`, just before
 * the entry is appended, and throws to refuse the join (two rounds admitted concurrently
 * cannot both spend the last of a budget).
 */
export interface Admission {
  jobId: string;
  round: number;
  attempt: number;
  schemaId: string;
  rho: number | null;
  privacy: PrivacySpec | null;
  recheck?: (ledger: Ledger) => void;
}

/** One round attempt as the ledger knows it. */
export interface AttemptRecord {
  round: number;
  attempt: number;
  committee: string[];
  released: boolean | "unknown";
  /** Unix ms of the write-ahead record. */
  at: number;
  /** ρ spent on the dataset (null: non-private). Counted unless `released` is false. */
  rho: number | null;
}

/** One job as the ledger knows it. */
export interface JobRecord {
  jobId: string;
  schemaId: string;
  /** Unix ms of the first round this node joined for the job. */
  firstAt: number;
  privacy: PrivacySpec | null;
  attempts: AttemptRecord[];
}

/** Read-only view for `2pm node ledger`, `2pm node budget` and tests. */
export interface LedgerSnapshot {
  version: 2;
  /** base64url public key that signs the ledger, or null (unsigned: hash chain only). */
  signedBy: string | null;
  entries: number;
  /** Hash of the last entry (64 zeros when empty). */
  head: string;
  jobs: JobRecord[];
}

const MAX_ADMISSIONS = 256;

function entryHash(e: Pick<Entry, "seq" | "prev" | "at" | "body">): string {
  return toHex(sha256(concatBytes(utf8("2pm/ledger/v1"), new Uint8Array([0]), utf8(canonicalJson({ seq: e.seq, prev: e.prev, at: e.at, body: e.body })))));
}
function entryMessage(hash: string): Uint8Array {
  return concatBytes(utf8("2pm/ledger-entry/v1"), new Uint8Array([0]), fromHex(hash));
}
function headMessage(count: number, hash: string): Uint8Array {
  return concatBytes(utf8("2pm/ledger-head/v1"), new Uint8Array([0]), sha256(utf8(canonicalJson({ count, hash }))));
}
const attemptKey = (jobId: string, round: number, attempt: number) => `${jobId}\u0000${round}\u0000${attempt}`;

export class Ledger {
  private entries: Entry[] = [];
  private readonly jobs = new Map<string, JobRecord>();
  private readonly admissions = new Map<string, Admission>();
  private chain: Promise<void> = Promise.resolve();
  /** Public key the stored ledger is signed with (null: unsigned). */
  private key: Uint8Array | null;
  private readonly secret: Uint8Array | null;

  private constructor(private readonly store: LedgerStore, keys: LedgerKeys) {
    this.secret = keys.signingKey ?? null;
    this.key = keys.signingKey ? identityPublicKey(keys.signingKey) : null;
  }

  /**
   * Loads the ledger and verifies it: hash chain, head and, when signed, the head's signature
   * (every entry's too with `keys.audit`) under the ledger's key, which must be the public key
   * of `keys.signingKey` (or `keys.verifyKey`) when given; then replays it (a settle for an attempt never joined, a
   * second join of an attempt, is tampering too). Throws {@link LedgerError}: never silently
   * resets. An unsigned or version-1 ledger opened with a signing key is signed from then on
   * (entries are re-signed in memory and stored at the next write).
   */
  static async open(store: LedgerStore, keys: LedgerKeys = {}): Promise<Ledger> {
    const l = new Ledger(store, keys);
    const text = await store.load();
    if (!text) return l;
    let raw: unknown;
    try { raw = JSON.parse(text); } catch { throw new LedgerError("ledger-invalid", "ledger is not valid JSON"); }
    const version = (raw as { version?: unknown } | null)?.version;
    if (version === 1) {
      const r = LedgerFileV1.safeParse(raw);
      if (!r.success) throw new LedgerError("ledger-invalid", firstIssue(r.error));
      for (const j of r.data.jobs) {
        for (const a of j.attempts) {
          void l.append({ kind: "join", jobId: j.jobId, schemaId: j.schemaId, round: a.round, attempt: a.attempt, committee: a.committee, rho: null, privacy: null }, j.firstAt, false);
          if (a.released !== "unknown") void l.append({ kind: "settle", jobId: j.jobId, round: a.round, attempt: a.attempt, released: a.released }, j.firstAt, false);
        }
      }
      return l;
    }
    const r = LedgerFileV2.safeParse(raw);
    if (!r.success) throw new LedgerError("ledger-invalid", firstIssue(r.error));
    l.load(r.data, keys);
    return l;
  }

  private load(file: LedgerFileV2, keys: LedgerKeys): void {
    const stored = file.key === null ? null : fromBase64Url(file.key);
    const pinned = this.key ?? keys.verifyKey ?? null;
    if (stored && pinned && !bytesEqual(stored, pinned)) throw new LedgerError("ledger-key", `ledger is signed by ${file.key!.slice(0, 12)}…, not by this node's key`);
    let prev = GENESIS;
    const tampered = (i: number, what: string): never => { throw new LedgerError("ledger-tampered", `entry ${i}: ${what} (the ledger was modified or entries were removed)`); };
    file.entries.forEach((e, i) => {
      if (e.seq !== i) tampered(i, `sequence number ${e.seq}`);
      if (e.prev !== prev) tampered(i, "does not chain to the previous entry");
      if (entryHash(e) !== e.hash) tampered(i, "content does not match its hash");
      if (stored && (!e.sig || (keys.audit && !verify(stored, entryMessage(e.hash), fromBase64Url(e.sig))))) tampered(i, "signature does not verify");
      prev = e.hash;
    });
    const { head } = file;
    if (head.count !== file.entries.length || head.hash !== prev) throw new LedgerError("ledger-tampered", `head names ${head.count} entries ending ${head.hash.slice(0, 12)}…, the ledger holds ${file.entries.length} ending ${prev.slice(0, 12)}… (entries were removed or added)`);
    if (stored && (!head.sig || !verify(stored, headMessage(head.count, head.hash), fromBase64Url(head.sig)))) throw new LedgerError("ledger-tampered", "head signature does not verify");
    for (const [i, e] of file.entries.entries()) {
      const problem = this.apply(e.body, e.at);
      if (problem) tampered(i, problem);
      this.entries.push(e);
    }
    if (stored && !this.secret) this.key = stored; // read-only: writes are refused (see guardWrite)
    if (!stored && this.secret) this.entries = this.entries.map((e) => ({ ...e, sig: toBase64Url(sign(this.secret!, entryMessage(e.hash))) }));
  }

  /** Applies a body to the derived state; returns a problem description instead of applying an impossible one. */
  private apply(b: Body, at: number): string | undefined {
    const e = this.jobs.get(b.jobId);
    if (b.kind === "join") {
      if (e && e.schemaId !== b.schemaId) return `job ${b.jobId} joined for dataset ${b.schemaId}, earlier for ${e.schemaId}`;
      if (e?.attempts.some((a) => a.round === b.round && a.attempt === b.attempt)) return `attempt ${b.round}.${b.attempt} of ${b.jobId} joined twice`;
      const job = e ?? { jobId: b.jobId, schemaId: b.schemaId, firstAt: at, privacy: b.privacy, attempts: [] };
      if (!e) this.jobs.set(b.jobId, job);
      job.attempts.push({ round: b.round, attempt: b.attempt, committee: [...b.committee], released: "unknown", at, rho: b.rho });
      return undefined;
    }
    const a = e?.attempts.find((x) => x.round === b.round && x.attempt === b.attempt);
    if (!a) return `settles attempt ${b.round}.${b.attempt} of ${b.jobId}, never joined`;
    if (a.released !== "unknown") return `settles attempt ${b.round}.${b.attempt} of ${b.jobId} twice`;
    a.released = b.released;
    return undefined;
  }

  /** Appends a new entry (hash, signature) and applies it; `persist` false while importing. */
  private append(body: Body, at: number, persist: boolean): Promise<void> {
    const problem = this.apply(body, at);
    if (problem) throw new LedgerError("ledger-invalid", problem);
    const seq = this.entries.length;
    const prev = this.entries[seq - 1]?.hash ?? GENESIS;
    const hash = entryHash({ seq, prev, at, body });
    this.entries.push({ seq, prev, at, body, hash, sig: this.secret ? toBase64Url(sign(this.secret, entryMessage(hash))) : null });
    return persist ? this.persist() : Promise.resolve();
  }

  private guardWrite(): void {
    if (this.key && !this.secret) throw new LedgerError("ledger-key", "this ledger is signed by the node's key; open it with that key to write to it");
  }

  /** Distinct jobs that used dataset `schemaId` since `since` (Unix ms). */
  jobsUsing(schemaId: string, since: number): number {
    let n = 0;
    for (const j of this.jobs.values()) if (j.schemaId === schemaId && j.firstAt >= since) n++;
    return n;
  }

  /** True if this node already took part in `jobId` (later rounds do not count against the budget again). */
  knowsJob(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  /** True if this exact attempt has a write-ahead record. */
  hasAttempt(jobId: string, round: number, attempt: number): boolean {
    return this.jobs.get(jobId)?.attempts.some((a) => a.round === round && a.attempt === attempt) ?? false;
  }

  /**
   * An earlier attempt of (jobId, round) after which the output may be known (released or
   * unknown), or undefined. A node declines every later attempt of such a round.
   */
  releasedAttempt(jobId: string, round: number): { attempt: number; committee: string[] } | undefined {
    const a = this.jobs.get(jobId)?.attempts.find((x) => x.round === round && x.released !== false);
    return a ? { attempt: a.attempt, committee: [...a.committee] } : undefined;
  }

  /**
   * The releases charged to dataset `schemaId`: every attempt not settled `false` (released or
   * unknown), with its time and ρ (null: non-private). `except` leaves one attempt out (the one
   * being checked, when it is already recorded).
   */
  privacyCharges(schemaId: string, except?: { jobId: string; round: number; attempt: number }): PrivacyCharge[] {
    const out: PrivacyCharge[] = [];
    for (const j of this.jobs.values()) {
      if (j.schemaId !== schemaId) continue;
      for (const a of j.attempts) {
        if (a.released === false) continue;
        if (except && j.jobId === except.jobId && a.round === except.round && a.attempt === except.attempt) continue;
        out.push({ at: a.at, rho: a.rho });
      }
    }
    return out;
  }

  /**
   * Records what the policy check decided an attempt costs; the next {@link join} of that
   * attempt records it (and runs `recheck`). In memory only: an admission never joined is
   * dropped (at most 256 are kept).
   */
  admit(a: Admission): void {
    const k = attemptKey(a.jobId, a.round, a.attempt);
    this.admissions.delete(k);
    this.admissions.set(k, a);
    while (this.admissions.size > MAX_ADMISSIONS) this.admissions.delete(this.admissions.keys().next().value!);
  }

  /**
   * Write-ahead record of joining an attempt (released = "unknown") with the ρ its admission
   * named (none: recorded as non-private); durable when it resolves. Joining an attempt
   * already recorded is a no-op. Throws what the admission's `recheck` throws (the budget no
   * longer fits), or LedgerError `ledger-key` when the ledger is signed and was opened without
   * the signing key.
   */
  async join(jobId: string, schemaId: string, round: number, attempt: number, committee: string[], now: number): Promise<void> {
    this.guardWrite();
    if (this.hasAttempt(jobId, round, attempt)) return this.persist();
    const k = attemptKey(jobId, round, attempt);
    const adm = this.admissions.get(k);
    if (adm && adm.schemaId !== schemaId) throw new LedgerError("ledger-invalid", `attempt ${round}.${attempt} of ${jobId} was admitted for dataset ${adm.schemaId}, joined for ${schemaId}`);
    adm?.recheck?.(this);
    this.admissions.delete(k);
    await this.append({ kind: "join", jobId, schemaId, round, attempt, committee: [...committee], rho: adm?.rho ?? null, privacy: adm?.privacy ?? null }, now, true);
  }

  /**
   * Settles an attempt: whether this node emitted its share of the output opening. Only an
   * "unknown" attempt is settled; a released one stays released, and an attempt never joined
   * is ignored.
   */
  async settle(jobId: string, round: number, attempt: number, released: boolean): Promise<void> {
    const a = this.jobs.get(jobId)?.attempts.find((x) => x.round === round && x.attempt === attempt);
    if (!a || a.released !== "unknown") return;
    this.guardWrite();
    await this.append({ kind: "settle", jobId, round, attempt, released }, Date.now(), true);
  }

  /** Read-only copy for `2pm node ledger`, `2pm node budget` and tests. */
  snapshot(): LedgerSnapshot {
    return {
      version: 2,
      signedBy: this.key ? toBase64Url(this.key) : null,
      entries: this.entries.length,
      head: this.entries[this.entries.length - 1]?.hash ?? GENESIS,
      jobs: structuredClone([...this.jobs.values()]),
    };
  }

  private persist(): Promise<void> {
    const count = this.entries.length, hash = this.entries[count - 1]?.hash ?? GENESIS;
    const file: LedgerFileV2 = {
      version: 2,
      key: this.key ? toBase64Url(this.key) : null,
      entries: this.entries,
      head: { count, hash, sig: this.secret ? toBase64Url(sign(this.secret, headMessage(count, hash))) : null },
    };
    const text = JSON.stringify(file);
    this.chain = this.chain.catch(() => undefined).then(() => this.store.save(text));
    return this.chain;
  }
}
