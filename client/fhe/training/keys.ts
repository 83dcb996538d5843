/**
 * The untrusted server's store of uploaded key sets (wire.ts `encodeTrainKeys`): key id =
 * SHA-256 of the frame, so an upload is idempotent and the owner can check the id it gets
 * back against its own. Bounded by bytes per set, total bytes and number of sets. In memory
 * only: a restarted server has no keys and answers `unknown-key`; the owner uploads again.
 * The same store backs the in-process server (train.ts) and `2pm fhe serve` (serve.ts).
 *
 * Uploads are checked structurally (frame, strict header, two parts, no field naming a
 * secret) and, when a part is no larger than a secret key of the declared parameters could
 * be, by trying to load it as one (`secret-key-refused`). Loading the keys into SEAL happens
 * per block, in `trainBlock`.
 */
import { CkksContext } from "../context.ts";
import { FheError } from "../errors.ts";
import { levelsOf, type CkksParams } from "../params.ts";
import type { Seal } from "../seal.ts";
import { refuseSecretKey, type StoredKeySet } from "./server.ts";
import { decodeTrainKeys, trainKeyId, type TrainKeysHeader } from "./wire.ts";

export interface KeyStoreLimits {
  /** Bytes of one key-set frame (default 512 MiB). */
  maxSetBytes: number;
  /** Bytes of all stored sets (default 1 GiB). */
  maxTotalBytes: number;
  /** Stored sets (default 4). */
  maxSets: number;
}

export const DEFAULT_KEY_STORE_LIMITS: KeyStoreLimits = { maxSetBytes: 2 ** 29, maxTotalBytes: 2 ** 30, maxSets: 4 };

/** Why an upload was not stored: too large by itself, or the store is full. */
export type PutRefusal = { ok: false; reason: "too-large" | "full"; detail: string };
export type PutResult = { ok: true; keyId: string; created: boolean; header: TrainKeysHeader } | PutRefusal;

/** Upper bound on a serialised (uncompressed) secret key under `p`: one polynomial mod all primes, plus headers. */
export function secretKeyBoundBytes(p: CkksParams): number {
  return p.polyModulusDegree * (levelsOf(p) + 2) * 8 + 4096;
}

export class TrainKeyStore {
  private readonly sets = new Map<string, StoredKeySet & { header: TrainKeysHeader }>();
  private total = 0;
  readonly limits: KeyStoreLimits;

  /**
   * `seal` (optional, loaded on demand) is used only to refuse a part that loads as a secret key;
   * `copy` lets the caller choose where stored bytes live (serve.ts: shared memory for its worker).
   */
  constructor(
    limits: Partial<KeyStoreLimits> = {},
    private readonly seal?: () => Promise<Seal>,
    private readonly copy: (b: Uint8Array) => Uint8Array = (b) => b.slice(),
  ) {
    this.limits = { ...DEFAULT_KEY_STORE_LIMITS, ...limits };
    for (const [k, v] of Object.entries(this.limits)) if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }

  get size(): number {
    return this.sets.size;
  }

  get bytes(): number {
    return this.total;
  }

  /**
   * Stores a key-set frame. Idempotent: the same bytes return the same id (`created: false`)
   * and take no new room. Throws FheError("bad-keys" | "bad-ciphertext" | "oversized" |
   * "secret-key-refused") for a malformed set; returns a refusal when it does not fit.
   */
  async put(bytes: Uint8Array): Promise<PutResult> {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("key set must be bytes");
    if (bytes.length > this.limits.maxSetBytes) return { ok: false, reason: "too-large", detail: `key set of ${bytes.length} bytes exceeds ${this.limits.maxSetBytes}` };
    const k = decodeTrainKeys(bytes);
    const bound = secretKeyBoundBytes(k.header.ckks);
    if (this.seal && (k.relin.length <= bound || k.galois.length <= bound)) {
      const seal = await this.seal();
      const ctx = CkksContext.get(seal, k.header.ckks);
      for (const p of [k.relin, k.galois]) if (p.length <= bound) refuseSecretKey(ctx, p);
    }
    const keyId = await trainKeyId(bytes);
    if (this.sets.has(keyId)) return { ok: true, keyId, created: false, header: k.header };
    if (this.sets.size >= this.limits.maxSets) return { ok: false, reason: "full", detail: `the server holds ${this.sets.size} key sets (limit ${this.limits.maxSets}); delete one first` };
    if (this.total + bytes.length > this.limits.maxTotalBytes) return { ok: false, reason: "full", detail: `${this.total} + ${bytes.length} bytes of key sets exceed ${this.limits.maxTotalBytes}; delete one first` };
    this.sets.set(keyId, { keyId, bytes: this.copy(bytes), header: k.header });
    this.total += bytes.length;
    return { ok: true, keyId, created: true, header: k.header };
  }

  get(keyId: string): StoredKeySet | undefined {
    const s = this.sets.get(keyId);
    return s && { keyId: s.keyId, bytes: s.bytes };
  }

  /** Forgets a key set; false if unknown. Idempotent in effect. */
  delete(keyId: string): boolean {
    const s = this.sets.get(keyId);
    if (!s) return false;
    this.sets.delete(keyId);
    this.total -= s.bytes.length;
    return true;
  }
}

/** The key set a request names, or FheError("bad-keys") — for callers that map it to their own "unknown key". */
export function requireKeySet(store: TrainKeyStore, keyId: string): StoredKeySet {
  const s = store.get(keyId);
  if (!s) throw new FheError("bad-keys", `unknown key id ${keyId.slice(0, 12)}…: upload the key set first`);
  return s;
}
