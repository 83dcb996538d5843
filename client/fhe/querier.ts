/**
 * The querier's side: key generation, symmetric (secret-key, seeded) encryption, decryption.
 * The secret key never leaves this object — except to the encryption threads of the same
 * process ({@link Querier.secretKeyForThreads}, encrypt-pool.ts); {@link Querier.evaluationKeys}
 * returns only the public relinearisation and Galois keys.
 */
import type { Ciphertext, Decryptor, Encryptor, KeyGenerator, Plaintext, SecretKey } from "node-seal/throws";
import type { CkksContext, Compression, Packing } from "./context.ts";
import { FheError } from "./errors.ts";
import { nextPow2, rotatedInput, singleLayout } from "./bsgs.ts";
import { constantTermReplyBytes } from "./evaluator.ts";
import { scoped, type Own } from "./seal.ts";
import { SlotEncoder } from "./slot-encoder.ts";

/** Pairs encrypted per call of the slot encoder (their ciphertexts are returned together). */
const PAIR_GROUP = 16;

export interface KeyNeeds {
  relin: boolean;
  galoisSteps: number[];
}

/** Serialised public evaluation keys (seeded, compressed). */
export interface EvaluationKeyBytes {
  relin?: Uint8Array;
  galois?: Uint8Array;
}

export class Querier {
  private constructor(
    readonly ctx: CkksContext,
    private readonly keygen: KeyGenerator,
    private readonly secret: SecretKey,
    private readonly encryptor: Encryptor,
    private readonly decryptor: Decryptor,
    readonly needs: KeyNeeds,
  ) {}

  /** Generates a fresh secret key (SEAL's CSPRNG, seeded from the platform's). */
  static create(ctx: CkksContext, needs: KeyNeeds): Querier {
    return Querier.build(ctx, needs);
  }

  /**
   * The querier of an encryption thread (encrypt-worker.ts): the secret key of
   * {@link secretKeyForThreads}, under `ctx`. Throws FheError("bad-keys") if it does not load.
   */
  static fromSecretKey(ctx: CkksContext, needs: KeyNeeds, secretKey: Uint8Array): Querier {
    return Querier.build(ctx, needs, secretKey);
  }

  private static build(ctx: CkksContext, needs: KeyNeeds, secretKey?: Uint8Array): Querier {
    const s = ctx.seal;
    return scoped(s, (own) => {
      let keygen: KeyGenerator;
      if (secretKey) {
        const sk = own(new s.SecretKey());
        scoped(s, () => sk.loadFromArray(ctx.context, secretKey), "bad-keys");
        keygen = new s.KeyGenerator(ctx.context, sk);
      } else keygen = new s.KeyGenerator(ctx.context);
      const secret = keygen.secretKey();
      // SEAL's Encryptor constructor wants a public key; it is used for nothing but dropped.
      const pk = own(keygen.createPublicKey());
      const encryptor = new s.Encryptor(ctx.context, pk, secret);
      const decryptor = new s.Decryptor(ctx.context, secret);
      return new Querier(ctx, keygen, secret, encryptor, decryptor, needs);
    });
  }

  /**
   * Public evaluation keys for {@link needs}, serialised (seeded halves). Evaluators accept
   * only `compression: "none"` (the default).
   */
  evaluationKeys(compression: Compression = "none"): EvaluationKeyBytes {
    const s = this.ctx.seal;
    return scoped(s, (own) => {
      const out: EvaluationKeyBytes = {};
      if (this.needs.relin) out.relin = new Uint8Array(own(this.keygen.createRelinKeysSerializable()).saveToArray(this.ctx.compr(compression)) as Uint8Array);
      if (this.needs.galoisSteps.length) {
        const g = own(this.keygen.createGaloisKeysSerializableWithSteps(Int32Array.from(this.needs.galoisSteps)));
        out.galois = new Uint8Array(g.saveToArray(this.ctx.compr(compression)) as Uint8Array);
      }
      return out;
    });
  }

  /**
   * The secret key, serialised — only for the encryption threads of this process
   * (encrypt-pool.ts posts it to its worker threads, which rebuild the querier with
   * {@link fromSecretKey}); never for storage or the network.
   */
  secretKeyForThreads(): Uint8Array {
    return new Uint8Array(this.secret.saveToArray(this.ctx.compr("none")) as Uint8Array);
  }

  /**
   * Encrypts slot vectors as {@link encryptBatch} lays them out (`imag`: the J-parts, complex
   * packing; same length as `real`). For encryption threads that split a batch by columns.
   */
  encryptColumns(real: Float64Array[], imag: Float64Array[] | undefined, compression: Compression = "none"): Uint8Array[] {
    if (imag && imag.length !== real.length) throw new FheError("shape-mismatch", `${real.length} real columns but ${imag.length} J-columns`);
    for (const v of [...real, ...(imag ?? [])]) if (v.length > this.ctx.slots) throw new FheError("oversized", `${v.length} values exceed ${this.ctx.slots} slots`);
    return imag ? this.encryptPairs(real, imag, compression) : this.encryptVectors(real, compression);
  }

  /** Encodes and encrypts each vector (one plaintext reused), serialised seeded. */
  private encryptVectors(vectors: Float64Array[], compression: Compression): Uint8Array[] {
    const s = this.ctx.seal;
    const mode = this.ctx.compr(compression);
    return scoped(s, (own) => {
      const pt = own(new s.Plaintext());
      return vectors.map((v) => {
        this.ctx.encoder.encode(v, this.ctx.scale, pt);
        const ct = this.encryptor.encryptSymmetricSerializable(pt);
        try {
          return ct.saveToArray(mode) as Uint8Array; // a fresh JS-owned array, not a view of WASM memory
        } finally {
          ct.delete();
        }
      });
    });
  }

  /**
   * Encrypts re + J·im per pair (J = X^(N/2), {@link CkksContext.complexConstantPlain}): for
   * uncompressed output each pair is encoded as one polynomial and encrypted by
   * {@link SlotEncoder.encryptPairs} (one FFT of size N/2 in JavaScript, SEAL for the NTTs and the
   * product with the secret key). A pair the slot encoder passes on (a coefficient ≥ 2^52, or all
   * zero), and every pair under compression, goes the earlier way: im encoded and encrypted,
   * multiplied by J — a monomial, so the ciphertext stays a fresh encryption with the same noise —
   * and re added as a plaintext. The result is serialised in full (not seeded), as before.
   */
  private encryptPairs(re: Float64Array[], im: Float64Array[], compression: Compression): Uint8Array[] {
    const { ctx } = this;
    const s = ctx.seal;
    const mode = ctx.compr(compression);
    return scoped(s, (own) => {
      const ct = own(new s.Ciphertext());
      const out: Uint8Array[] = [];
      for (let at = 0; at < re.length; at += PAIR_GROUP) {
        const fast = compression === "none" ? this.slotEncoder().encryptPairs(re.slice(at, at + PAIR_GROUP), im.slice(at, at + PAIR_GROUP), ctx.scale, this.decryptor) : [];
        for (let h = 0; h < Math.min(PAIR_GROUP, re.length - at); h++) {
          const done = fast[h];
          if (done) out.push(done);
          else
            scoped(s, (grp) => {
              this.encryptPairSlow(re[at + h]!, im[at + h]!, ct, grp);
              out.push(new Uint8Array(ct.saveToArray(mode) as Uint8Array));
            });
        }
      }
      return out;
    });
  }

  /** The pair re + J·im the earlier way (two SEAL encodes, J on the ciphertext), into `ct`. */
  private encryptPairSlow(re: Float64Array, im: Float64Array, ct: Ciphertext, own: Own): void {
    const { ctx } = this;
    const pr = own(new ctx.seal.Plaintext());
    const pi = own(new ctx.seal.Plaintext());
    ctx.encoder.encode(re, ctx.scale, pr);
    ctx.encoder.encode(im, ctx.scale, pi);
    this.encryptor.encryptSymmetric(pi, ct);
    ctx.evaluator.multiplyPlainInplace(ct, ctx.complexConstantPlain(0, 1, 0, 1, own));
    ctx.evaluator.addPlainInplace(ct, pr);
  }

  private encoder: SlotEncoder | undefined;

  private slotEncoder(): SlotEncoder {
    return (this.encoder ??= new SlotEncoder(this.ctx));
  }

  /** Rows per ciphertext under `packing`: N/2 (real) or N (complex). */
  capacity(packing: Packing = "real"): number {
    return packing === "complex" ? 2 * this.ctx.slots : this.ctx.slots;
  }

  /**
   * Feature-major: ciphertext j holds feature j of every row. `"real"` packing: row i in slot i,
   * at most N/2 rows; `"complex"`: the first ⌈n/2⌉ rows in the real parts, the rest in the
   * J-parts of the same slots, at most N rows (decrypt with {@link decryptPacked}; only for
   * plans without squares). Evaluators accept only uncompressed ciphertexts (the default).
   * Throws FheError("oversized" | "shape-mismatch").
   */
  encryptBatch(rows: ArrayLike<number>[], inputDim: number, compression: Compression = "none", packing: Packing = "real"): Uint8Array[] {
    const { real, imag } = batchColumns(rows, inputDim, this.ctx.slots, packing);
    return this.encryptColumns(real, imag, compression);
  }

  /**
   * Decrypts one output of a batch encrypted with {@link encryptBatch} for `count` rows: the
   * real parts (and, for `"complex"` packing, the J-parts) in row order. Throws FheError("bad-ciphertext").
   */
  decryptPacked(bytes: Uint8Array, count: number, packing: Packing = "real"): Float64Array {
    return this.decrypted(bytes, (pt, ct, own) => {
      const first = this.ctx.encoder.decodeFloat64(pt) as Float64Array;
      if (packing === "real") return Float64Array.from(first.subarray(0, count));
      const half = Math.ceil(count / 2);
      const out = new Float64Array(count);
      out.set(first.subarray(0, half));
      // Re(−J·(a + J·b)) = b: J·a has purely imaginary slots
      const lv = this.ctx.levelOf(ct);
      if (lv < 0) throw new FheError("bad-ciphertext", "result ciphertext is not at a level of the model's parameters");
      this.ctx.evaluator.multiplyPlainInplace(ct, this.ctx.complexConstantPlain(0, -1, lv, 1, own));
      this.decryptor.decrypt(ct, pt);
      out.set((this.ctx.encoder.decodeFloat64(pt) as Float64Array).subarray(0, count - half), half);
      return out;
    });
  }

  /**
   * Loads `bytes` as a ciphertext (then `check` of it), decrypts it and returns `f` of the
   * plaintext; a SEAL failure is FheError("bad-ciphertext").
   */
  private decrypted<T>(bytes: Uint8Array, f: (pt: Plaintext, ct: Ciphertext, own: Own) => T, check?: (ct: Ciphertext) => void): T {
    const s = this.ctx.seal;
    return scoped(
      s,
      (own) => {
        const ct = own(new s.Ciphertext());
        ct.loadFromArray(this.ctx.context, bytes);
        check?.(ct);
        const pt = own(new s.Plaintext());
        this.decryptor.decrypt(ct, pt);
        return f(pt, ct, own);
      },
      "bad-ciphertext",
    );
  }

  /** Single sample: the row tiled with period nextPow2(inputDim) over all slots. */
  encryptSingle(row: ArrayLike<number>, compression: Compression = "none"): Uint8Array {
    const p = nextPow2(row.length);
    const v = new Float64Array(this.ctx.slots);
    for (let i = 0; i < v.length; i++) v[i] = i % p < row.length ? row[i % p]! : 0;
    return this.encryptVectors([v], compression)[0]!;
  }

  /** Single sample for the masked-sum path: the row in slots 0 … length − 1, zeros elsewhere. */
  encryptRow(row: ArrayLike<number>, compression: Compression = "none"): Uint8Array {
    if (row.length > this.ctx.slots) throw new FheError("oversized", `${row.length} values exceed ${this.ctx.slots} slots`);
    return this.encryptVectors([Float64Array.from(row as ArrayLike<number>)], compression)[0]!;
  }

  /**
   * Decrypts a masked-sum result ({@link PlanEvaluator.evaluateMaskedSum}): the score is the
   * constant coefficient c0 of the decrypted polynomial times N/(2·scale); every other
   * coefficient is the server's uniform mask. Throws FheError("bad-ciphertext").
   */
  decryptMaskedSum(bytes: Uint8Array): number {
    return this.decrypted(bytes, (pt, ct) => (this.ctx.constantCoefficient(pt) * this.ctx.params.polyModulusDegree) / (2 * ct.scale()), (ct) => {
      if (ct.size() !== 2) throw new FheError("bad-ciphertext", `result has ${ct.size()} polynomials, expected 2`);
    });
  }

  /**
   * Decrypts a constant-term reply ({@link PlanEvaluator.evaluateConstantTerm}): the constant
   * terms of c0 (one per prime of level 1) and c1 are put into a ciphertext of that level whose c0
   * is the constant polynomial (the same value at every NTT point), which decrypts to c0 + c1·s
   * with the same constant coefficient; the score is that coefficient times N/(2·scale). Throws
   * FheError("bad-ciphertext") for a reply of the wrong size or with a value not below its prime
   * (SEAL's validation on load).
   */
  decryptConstantTerm(reply: Uint8Array): number {
    const { ctx } = this;
    const n = ctx.params.polyModulusDegree;
    const lv = ctx.levels[1];
    if (!lv) throw new FheError("bad-ciphertext", "the constant-term reply needs a level to rescale to");
    const k = lv.primes.length;
    if (reply.length !== constantTermReplyBytes(n, k)) throw new FheError("bad-ciphertext", `constant-term reply of ${reply.length} bytes, expected ${constantTermReplyBytes(n, k)}`);
    const bytes = this.levelOneTemplate().slice();
    const polyBytes = 8 * n * k;
    const c0 = bytes.length - 2 * polyBytes;
    const dv = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
    const poly = new BigUint64Array(n);
    for (let i = 0; i < k; i++) {
      poly.fill(dv.getBigUint64(8 * i, true)); // a value ≥ q is refused by SEAL's load below
      bytes.set(new Uint8Array(poly.buffer), c0 + 8 * n * i);
    }
    bytes.set(reply.subarray(8 * k), c0 + polyBytes);
    return this.decrypted(bytes, (pt) => (ctx.constantCoefficient(pt) * n) / (2 * ctx.scale));
  }

  private template1: Uint8Array | undefined;

  /** A serialised (uncompressed) ciphertext at level 1 whose data ends the bytes (c0, then c1), made once. */
  private levelOneTemplate(): Uint8Array {
    if (this.template1) return this.template1;
    const { ctx } = this;
    const s = ctx.seal;
    this.template1 = scoped(s, (own) => {
      const pt = ctx.encode(new Float64Array(1), own);
      const ct = own(new s.Ciphertext());
      this.encryptor.encryptSymmetric(pt, ct);
      ctx.evaluator.cipherModSwitchToNextInplace(ct);
      const bytes = ctx.saveCiphertext(ct, "none");
      if (ct.size() !== 2 || ctx.levelOf(ct) !== 1 || bytes.length < 2 * 8 * ctx.params.polyModulusDegree * ctx.levels[1]!.primes.length) throw new FheError("seal-error", "unexpected ciphertext layout at level 1");
      return bytes;
    });
    return this.template1;
  }

  /**
   * Single row of an MLP (client/fhe/bsgs.ts), one ciphertext, from the public shape: the
   * rotated replication (slot t·D + r = x[(r + t) mod D]) when D² ≤ slots, else the row
   * tiled as in {@link encryptSingle}. The logits come back in slots 0 … outputDim − 1.
   */
  encryptBsgs(row: ArrayLike<number>, outputDim: number, compression: Compression = "none"): Uint8Array {
    const lay = singleLayout(row.length, outputDim, this.ctx.slots);
    if (!lay.rotated) return this.encryptSingle(row, compression);
    return this.encryptVectors([rotatedInput(row, lay.d, this.ctx.slots)], compression)[0]!;
  }

  /** Decrypts one ciphertext to its first `count` slots. Throws FheError("bad-ciphertext"). */
  decrypt(bytes: Uint8Array, count: number): Float64Array {
    return this.decryptPacked(bytes, count, "real");
  }

  /** Deletes the secret key and every SEAL object held, and wipes the slot encoder's buffers. */
  dispose(): void {
    this.encoder?.wipe();
    for (const o of [this.encryptor, this.decryptor, this.secret, this.keygen]) if (!o.isDeleted()) o.delete();
  }
}

/**
 * The feature-major slot vectors of a batch (see {@link Querier.encryptBatch}): column j holds
 * feature j of the rows; with `"complex"` packing the first ⌈n/2⌉ rows go to `real`, the rest to
 * `imag` (the J-parts). Throws FheError("shape-mismatch" | "oversized").
 */
export function batchColumns(rows: ArrayLike<number>[], inputDim: number, slots: number, packing: Packing = "real"): { real: Float64Array[]; imag?: Float64Array[] } {
  if (rows.length === 0) throw new FheError("shape-mismatch", "no rows to encrypt");
  const cap = packing === "complex" ? 2 * slots : slots;
  if (rows.length > cap) throw new FheError("oversized", `${rows.length} rows exceed ${cap} per ciphertext (${packing} packing)`);
  const half = packing === "complex" ? Math.ceil(rows.length / 2) : rows.length;
  const real = Array.from({ length: inputDim }, () => new Float64Array(half));
  const imag = Array.from({ length: packing === "complex" ? inputDim : 0 }, () => new Float64Array(half));
  rows.forEach((r, i) => {
    if (r.length !== inputDim) throw new FheError("shape-mismatch", `row ${i} has ${r.length} features, expected ${inputDim}`);
    const dst = i < half ? real : imag;
    const at = i < half ? i : i - half;
    for (let j = 0; j < inputDim; j++) dst[j]![at] = r[j]!;
  });
  return packing === "complex" ? { real, imag } : { real };
}
