/**
 * Plaintext-constant linear maps computed directly on ciphertexts' RNS data (NTT form, as SEAL
 * serialises it): out_k = Σ_j W_jk·x_j mod q per prime, the same integers SEAL's
 * `multiplyPlain` (by a constant plaintext) + `add` chain produces, without a product per
 * (j, k). In node-seal (WASM, no 64×64→128-bit multiply) each of SEAL's modular products costs
 * ≈ 10 ns; here the weights are small integers (a_jk, at most `weightBits` bits, times a common
 * power of two c), the residues are cut into 18-bit limbs, and Σ_j a_jk·limb is accumulated
 * exactly in doubles (< 2^53) with one reduction per output residue — about 1 ns per
 * limb product.
 */
import { FheError } from "./errors.ts";

/** Limb width of the residues. */
const LIMB = 18;
const LIMB_MASK = (1 << LIMB) - 1;
/** Residues per block (all inputs' limbs of a block stay in cache). */
const BLOCK = 512;

/** Integer weights for {@link rnsLinear}: W_jk = c·a[j·outputs + k]. */
export interface IntWeights {
  inputs: number;
  outputs: number;
  /** a_jk, row-major by input j; |a| < 2^{@link weightBits}(inputs). */
  a: Float64Array;
  /** The common factor, a power of two ≥ 1. */
  c: number;
}

/** Bits allowed for |a_jk| so that Σ_j |a_jk|·(2^18 − 1) < 2^53 over `inputs` terms. */
export function weightBits(inputs: number): number {
  return 53 - LIMB - Math.ceil(Math.log2(Math.max(2, inputs))) - 1;
}

/**
 * Rounds real weights w[j][k] (times `scale`) to {@link IntWeights}: c = the smallest power of
 * two with every |w·scale/c| < 2^weightBits, a = round(w·scale/c); a weight rounding to 0
 * becomes a = 1 (as CkksContext.constantPlain encodes a zero constant as one unit: never a
 * transparent product). Throws FheError("bad-model") for a non-finite weight.
 */
export function intWeights(w: (j: number, k: number) => number, inputs: number, outputs: number, scale: number): IntWeights {
  let max = 0;
  for (let j = 0; j < inputs; j++)
    for (let k = 0; k < outputs; k++) {
      const v = Math.abs(w(j, k) * scale);
      if (!Number.isFinite(v)) throw new FheError("bad-model", `weight (${j}, ${k}) is not finite`);
      max = Math.max(max, v);
    }
  const bits = weightBits(inputs);
  let c = 1;
  while (max / c >= 2 ** bits - 1) c *= 2;
  const a = new Float64Array(inputs * outputs);
  for (let j = 0; j < inputs; j++)
    for (let k = 0; k < outputs; k++) {
      const v = Math.round((w(j, k) * scale) / c);
      a[j * outputs + k] = v === 0 ? 1 : v;
    }
  return { inputs, outputs, a, c };
}

/** Columns (outputs) `from` … `to` − 1 of `w`, with its common factor. Throws RangeError for an empty or out-of-bounds range. */
export function weightColumns(w: IntWeights, from: number, to: number): IntWeights {
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= w.outputs && from < to)) throw new RangeError(`columns [${from}, ${to}) are not a non-empty part of [0, ${w.outputs})`);
  if (from === 0 && to === w.outputs) return w;
  const k = to - from;
  const a = new Float64Array(w.inputs * k);
  for (let j = 0; j < w.inputs; j++) a.set(w.a.subarray(j * w.outputs + from, j * w.outputs + to), j * k);
  return { inputs: w.inputs, outputs: k, a, c: w.c };
}

/** v mod q in [0, q) for an integer-valued double (fmod is exact). */
function mod(v: number, q: number): number {
  const r = v % q;
  return r < 0 ? r + q : r;
}

/** (a + b) mod q for a, b in [0, q), exact below 2^53 (a + b itself may not be). */
function addMod(a: number, b: number, q: number): number {
  const t = q - b;
  return a >= t ? a - t : a + b;
}

/** The `nl` 18-bit limbs of the B residues in `src` (lo, hi u32 words) into X[x0 + l·B + r]. */
function limbs(src: Uint32Array, X: Float64Array, x0: number, nl: number, B: number): void {
  for (let r = 0; r < B; r++) {
    const lo = src[2 * r]!;
    X[x0 + r] = lo & LIMB_MASK;
    if (nl > 1) X[x0 + B + r] = (lo >>> LIMB) + (src[2 * r + 1]! & 0xf) * 2 ** (32 - LIMB);
    if (nl > 2) X[x0 + 2 * B + r] = src[2 * r + 1]! >>> 4;
  }
}

/** v mod q for |v| < 2^53 and q < 2^34, floor-based (exact: floor(v/q)·q stays below 2^53). */
function modSmall(v: number, q: number): number {
  let s = v - Math.floor(v / q) * q;
  if (s >= q) s -= q;
  else if (s < 0) s += q;
  return s;
}

/** acc[0, len) += a·X[x0, x0 + len) and acc2[0, len) += a2·X[x0, x0 + len) (one pass over X for two outputs). */
function madd2(acc: Float64Array, acc2: Float64Array, X: Float64Array, x0: number, a: number, a2: number, len: number): void {
  for (let r = 0; r < len; r++) {
    const x = X[x0 + r]!;
    acc[r]! += x * a;
    acc2[r]! += x * a2;
  }
}

/**
 * v·2^k mod q for v in [0, q), k ≤ 18, q in [2^34, 2^53): the quotient f = round(v·2^k/q) < 2^19
 * times q is taken as qh·f + ql·f with qh = q rounded down to a multiple of 2^20 (≤ 33
 * significant bits) and ql < 2^20, both exact; the remainder, within ±q/2 + 1 of 0, is exact too.
 */
function mulPow2Big(v: number, k: number, q: number, qh: number, ql: number): number {
  const t = v * 2 ** k;
  const f = Math.round(t / q);
  const r = t - qh * f - ql * f;
  return r < 0 ? r + q : r;
}

/** madd2 for four inputs at once (X[x0 + i·len + r], i < 4: fewer loads and stores of the sums). */
function madd4x2(acc: Float64Array, acc2: Float64Array, X: Float64Array, x0: number, len: number, a: Float64Array, b: Float64Array): void {
  const a0 = a[0]!, a1 = a[1]!, a2 = a[2]!, a3 = a[3]!;
  const b0 = b[0]!, b1 = b[1]!, b2 = b[2]!, b3 = b[3]!;
  const x1 = x0 + len, x2 = x0 + 2 * len, x3 = x0 + 3 * len;
  for (let r = 0; r < len; r++) {
    const u = X[x0 + r]!, v = X[x1 + r]!, w = X[x2 + r]!, z = X[x3 + r]!;
    acc[r]! += u * a0 + v * a1 + w * a2 + z * a3;
    acc2[r]! += u * b0 + v * b1 + w * b2 + z * b3;
  }
}

function madd8x2(acc: Float64Array, acc2: Float64Array, X: Float64Array, x0: number, len: number, a: Float64Array, b: Float64Array): void {
  const a0 = a[0]!, a1 = a[1]!, a2 = a[2]!, a3 = a[3]!, a4 = a[4]!, a5 = a[5]!, a6 = a[6]!, a7 = a[7]!;
  const b0 = b[0]!, b1 = b[1]!, b2 = b[2]!, b3 = b[3]!, b4 = b[4]!, b5 = b[5]!, b6 = b[6]!, b7 = b[7]!;
  for (let r = 0; r < len; r++) {
    const x = x0 + r;
    const u0 = X[x]!, u1 = X[x + len]!, u2 = X[x + 2 * len]!, u3 = X[x + 3 * len]!, u4 = X[x + 4 * len]!, u5 = X[x + 5 * len]!, u6 = X[x + 6 * len]!, u7 = X[x + 7 * len]!;
    acc[r]! += u0 * a0 + u1 * a1 + u2 * a2 + u3 * a3 + u4 * a4 + u5 * a5 + u6 * a6 + u7 * a7;
    acc2[r]! += u0 * b0 + u1 * b1 + u2 * b2 + u3 * b3 + u4 * b4 + u5 * b5 + u6 * b6 + u7 * b7;
  }
}

/** a mod q for |a| < 2^52 ≤ q: one addition of q away from [0, q) (fmod otherwise). */
function modNear(a: number, q: number): number {
  return a < 0 ? (a > -q ? a + q : mod(a, q)) : a < q ? a : mod(a, q);
}

/** Σ_l acc[l·B + r]·2^(18·l) · c mod q into dst's B residues (lo, hi u32 words); |acc| < 2^52. */
function reduce(acc: Float64Array, nl: number, B: number, q: number, c: number, dst: Uint32Array): void {
  const cBits = Math.log2(c);
  if (q < 2 ** 34) {
    for (let r = 0; r < B; r++) {
      let v = modSmall(acc[(nl - 1) * B + r]!, q);
      for (let l = nl - 2; l >= 0; l--) v = addMod(modSmall(v * 2 ** LIMB, q), modSmall(acc[l * B + r]!, q), q);
      if (c !== 1) v = modSmall(v * c, q);
      dst[2 * r] = v >>> 0;
      dst[2 * r + 1] = Math.floor(v / 2 ** 32);
    }
    return;
  }
  const qh = Math.floor(q / 2 ** 20) * 2 ** 20;
  const ql = q - qh;
  for (let r = 0; r < B; r++) {
    let v = modNear(acc[(nl - 1) * B + r]!, q);
    for (let l = nl - 2; l >= 0; l--) v = addMod(mulPow2Big(v, LIMB, q, qh, ql), modNear(acc[l * B + r]!, q), q);
    for (let b = cBits; b > 0; b -= LIMB) v = mulPow2Big(v, Math.min(b, LIMB), q, qh, ql);
    dst[2 * r] = v >>> 0;
    dst[2 * r + 1] = Math.floor(v / 2 ** 32);
  }
}

/**
 * out[k] = Σ_j c·a_jk·in[j] mod q, residue by residue. `inputs[j]` and `outputs[k]` are the
 * data of `polys` polynomials of `primes.length` RNS components of `n` residues each, every
 * residue a little-endian u64 (SEAL's serialised layout; any byte alignment: blocks are copied
 * through an aligned scratch). Inputs must be reduced (each residue < its prime: SEAL's load
 * checks this); outputs are. The factor c must satisfy c·q < 2^53 for q < 2^34 (it does for
 * c < 2^19). Throws RangeError for mismatched shapes, a prime of 53 bits or more, or weights
 * beyond {@link weightBits}.
 */
export function rnsLinear(inputs: Uint8Array[], w: IntWeights, primes: readonly number[], n: number, polys: number, outputs: Uint8Array[]): void {
  const bytes = 8 * n * primes.length * polys;
  if (inputs.length !== w.inputs || outputs.length !== w.outputs) throw new RangeError(`expected ${w.inputs} inputs and ${w.outputs} outputs, got ${inputs.length} and ${outputs.length}`);
  if ([...inputs, ...outputs].some((x) => x.length !== bytes)) throw new RangeError(`every polynomial set must hold ${bytes} bytes`);
  if (primes.some((q) => !(q > 1 && q < 2 ** 53))) throw new RangeError("primes must be below 2^53");
  if (!(w.c >= 1 && w.c < 2 ** 19 && Number.isInteger(Math.log2(w.c)))) throw new RangeError("the common factor must be a power of two below 2^19");
  if (w.a.some((v) => !(Math.abs(v) < 2 ** weightBits(w.inputs)))) throw new RangeError("weights exceed the exact-accumulation bound");
  const J = w.inputs;
  const K = w.outputs;
  const B = Math.min(BLOCK, n);
  const maxLimbs = Math.max(...primes.map((q) => Math.ceil(Math.log2(q) / LIMB)));
  const X = new Float64Array(J * maxLimbs * B);
  const acc = new Float64Array(maxLimbs * B);
  const acc2 = new Float64Array(maxLimbs * B);
  const scratch = new Uint32Array(2 * B);
  const scratch8 = new Uint8Array(scratch.buffer);
  const flush = (k: number, off: number) => outputs[k]!.set(scratch8, off);
  // the weights of outputs k and k + 1 by input, in groups of four inputs
  const wa = new Float64Array(8);
  const wb = new Float64Array(8);
  for (let p = 0; p < polys; p++)
    for (let i = 0; i < primes.length; i++) {
      const q = primes[i]!;
      const nl = Math.ceil(Math.log2(q) / LIMB);
      const len = nl * B;
      for (let b0 = 0; b0 < n; b0 += B) {
        const off = 8 * ((p * primes.length + i) * n + b0);
        for (let j = 0; j < J; j++) {
          scratch8.set(inputs[j]!.subarray(off, off + 8 * B));
          limbs(scratch, X, j * len, nl, B);
        }
        for (let k = 0; k < K; k += 2) {
          const two = k + 1 < K;
          acc.fill(0, 0, len);
          acc2.fill(0, 0, len);
          let j = 0;
          for (; j + 8 <= J; j += 8) {
            for (let i = 0; i < 8; i++) {
              wa[i] = w.a[(j + i) * K + k]!;
              wb[i] = two ? w.a[(j + i) * K + k + 1]! : 0;
            }
            madd8x2(acc, acc2, X, j * len, len, wa, wb);
          }
          for (; j + 4 <= J; j += 4) {
            for (let i = 0; i < 4; i++) {
              wa[i] = w.a[(j + i) * K + k]!;
              wb[i] = two ? w.a[(j + i) * K + k + 1]! : 0;
            }
            madd4x2(acc, acc2, X, j * len, len, wa, wb);
          }
          for (; j < J; j++) madd2(acc, acc2, X, j * len, w.a[j * K + k]!, two ? w.a[j * K + k + 1]! : 0, len);
          reduce(acc, nl, B, q, w.c, scratch);
          flush(k, off);
          if (two) {
            reduce(acc2, nl, B, q, w.c, scratch);
            flush(k + 1, off);
          }
        }
      }
    }
}
