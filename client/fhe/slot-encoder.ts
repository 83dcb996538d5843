/**
 * CKKS encoding for the querier's batch encryption, without SEAL's encoder: the canonical
 * embedding's inverse as one complex FFT of size N/2 in JavaScript, and the NTT of the
 * resulting integer polynomials done by SEAL two at a time (as the two polynomials of a
 * coefficient-form "ciphertext", `cipherTransformToNttInplace`). The plaintexts are the ones
 * SEAL's encoder would make (up to ±1 in a coefficient from floating-point rounding, an error of
 * 1/scale), in NTT form at level 0.
 *
 * Why: SEAL's `CKKSEncoder` takes real vectors only and runs an FFT of size N (the slots and
 * their conjugates), so two rows per slot (a + J·b, J = X^(N/2), {@link CkksContext.complexConstantPlain})
 * cost two encodes and a plaintext product with J on the ciphertext. Here a + J·b is one
 * encoding: P = A + X^(N/2)·B where A + i·B = C, C(ζ^(4s+1)) = the slot values (see
 * {@link SlotEncoder}), so the pair costs one FFT of size N/2 and the NTTs of one plaintext.
 * {@link SlotEncoder.encryptPairs} also replaces SEAL's symmetric encryption (whose Blake2 PRNG
 * is most of its time) by the same RLWE encryption with the platform's CSPRNG, SEAL doing the
 * NTTs and the product with the secret key (docs/fhe.md, "Keys and encryption").
 *
 * Errors: FheError("oversized") for a vector longer than N/2; FheError("seal-error") if SEAL's
 * serialisation layout is not the expected one (checked once, in the constructor) or SEAL fails.
 */
import type { Decryptor, Plaintext } from "node-seal/throws";
import type { CkksContext } from "./context.ts";
import { FheError } from "./errors.ts";
import { scoped, type Own } from "./seal.ts";

const HEADER = 16;
const PT_DATA = HEADER + 32 + 8 + 8 + HEADER + 8; // as in context.ts: header, parms_id, coeff_count, scale, DynArray header, count
const CT_NTT_FLAG = HEADER + 32; // Ciphertext::save_members: parms_id, then is_ntt_form (one byte), size, N, k, scale, …
/** Above this magnitude a coefficient is no longer an exact integer in a double: such vectors go through SEAL's encoder. */
const MAX_COEFF = 2 ** 52;

/**
 * Slot-to-polynomial encoding at level 0 of one context. SEAL's slot i is the value at
 * ζ^(3^i mod 2N) (ζ = e^(iπ/N)); for P = A + X^(N/2)·B (A, B real of degree < N/2) and
 * C = A + i·B, P(ρ) = C(ρ) where ρ^(N/2) = i (exponent ≡ 1 mod 4) and P(ρ) = conj(C(ρ̄)) where
 * ρ^(N/2) = −i. The N/2 exponents 4s + 1 make C(ζ^(4s+1)) = Σ_k (c_k ζ^k)·ω^(sk), ω = e^(2πi/(N/2)):
 * an FFT of size N/2. Slot i with value re_i + J·im_i (J's value at slot i is ρ_i^(N/2) = ±i)
 * therefore puts re_i + i·im_i at s(i) in both cases — the same polynomial as SEAL's
 * encode(re) + X^(N/2)·encode(im).
 */
export class SlotEncoder {
  private readonly m: number;
  private readonly n: number;
  /** Bit-reversed FFT position of each slot. */
  private readonly pos: Int32Array;
  private readonly cosW: Float64Array;
  private readonly sinW: Float64Array;
  /** Twist e^(−iπk/N)/M per coefficient k < M. */
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  /** Coefficients of the current polynomial (exact integers as doubles). */
  private readonly coeffs: Float64Array;
  private readonly primes: number[];
  private readonly primeHi: number[];
  private readonly primeLo: number[];
  /** Bit length of each prime (the rejection sampler's mask). */
  private readonly primeBits: number[];
  /** Serialised coefficient-form ciphertext of size 2 at level 0 (data = the last 2·k·N words). */
  private readonly ctTemplate: Uint8Array;
  private readonly words: Uint32Array;

  constructor(private readonly ctx: CkksContext) {
    const n = ctx.params.polyModulusDegree;
    const m = n / 2;
    this.n = n;
    this.m = m;
    const logM = Math.log2(m);
    this.pos = new Int32Array(m);
    let t = 1;
    for (let i = 0; i < m; i++) {
      const s = t % 4 === 1 ? (t - 1) / 4 : (2 * n - t - 1) / 4;
      this.pos[i] = bitReverse(s, logM);
      t = (t * 3) % (2 * n);
    }
    this.cosW = new Float64Array(m / 2);
    this.sinW = new Float64Array(m / 2);
    for (let j = 0; j < m / 2; j++) {
      this.cosW[j] = Math.cos((-2 * Math.PI * j) / m);
      this.sinW[j] = Math.sin((-2 * Math.PI * j) / m);
    }
    this.twRe = new Float64Array(m);
    this.twIm = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      this.twRe[k] = Math.cos((-Math.PI * k) / n) / m;
      this.twIm[k] = Math.sin((-Math.PI * k) / n) / m;
    }
    this.re = new Float64Array(m);
    this.im = new Float64Array(m);
    this.coeffs = new Float64Array(n);
    const lv = ctx.levels[0]!;
    this.primes = lv.primes.map(Number);
    this.primeHi = lv.primes.map((q) => Number(q >> 32n));
    this.primeLo = lv.primes.map((q) => Number(q & 0xffffffffn));
    this.primeBits = lv.primes.map((q) => q.toString(2).length);
    this.words = new Uint32Array(2 * 2 * n * lv.primes.length);
    this.scratch = new Uint32Array(2 * n * lv.primes.length);
    this.bWords = new Uint32Array(2 * n * lv.primes.length);
    this.ctTemplate = scoped(ctx.seal, (own) => {
      const ct = own(new ctx.seal.Ciphertext());
      ct.reserve(ctx.context, 2);
      ct.resize(2);
      const bytes = ctx.saveCiphertext(ct, "none");
      return bytes;
    });
    const dv = new DataView(this.ctTemplate.buffer);
    if (this.ctTemplate.length < 8 * this.words.length / 2 + CT_NTT_FLAG + 41 || dv.getBigUint64(CT_NTT_FLAG + 1, true) !== 2n || dv.getBigUint64(CT_NTT_FLAG + 9, true) !== BigInt(n) || dv.getBigUint64(CT_NTT_FLAG + 17, true) !== BigInt(lv.primes.length))
      throw new FheError("seal-error", "unexpected ciphertext layout");
    this.ctTemplate[CT_NTT_FLAG] = 0; // coefficient form
    if (lv.template.length !== PT_DATA + 8 * n * lv.primes.length) throw new FheError("seal-error", "unexpected plaintext layout");
  }

  /**
   * Plaintexts (NTT form, level 0, scale `scale`) for re[i] + J·im[i] (im[i] undefined: a real
   * vector), each at most N/2 values, owned by `own`; `undefined` for a vector whose polynomial
   * has a coefficient of 2^52 or more (not exact in a double) or is zero: the caller encodes it
   * with SEAL's encoder. Throws FheError("oversized") for a vector longer than N/2.
   */
  encode(re: Float64Array[], im: (Float64Array | undefined)[], scale: number, own: Own): (Plaintext | undefined)[] {
    const { ctx } = this;
    const polyBytes = 8 * this.n * this.primes.length;
    return this.nttPolys(re, im, scale, false, (ntt, at) => {
      const pt = ctx.levels[0]!.template.slice();
      new DataView(pt.buffer).setFloat64(HEADER + 32 + 8, scale, true);
      pt.set(ntt.subarray(at, at + polyBytes), PT_DATA);
      const p = own(new ctx.seal.Plaintext());
      p.loadFromArray(ctx.context, pt);
      return p;
    });
  }

  /**
   * Symmetric encryptions of re[i] + J·im[i] under the secret key behind `decryptor`, at level 0
   * and scale `scale`, serialised uncompressed (in full, not seeded); `undefined` where
   * {@link encode} would pass the vector on. The ciphertext is SEAL's symmetric RLWE encryption,
   * (c0, c1) = (P + e − b·s, b), made with SEAL doing only the NTTs and the product b·s:
   * b uniform modulo each prime (in NTT form, as SEAL samples it) by rejection from
   * `crypto.getRandomValues` (the platform's CSPRNG); e from SEAL's default noise distribution,
   * the centred binomial of 2 × 21 bits (standard deviation ≈ 3.24), in coefficient form, added
   * to round(scale·P) before the NTT; c0 is the decryption of (P + e, −b), which is
   * P + e + (−b)·s — the secret key is used only through the querier's own decryptor. Per
   * ciphertext: one FFT of size N/2 and the NTTs of one polynomial, instead of two SEAL encodes,
   * SEAL's noise and uniform sampling (its Blake2 PRNG: most of an encryption's time), the NTT of
   * the noise and a product with J.
   */
  encryptPairs(re: Float64Array[], im: (Float64Array | undefined)[], scale: number, decryptor: Decryptor): (Uint8Array | undefined)[] {
    const { ctx } = this;
    const polyWords = 2 * this.n * this.primes.length;
    const polyBytes = 4 * polyWords;
    const tpl = this.outTemplate(scale);
    return this.nttPolys(re, im, scale, true, (ntt, at) =>
      scoped(ctx.seal, (own) => {
        const b = this.uniform();
        const bytes = new Uint8Array(tpl.length); // the data is written below: copy the header only
        const c0 = bytes.length - 2 * polyBytes;
        bytes.set(tpl.subarray(0, c0));
        bytes.set(ntt.subarray(at, at + polyBytes), c0);
        bytes.set(new Uint8Array(this.scratch.buffer, 0, polyBytes), c0 + polyBytes);
        const ct = own(new ctx.seal.Ciphertext());
        ct.loadFromArray(ctx.context, bytes);
        const pt = own(new ctx.seal.Plaintext());
        decryptor.decrypt(ct, pt); // P + e − b·s, NTT form
        const dec = pt.saveToArray(ctx.compr("none")) as Uint8Array;
        if (dec.length !== PT_DATA + polyBytes) throw new FheError("seal-error", "unexpected plaintext layout");
        bytes.set(dec.subarray(PT_DATA), c0);
        bytes.set(new Uint8Array(b.buffer, 0, polyBytes), c0 + polyBytes);
        return bytes;
      }, "seal-error"),
    );
  }

  /**
   * Zeroes every buffer that held plaintext values, error samples or random bytes (with a
   * ciphertext and its plaintext, an error sample would give away b·s). The encoder stays usable.
   */
  wipe(): void {
    for (const a of [this.re, this.im, this.coeffs, this.words, this.rnd, this.scratch, this.bWords]) a.fill(0);
  }

  /**
   * Encodes each vector (and, with `noise`, adds a fresh error polynomial), NTTs the
   * polynomials two at a time, and calls `take(nttBytes, offset)` for each one in turn (the
   * polynomial's N·k little-endian u64 at `offset`).
   */
  private nttPolys<T>(re: Float64Array[], im: (Float64Array | undefined)[], scale: number, noise: boolean, take: (ntt: Uint8Array, at: number) => T): (T | undefined)[] {
    const out: (T | undefined)[] = [];
    const { ctx } = this;
    const polyWords = 2 * this.n * this.primes.length;
    const pending: number[] = [];
    const flush = () => {
      if (!pending.length) return;
      // a lone polynomial is copied into c1 as well (a zero c1 would be a transparent ciphertext, which SEAL refuses)
      if (pending.length === 1) this.words.copyWithin(polyWords, 0, polyWords);
      const bytes = new Uint8Array(this.ctTemplate.length);
      const dataAt = bytes.length - 2 * 4 * polyWords;
      bytes.set(this.ctTemplate.subarray(0, dataAt));
      bytes.set(new Uint8Array(this.words.buffer), dataAt);
      const ntt = scoped(
        ctx.seal,
        (o) => {
          const ct = o(new ctx.seal.Ciphertext());
          ct.loadFromArray(ctx.context, bytes);
          ctx.evaluator.cipherTransformToNttInplace(ct);
          return ctx.saveCiphertext(ct, "none");
        },
        "seal-error",
      );
      const nttAt = ntt.length - 2 * 4 * polyWords;
      pending.forEach((idx, h) => {
        out[idx] = take(ntt, nttAt + h * 4 * polyWords);
      });
      pending.length = 0;
    };
    re.forEach((v, i) => {
      out.push(undefined);
      if (!this.coefficients(v, im[i], scale)) return;
      if (noise) this.addNoise();
      this.reduce(pending.length * polyWords);
      pending.push(i);
      if (pending.length === 2) flush();
    });
    flush();
    return out;
  }

  private templates = new Map<number, Uint8Array>();

  /** A serialised NTT-form ciphertext of size 2 at level 0 with scale `scale` (data: c0, then c1, at the end). */
  private outTemplate(scale: number): Uint8Array {
    let t = this.templates.get(scale);
    if (!t) {
      t = this.ctTemplate.slice();
      t[CT_NTT_FLAG] = 1;
      new DataView(t.buffer).setFloat64(CT_NTT_FLAG + 25, scale, true);
      this.templates.set(scale, t);
    }
    return t;
  }

  /** Adds a centred binomial error (2 × 21 bits, SEAL's default `sample_poly_cbd`) to every coefficient. */
  private addNoise(): void {
    const { coeffs } = this;
    const r = this.random(coeffs.length * 6);
    for (let i = 0, o = 0; i < coeffs.length; i++, o += 6) {
      const x = r[o]! | (r[o + 1]! << 8) | ((r[o + 2]! & 0x1f) << 16);
      const y = r[o + 3]! | (r[o + 4]! << 8) | ((r[o + 5]! & 0x1f) << 16);
      coeffs[i] = coeffs[i]! + popcount(x) - popcount(y);
    }
  }

  /** `count` bytes from `crypto.getRandomValues` (in its 64 KiB steps), into a reused buffer. */
  private random(count: number): Uint8Array {
    if (this.rnd.length < count) this.rnd = new Uint8Array(count);
    const r = this.rnd.subarray(0, count);
    for (let at = 0; at < count; at += 65536) crypto.getRandomValues(r.subarray(at, Math.min(count, at + 65536)));
    return r;
  }

  private rnd = new Uint8Array(0);
  /** A polynomial's words (lo, hi per value), reused. */
  private readonly scratch: Uint32Array;

  private readonly bWords: Uint32Array;

  /**
   * A fresh uniformly random polynomial b modulo each prime (lo, hi words), by rejection
   * sampling, in a reused buffer; −b into {@link scratch}.
   */
  private uniform(): Uint32Array {
    const { n } = this;
    const out = this.bWords; // copied into the ciphertext before the next call
    const neg = this.scratch;
    this.primes.forEach((_q, p) => {
      const qHi = this.primeHi[p]!;
      const qLo = this.primeLo[p]!;
      const bits = this.primeBits[p]!;
      const hiMask = bits > 32 ? 2 ** (bits - 32) - 1 : 0;
      const loMask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
      let w = 2 * n * p;
      const end = w + 2 * n;
      while (w < end) {
        const r = new Uint32Array(this.random(4 * (end - w)).buffer, 0, end - w);
        for (let i = 0; i < r.length && w < end; i += 2) {
          const hi = r[i + 1]! & hiMask;
          const lo = (r[i]! & loMask) >>> 0;
          if (hi < qHi || (hi === qHi && lo < qLo)) {
            out[w] = lo;
            out[w + 1] = hi;
            // and −b (q − b, or 0)
            if (lo === 0 && hi === 0) {
              neg[w] = 0;
              neg[w + 1] = 0;
            } else {
              const borrow = qLo < lo ? 1 : 0;
              neg[w] = (qLo - lo + borrow * 4294967296) >>> 0;
              neg[w + 1] = qHi - hi - borrow;
            }
            w += 2;
          }
        }
      }
    });
    return out;
  }

  /** Fills {@link coeffs} with round(scale·P); false if a coefficient reaches 2^52 or all are 0. */
  private coefficients(a: Float64Array, b: Float64Array | undefined, scale: number): boolean {
    const { m, pos, re, im } = this;
    if (a.length > m || (b && b.length > m)) throw new FheError("oversized", `${Math.max(a.length, b?.length ?? 0)} values exceed ${m} slots`);
    re.fill(0);
    im.fill(0);
    for (let i = 0; i < a.length; i++) re[pos[i]!] = a[i]!;
    if (b) for (let i = 0; i < b.length; i++) im[pos[i]!] = b[i]!;
    // in-place radix-2 FFT (input in bit-reversed order), kernel e^(−2πi jk/M)
    const { cosW, sinW } = this;
    for (let len = 2; len <= m; len *= 2) {
      const half = len / 2;
      const step = m / len;
      for (let s = 0; s < m; s += len) {
        for (let j = 0; j < half; j++) {
          const wr = cosW[j * step]!;
          const wi = sinW[j * step]!;
          const u = s + j;
          const v = u + half;
          const xr = re[v]! * wr - im[v]! * wi;
          const xi = re[v]! * wi + im[v]! * wr;
          re[v] = re[u]! - xr;
          im[v] = im[u]! - xi;
          re[u] = re[u]! + xr;
          im[u] = im[u]! + xi;
        }
      }
    }
    const { twRe, twIm, coeffs } = this;
    let nonzero = false;
    for (let k = 0; k < m; k++) {
      const cr = Math.round((re[k]! * twRe[k]! - im[k]! * twIm[k]!) * scale);
      const ci = Math.round((re[k]! * twIm[k]! + im[k]! * twRe[k]!) * scale);
      if (!(Math.abs(cr) < MAX_COEFF && Math.abs(ci) < MAX_COEFF)) return false;
      coeffs[k] = cr;
      coeffs[k + m] = ci;
      nonzero ||= cr !== 0 || ci !== 0;
    }
    return nonzero;
  }

  /** Writes {@link coeffs} mod each prime as little-endian u64 (lo, hi words) at words[at …]. */
  private reduce(at: number): void {
    const { n, coeffs, words } = this;
    this.primes.forEach((q, p) => {
      const qHi = this.primeHi[p]!;
      const qLo = this.primeLo[p]!;
      const small = q <= MAX_COEFF; // otherwise |c| < 2^52 < q
      let w = at + 2 * n * p;
      for (let i = 0; i < n; i++, w += 2) {
        const c = coeffs[i]!;
        let u = c < 0 ? -c : c;
        if (small && u >= q) {
          u -= Math.floor(u / q) * q; // exact: every term < 2^53; the quotient may be off by one
          if (u < 0) u += q;
          else if (u >= q) u -= q;
        }
        if (c >= 0 || u === 0) {
          words[w] = u >>> 0;
          words[w + 1] = Math.floor(u / 4294967296);
        } else {
          // q − u in two 32-bit words
          const uLo = u >>> 0;
          const uHi = Math.floor(u / 4294967296);
          const borrow = qLo < uLo ? 1 : 0;
          words[w] = (qLo - uLo + borrow * 4294967296) >>> 0;
          words[w + 1] = qHi - uHi - borrow;
        }
      }
    });
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function bitReverse(x: number, bits: number): number {
  let r = 0;
  for (let i = 0; i < bits; i++) {
    r = (r << 1) | (x & 1);
    x >>= 1;
  }
  return r;
}
