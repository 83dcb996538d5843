/**
 * A CKKS context for one parameter set: SEAL context, encoder, evaluator and per-level data
 * (parms id, primes), cached per isolate. Also the (de)serialisation rules every party uses:
 * ciphertexts are loaded only through {@link CkksContext.loadCiphertext}, which bounds the
 * size and checks parameters, level, size-2 and scale before anything is computed.
 */
import type { Ciphertext, Plaintext, SEALContext, CKKSEncoder, Evaluator, ComprModeType } from "node-seal/throws";
import { FheError } from "./errors.ts";
import { checkParams, paramsKey, type CkksParams } from "./params.ts";
import { scoped, type Own, type Seal } from "./seal.ts";

/** One level of the modulus chain: 0 = fresh ciphertexts (all data primes). */
export interface Level {
  readonly index: number;
  /** SEAL parms_id as four 64-bit words. */
  readonly parmsId: BigUint64Array;
  /** Data primes at this level. */
  readonly primes: bigint[];
  /** Serialised constant-plaintext template (uncompressed) at this level. */
  readonly template: Uint8Array;
}

/** Wire compression of SEAL objects. */
export type Compression = "none" | "zlib" | "zstd";

/**
 * Slot layout of a feature-major batch: `"real"`, one row per slot (N/2 rows per ciphertext);
 * `"complex"`, two rows per slot, a + J·b with J = X^(N/2) (N rows per ciphertext; see
 * {@link CkksContext.complexConstantPlain}). Complex packing survives every real-linear step
 * (plaintext products with real weights, additions, rescales) but not a square, so it is for
 * plans without squares; it halves the ciphertexts to encrypt, upload, evaluate and decrypt per row.
 */
export type Packing = "real" | "complex";

const HEADER = 16; // SEAL serialization header: magic u16, header size u8, version u8×2, compr mode u8 (offset 5), reserved, size u64

/** Throws FheError(`code`) unless `bytes` is an uncompressed SEAL object (compr_mode none). */
export function assertUncompressedSeal(bytes: Uint8Array, code: "bad-ciphertext" | "bad-keys", what: string): void {
  if (bytes.length < HEADER || bytes[0] !== 0x5e || bytes[1] !== 0xa1) throw new FheError(code, `${what} is not a SEAL object`);
  if (bytes[5] !== 0) throw new FheError(code, `compressed ${what} is not accepted (decompression is unbounded); send compression "none"`);
}
const PT_DATA = HEADER + 32 + 8 + 8 + HEADER + 8; // header, parms_id, coeff_count, scale, DynArray header, count
/** Ciphertext serialisation (uncompressed, SEAL 4.1): header, parms_id, is_ntt_form u8, size, N, coeff_modulus_size (u64 each), then the scale (f64), correction factor, the data's DynArray header and count, and the data itself, which ends the bytes. */
const CT_SCALE = HEADER + 32 + 1 + 8 + 8 + 8;
const CT_DATA = CT_SCALE + 8 + 8 + HEADER + 8;

export class CkksContext {
  readonly slots: number;
  readonly scale: number;
  readonly levels: Level[];
  private constructor(
    readonly seal: Seal,
    readonly params: CkksParams,
    readonly context: SEALContext,
    readonly encoder: CKKSEncoder,
    readonly evaluator: Evaluator,
  ) {
    this.slots = encoder.slotCount();
    this.scale = 2 ** params.scaleBits;
    this.levels = [];
    const nLevels = params.coeffModulusBits.length - 1;
    scoped(seal, (own) => {
      let cd = own(context.firstContextData());
      const pt = own(new seal.Plaintext());
      encoder.encode(new Float64Array(this.slots).fill(1), this.scale, pt);
      for (let i = 0; i < nLevels; i++) {
        const parmsIdObj = own(cd.parmsId());
        const parms = own(cd.parms());
        const vec = own(parms.coeffModulus());
        const primes: bigint[] = [];
        for (let k = 0; k < vec.size(); k++) {
          const m = vec.get(k)!;
          primes.push(m.value());
          m.delete();
        }
        if (i > 0) evaluator.plainModSwitchToNextInplace(pt);
        const template = new Uint8Array(pt.saveToArray(seal.ComprModeType.none) as Uint8Array);
        this.levels.push({ index: i, parmsId: BigUint64Array.from(parmsIdObj.values() as BigUint64Array), primes, template });
        if (i + 1 < nLevels) cd = own(cd.nextContextData());
      }
    });
  }

  /**
   * The context for `params` (validated, cached per isolate). Throws FheError("bad-parameters")
   * if SEAL refuses them (e.g. not 128-bit secure).
   */
  static get(seal: Seal, params: CkksParams): CkksContext {
    const key = paramsKey(params);
    const hit = cache.get(key);
    if (hit) return hit;
    const p = checkParams(params);
    const made = scoped(
      seal,
      (own) => {
        const parms = own(new seal.EncryptionParameters(seal.SchemeType.ckks));
        parms.setPolyModulusDegree(p.polyModulusDegree);
        parms.setCoeffModulus(own(seal.CoeffModulus.Create(p.polyModulusDegree, Int32Array.from(p.coeffModulusBits))));
        const context = new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
        if (!context.parametersSet()) {
          context.delete();
          throw new FheError("bad-parameters", "SEAL rejected the CKKS parameters");
        }
        return new CkksContext(seal, p, context, new seal.CKKSEncoder(context), new seal.Evaluator(context));
      },
      "bad-parameters",
    );
    // Contexts are never deleted once handed out (evaluators and keys may still use them);
    // there is one per distinct parameter set, and only token holders create new sets.
    cache.set(key, made);
    return made;
  }

  /** Releases the SEAL objects. Only for contexts no evaluator, key or querier still uses. */
  dispose(): void {
    for (const o of [this.evaluator, this.encoder, this.context]) if (!o.isDeleted()) o.delete();
  }

  /** SEAL compression mode for `c`. */
  compr(c: Compression): ComprModeType {
    return this.seal.ComprModeType[c];
  }

  /** The chain level of `ct`, or -1 if its parms id is not a data level of this context. */
  levelOf(ct: Ciphertext | Plaintext): number {
    const pid = ct.parmsId();
    try {
      const w = pid.values() as BigUint64Array;
      return this.levels.findIndex((l) => l.parmsId.every((x, i) => x === w[i]));
    } finally {
      pid.delete();
    }
  }

  /** A copy of `level`'s plaintext template with its scale set to `scale`. Throws FheError("bad-parameters") for no such level. */
  private plainTemplate(level: number, scale: number): { lv: Level; bytes: Uint8Array } {
    const lv = this.levels[level];
    if (!lv) throw new FheError("bad-parameters", `no level ${level}`);
    const bytes = lv.template.slice();
    new DataView(bytes.buffer).setFloat64(HEADER + 32 + 8, scale, true);
    return { lv, bytes };
  }

  /** The plaintext serialised in `bytes`, owned by `own`. */
  private loadPlain(bytes: Uint8Array, own: Own): Plaintext {
    const pt = own(new this.seal.Plaintext());
    pt.loadFromArray(this.context, bytes);
    return pt;
  }

  /**
   * A plaintext with every slot equal to `value`, at `level`, with scale `scale`, built
   * directly in NTT form (a constant polynomial is constant in the NTT domain), without the
   * encoder's FFT. A value rounding to 0 is encoded as 1/scale (never a transparent product).
   * Throws FheError("bad-model") if round(value·scale) does not fit the modulus.
   */
  constantPlain(value: number, level: number, scale: number, own: Own): Plaintext {
    const { lv, bytes } = this.plainTemplate(level, scale);
    const scaled = Math.round(value * scale);
    if (!Number.isFinite(scaled) || Math.abs(scaled) >= 2 ** 62) throw new FheError("bad-model", `constant ${value} at scale 2^${Math.log2(scale).toFixed(1)} is out of range`);
    const n = this.params.polyModulusDegree;
    const data = new BigUint64Array(bytes.buffer, PT_DATA, n * lv.primes.length);
    // A zero plaintext would make the product transparent (the "throws" build refuses it):
    // use one unit in the last place instead (an error of 1/scale, ≤ 2^-30).
    const big = BigInt(scaled === 0 ? 1 : scaled);
    lv.primes.forEach((q, k) => {
      let r = big % q;
      if (r < 0n) r += q;
      data.fill(r, k * n, (k + 1) * n);
    });
    return this.loadPlain(bytes, own);
  }

  /**
   * A plaintext with every slot equal to `re + J·im`, where J is the monomial X^(N/2): its slot
   * values are ±i (J² = −1, conj(J) = −J), so `a + J·b` packs two real vectors in one set of
   * slots ("two rows per slot", {@link Querier.encryptBatch}). Built directly in NTT form: a
   * polynomial R + M·X^(N/2) evaluates to R + M·I at the first N/2 NTT points and R − M·I at the
   * others, I = √−1 mod q (SEAL's bit-reversed order; the sign of I only flips J's sign pattern,
   * which encryption and decryption share). Unlike {@link constantPlain}, zero stays zero (only
   * for additions and the J factor, never a product with a zero). Throws like constantPlain.
   */
  complexConstantPlain(re: number, im: number, level: number, scale: number, own: Own): Plaintext {
    const { lv, bytes } = this.plainTemplate(level, scale);
    const r = Math.round(re * scale);
    const m = Math.round(im * scale);
    for (const v of [r, m]) if (!Number.isFinite(v) || Math.abs(v) >= 2 ** 62) throw new FheError("bad-model", `constant ${re} + J·${im} at scale 2^${Math.log2(scale).toFixed(1)} is out of range`);
    const n = this.params.polyModulusDegree;
    const data = new BigUint64Array(bytes.buffer, PT_DATA, n * lv.primes.length);
    const R = BigInt(r);
    const M = BigInt(m);
    lv.primes.forEach((q, k) => {
      const i = sqrtMinusOne(q, n);
      const mod = (x: bigint) => ((x % q) + q) % q;
      data.fill(mod(R + M * i), k * n, k * n + n / 2);
      data.fill(mod(R - M * i), k * n + n / 2, (k + 1) * n);
    });
    return this.loadPlain(bytes, own);
  }

  /**
   * A uniformly random plaintext at `level` (NTT form, scale `scale`) whose polynomial has the
   * constant coefficient `c0` (mod every prime) and uniformly random coefficients elsewhere —
   * the server's mask of the masked-sum single-sample path ({@link PlanEvaluator.evaluateMaskedSum}).
   * In SEAL's NTT form the N values of a polynomial modulo q are its evaluations at the N
   * primitive 2N-th roots, whose sum is N·c0 (Σ_roots ρ^j = 0 for 0 < j < N): so N − 1 values
   * uniform in [0, q) and the last one fixing the sum to N·c0 make exactly that distribution,
   * independently of SEAL's ordering of the values. Randomness: `crypto.getRandomValues` (the
   * platform's CSPRNG, Node and workerd), rejection-sampled (no modulo bias).
   */
  maskPlain(c0: bigint, level: number, scale: number, own: Own): Plaintext {
    const { lv, bytes } = this.plainTemplate(level, scale);
    const n = this.params.polyModulusDegree;
    const words = new Uint32Array(bytes.buffer, PT_DATA, 2 * n * lv.primes.length); // little-endian lo, hi per value
    const buf = new Uint32Array(8192);
    let bi = buf.length;
    const next = (): number => {
      if (bi === buf.length) {
        crypto.getRandomValues(buf);
        bi = 0;
      }
      return buf[bi++]!;
    };
    lv.primes.forEach((q, k) => {
      const bits = q.toString(2).length; // 33 … 60 (SEAL primes are > 2^32 here); the hi word has bits − 32 bits
      if (bits <= 32) throw new FheError("bad-parameters", `prime ${q} is too small for the masked sum`);
      const hiMask = 2 ** (bits - 32) - 1;
      const qHi = Number(q >> 32n);
      const qLo = Number(q & 0xffffffffn);
      let sumLo = 0;
      let sumHi = 0;
      const base = 2 * k * n;
      for (let i = 0; i < n - 1; i++) {
        let hi: number, lo: number;
        do {
          hi = next() & hiMask;
          lo = next();
        } while (hi > qHi || (hi === qHi && lo >= qLo));
        words[base + 2 * i] = lo;
        words[base + 2 * i + 1] = hi;
        sumLo += lo; // < 2^45 and 2^41: exact in a double
        sumHi += hi;
      }
      const sum = (BigInt(sumHi) << 32n) + BigInt(sumLo);
      let last = (BigInt(n) * c0 - sum) % q;
      if (last < 0n) last += q;
      words[base + 2 * (n - 1)] = Number(last & 0xffffffffn);
      words[base + 2 * (n - 1) + 1] = Number(last >> 32n);
    });
    return this.loadPlain(bytes, own);
  }

  /**
   * The constant coefficient of a (decrypted) NTT-form plaintext at a level of this context,
   * centred in (−Q/2, Q/2] and returned as a double: (Σ of its N values mod q)·N⁻¹ per prime,
   * joined by CRT ({@link maskPlain}'s identity read backwards). Throws FheError("bad-ciphertext")
   * if the plaintext is not at a level of this context.
   */
  constantCoefficient(pt: Plaintext): number {
    const level = this.levelOf(pt);
    const lv = this.levels[level];
    if (!lv) throw new FheError("bad-ciphertext", "plaintext is not at a level of the model's parameters");
    const bytes = new Uint8Array(pt.saveToArray(this.seal.ComprModeType.none) as Uint8Array);
    const n = this.params.polyModulusDegree;
    if (bytes.length < PT_DATA + 8 * n * lv.primes.length) throw new FheError("bad-ciphertext", "plaintext is shorter than its level");
    const terms = nttConstantTerms(new Uint32Array(bytes.buffer, bytes.byteOffset + PT_DATA, 2 * n * lv.primes.length), n, lv.primes);
    let Q = 1n;
    let x = 0n;
    lv.primes.forEach((q, k) => {
      const c = terms[k]!;
      // CRT: x ≡ previous residues mod Q, ≡ c mod q
      const t = (((c - x) % q) + q) % q * modInverse(Q % q, q) % q;
      x += Q * t;
      Q *= q;
    });
    return Number(x > Q / 2n ? x - Q : x);
  }

  /** Encodes `values` (≤ slots; zero-padded) at level 0 with scale Δ. */
  encode(values: Float64Array, own: Own, scale = this.scale): Plaintext {
    if (values.length > this.slots) throw new FheError("oversized", `${values.length} values exceed ${this.slots} slots`);
    const pt = own(new this.seal.Plaintext());
    this.encoder.encode(values, scale, pt);
    return pt;
  }

  /** Upper bound on the serialised size of a 2-polynomial ciphertext at level 0. */
  maxCiphertextBytes(): number {
    const l0 = this.levels[0]!;
    return 2 * this.params.polyModulusDegree * l0.primes.length * 8 + 256;
  }

  /**
   * Loads a ciphertext sent by a peer, refusing anything but a fresh-shaped one: uncompressed
   * (SEAL would inflate a zstd/zlib stream without bound), at most {@link maxCiphertextBytes}, valid for this context, size 2, NTT form, at `level`, with
   * scale within 2^-20 (relative) of `scale`. Throws FheError("oversized" | "bad-ciphertext").
   */
  loadCiphertext(bytes: Uint8Array, own: Own, level = 0, scale = this.scale): Ciphertext {
    if (bytes.length > this.maxCiphertextBytes()) throw new FheError("oversized", `ciphertext of ${bytes.length} bytes exceeds ${this.maxCiphertextBytes()}`);
    if (bytes.length < HEADER || bytes[0] !== 0x5e || bytes[1] !== 0xa1) throw new FheError("bad-ciphertext", "not a SEAL ciphertext");
    if (bytes[5] !== 0) throw new FheError("bad-ciphertext", "compressed ciphertexts are not accepted (decompression is unbounded); send compression \"none\"");
    const ct = own(new this.seal.Ciphertext());
    try {
      ct.loadFromArray(this.context, bytes);
    } catch (e) {
      throw new FheError("bad-ciphertext", "ciphertext does not load under the model's CKKS parameters", { cause: e });
    }
    if (ct.size() !== 2) throw new FheError("bad-ciphertext", `ciphertext has ${ct.size()} polynomials, expected 2`);
    if (!ct.isNttForm()) throw new FheError("bad-ciphertext", "ciphertext is not in NTT form");
    const lv = this.levelOf(ct);
    if (lv !== level) throw new FheError("bad-ciphertext", `ciphertext is at level ${lv}, expected ${level}`);
    if (!(Math.abs(ct.scale() / scale - 1) < 2 ** -20)) throw new FheError("bad-ciphertext", `ciphertext scale ${ct.scale()} differs from the expected ${scale}`);
    return ct;
  }

  /** Bytes of a size-2 ciphertext's data (two polynomials, 8 bytes per residue) at `level`. */
  ciphertextDataBytes(level: number): number {
    return 2 * this.params.polyModulusDegree * this.levels[level]!.primes.length * 8;
  }

  /**
   * Whether `bytes` has the length of a size-2 ciphertext at `level` serialised with both
   * polynomials (not seeded: a seeded one carries c1 as a seed). For bytes SEAL accepted at that
   * level, the data is then exactly the ciphertext's (SEAL refuses residues ≥ q).
   */
  isFullCiphertext(bytes: Uint8Array, level: number): boolean {
    return bytes.length === CT_DATA + this.ciphertextDataBytes(level);
  }

  /**
   * The data of a serialised size-2 ciphertext at `level` (c0 then c1, per prime N little-endian
   * u64 residues, NTT form), as a view into `bytes`. Only for bytes {@link loadCiphertext} has
   * accepted at that level (it checks the residues and the shape). Throws
   * FheError("bad-ciphertext") unless they are {@link isFullCiphertext}.
   */
  ciphertextData(bytes: Uint8Array, level: number): Uint8Array {
    if (!this.isFullCiphertext(bytes, level)) throw new FheError("bad-ciphertext", "not a full (unseeded) ciphertext at its level");
    return bytes.subarray(CT_DATA);
  }

  /**
   * A serialised ciphertext like `template` (an accepted size-2 ciphertext at `level`) with
   * scale `scale` and its data left zero, to be filled through {@link ciphertextData} and loaded
   * with {@link loadComputed}.
   */
  blankCiphertextLike(template: Uint8Array, level: number, scale: number): Uint8Array {
    if (!this.isFullCiphertext(template, level)) throw new FheError("bad-ciphertext", "not a full (unseeded) ciphertext at its level");
    const out = new Uint8Array(template.length);
    out.set(template.subarray(0, CT_DATA));
    new DataView(out.buffer).setFloat64(CT_SCALE, scale, true);
    return out;
  }

  /**
   * Loads a ciphertext the server computed itself ({@link blankCiphertextLike} filled in), checking
   * that SEAL reads it back at `level` with exactly `scale` (the layout assumption).
   * Throws FheError("seal-error") otherwise.
   */
  loadComputed(bytes: Uint8Array, level: number, scale: number, own: Own): Ciphertext {
    const ct = own(new this.seal.Ciphertext());
    scoped(this.seal, () => ct.loadFromArray(this.context, bytes));
    if (ct.size() !== 2 || this.levelOf(ct) !== level || ct.scale() !== scale) throw new FheError("seal-error", "a computed ciphertext does not read back as written");
    return ct;
  }

  /** Serialises a ciphertext (copied out of WASM memory). */
  saveCiphertext(ct: Ciphertext, compression: Compression): Uint8Array {
    return new Uint8Array(ct.saveToArray(this.compr(compression)) as Uint8Array);
  }
}

const cache = new Map<string, CkksContext>();

/**
 * The constant coefficient, per prime, of a polynomial stored as SEAL stores an NTT-form RNS
 * polynomial (for each prime in turn, its N values as little-endian u64, here as lo/hi u32 pairs
 * from `words[0]`): (Σ of the N values mod q)·N⁻¹ mod q ({@link CkksContext.maskPlain}'s
 * identity). Returns one residue per prime, each in [0, q).
 */
export function nttConstantTerms(words: Uint32Array, n: number, primes: readonly bigint[]): bigint[] {
  if (words.length < 2 * n * primes.length) throw new FheError("bad-ciphertext", "polynomial is shorter than its level");
  const N = BigInt(n);
  return primes.map((q, k) => {
    let sumLo = 0;
    let sumHi = 0;
    for (let i = 2 * k * n, end = 2 * (k + 1) * n; i < end; i += 2) {
      sumLo += words[i]!; // < 2^45 and 2^41 for N ≤ 2^13… 2^15: exact in a double
      sumHi += words[i + 1]!;
    }
    return ((((BigInt(sumHi) << 32n) + BigInt(sumLo)) % q) * modInverse(N % q, q)) % q;
  });
}

const sqrtCache = new Map<string, bigint>();

/** a⁻¹ mod a prime m (Fermat). */
function modInverse(a: bigint, m: bigint): bigint {
  return powMod(a, m - 2n, m);
}

function powMod(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

/**
 * ψ^(N/2) mod q for SEAL's NTT root ψ of the prime q (the minimal primitive 2N-th root of unity,
 * as SEAL's NTT tables choose it): the value of X^(N/2) at ψ, a square root of −1. It must be
 * this root, not just any square root of −1: with another sign for some prime, the RNS residues
 * would describe a huge polynomial instead of X^(N/2) — decryption at one prime still looks
 * right, key switching does not. Throws FheError("bad-parameters") if q is not an NTT prime for N.
 */
function sqrtMinusOne(q: bigint, n: number): bigint {
  const key = `${q}/${n}`;
  const hit = sqrtCache.get(key);
  if (hit !== undefined) return hit;
  const m = BigInt(2 * n);
  if ((q - 1n) % m !== 0n) throw new FheError("bad-parameters", `${q} is not an NTT prime for N = ${n}`);
  let root = 0n;
  for (let g = 2n; g < 10_000n && root === 0n; g++) {
    const r = powMod(g, (q - 1n) / m, q);
    if (powMod(r, BigInt(n), q) === q - 1n) root = r; // a primitive 2N-th root
  }
  if (root === 0n) throw new FheError("bad-parameters", `no primitive ${2 * n}-th root of unity modulo ${q}`);
  // the minimal one among root^k, k odd (SEAL: try_minimal_primitive_root)
  const sq = (root * root) % q;
  let cur = root;
  let min = root;
  for (let k = 0; k < n; k++) {
    if (cur < min) min = cur;
    cur = (cur * sq) % q;
  }
  const i = powMod(min, BigInt(n / 2), q);
  sqrtCache.set(key, i);
  return i;
}
