/**
 * The querier's side: key generation, symmetric (secret-key, seeded) encryption, decryption.
 * The secret key never leaves this object; {@link Querier.evaluationKeys} returns only the
 * public relinearisation and Galois keys.
 */
import type { Decryptor, Encryptor, KeyGenerator, SecretKey } from "node-seal/throws";
import type { CkksContext, Compression } from "./context.ts";
import { FheError } from "./errors.ts";
import { rotatedInput, singleLayout } from "./bsgs.ts";
import { nextPow2 } from "./evaluator.ts";
import { scoped } from "./seal.ts";

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
    const s = ctx.seal;
    return scoped(s, (own) => {
      const keygen = new s.KeyGenerator(ctx.context);
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
   * Feature-major: ciphertext j holds feature j of every row (row i in slot i), at most
   * `slots` rows. Evaluators accept only uncompressed ciphertexts (the default). Throws FheError("oversized" | "shape-mismatch").
   */
  encryptBatch(rows: ArrayLike<number>[], inputDim: number, compression: Compression = "none"): Uint8Array[] {
    if (rows.length === 0) throw new FheError("shape-mismatch", "no rows to encrypt");
    if (rows.length > this.ctx.slots) throw new FheError("oversized", `${rows.length} rows exceed ${this.ctx.slots} slots per ciphertext`);
    const cols = Array.from({ length: inputDim }, () => new Float64Array(rows.length));
    rows.forEach((r, i) => {
      if (r.length !== inputDim) throw new FheError("shape-mismatch", `row ${i} has ${r.length} features, expected ${inputDim}`);
      for (let j = 0; j < inputDim; j++) cols[j]![i] = r[j]!;
    });
    return this.encryptVectors(cols, compression);
  }

  /** Single sample: the row tiled with period nextPow2(inputDim) over all slots. */
  encryptSingle(row: ArrayLike<number>, compression: Compression = "none"): Uint8Array {
    const p = nextPow2(row.length);
    const v = new Float64Array(this.ctx.slots);
    for (let i = 0; i < v.length; i++) v[i] = i % p < row.length ? row[i % p]! : 0;
    return this.encryptVectors([v], compression)[0]!;
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
    const s = this.ctx.seal;
    return scoped(
      s,
      (own) => {
        const ct = own(new s.Ciphertext());
        ct.loadFromArray(this.ctx.context, bytes);
        const pt = own(new s.Plaintext());
        this.decryptor.decrypt(ct, pt);
        const v = this.ctx.encoder.decodeFloat64(pt) as Float64Array;
        return Float64Array.from(v.subarray(0, count));
      },
      "bad-ciphertext",
    );
  }

  /** Deletes the secret key and every SEAL object held. */
  dispose(): void {
    for (const o of [this.encryptor, this.decryptor, this.secret, this.keygen]) if (!o.isDeleted()) o.delete();
  }
}
