/**
 * F_p with p = 2^61 − 1 (Mersenne), Number-limb arithmetic on typed arrays.
 *
 * Representation: an {@link M61Vec} holds n elements in a Uint32Array of 2n words,
 * interleaved (lo32, hi29), always canonical (< p). Multiplication splits each operand into
 * three limbs of 21/21/19 bits so that every partial product is < 2^43 and every sum of
 * partial products is < 2^45 — exact in a float64 — then folds with 2^61 ≡ 1 (mod p).
 * No BigInt in any vector loop; BigInt only at the scalar boundary (get/set/sum/dot).
 */
import { checkCount, type Field, type FieldVec } from "./types.ts";
import { checkRowShape, checkSignRows, digitOffsets, genericDecodeExact, genericFromMaskedBytes, genericSignedRowSums } from "./kernels.ts";

const P = (1n << 61n) - 1n;
const P_ = P;
const HI_MAX = 0x1fffffff; // 2^29 − 1: hi word of p
const LO_MAX = 0xffffffff;
const T21 = 2097152;
const I21 = 1 / T21;
const T32 = 4294967296;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A vector of m61 elements. `d` is exposed for hot loops inside protocol/; treat as read-only elsewhere. */
export class M61Vec implements FieldVec {
  readonly d: Uint32Array;
  constructor(d: Uint32Array) {
    if (d.length % 2 !== 0) throw new RangeError("M61Vec: word array must have even length");
    this.d = d;
  }
  get length(): number {
    return this.d.length >>> 1;
  }
}

function vec(v: FieldVec, what = "argument"): M61Vec {
  if (!(v instanceof M61Vec)) throw new TypeError(`m61: ${what} is not an m61 vector`);
  return v;
}

function sameLength(a: M61Vec, b: M61Vec, op: string): void {
  if (a.length !== b.length) throw new RangeError(`m61.${op}: length mismatch ${a.length} vs ${b.length}`);
}

/** out[o..o+1] = (alo,ahi) + (blo,bhi) mod p; inputs ≤ p. */
function addInto(out: Uint32Array, o: number, alo: number, ahi: number, blo: number, bhi: number): void {
  let lo = alo + blo;
  let hi = ahi + bhi;
  if (lo > LO_MAX) { lo -= T32; hi += 1; }
  if (hi > HI_MAX) {
    hi -= 0x20000000;
    lo += 1;
    if (lo > LO_MAX) { lo -= T32; hi += 1; }
  }
  if (hi === HI_MAX && lo === LO_MAX) { lo = 0; hi = 0; }
  out[o] = lo;
  out[o + 1] = hi;
}

/** out[o..o+1] = a·b mod p (see module comment for the limb bounds). */
function mulInto(out: Uint32Array, o: number, alo: number, ahi: number, blo: number, bhi: number): void {
  const a0 = alo & 0x1fffff, a1 = (alo >>> 21) | ((ahi & 0x3ff) << 11), a2 = ahi >>> 10;
  const b0 = blo & 0x1fffff, b1 = (blo >>> 21) | ((bhi & 0x3ff) << 11), b2 = bhi >>> 10;
  let c0 = a0 * b0;
  let c1 = a0 * b1 + a1 * b0;
  let c2 = a0 * b2 + a1 * b1 + a2 * b0;
  let c3 = a1 * b2 + a2 * b1;
  let c4 = a2 * b2;
  let h = Math.floor(c0 * I21); c0 -= h * T21; c1 += h;
  h = Math.floor(c1 * I21); c1 -= h * T21; c2 += h;
  h = Math.floor(c2 * I21); c2 -= h * T21; c3 += h;
  h = Math.floor(c3 * I21); c3 -= h * T21; c4 += h;
  h = Math.floor(c4 * I21); c4 -= h * T21;
  // value = c0 + c1·2^21 + c2·2^42 + c3·2^63 + c4·2^84 + h·2^105, all digits < 2^21, h < 2^18.
  // 2^63 ≡ 4, 2^84 ≡ 4·2^21, 2^105 ≡ 4·2^42, and c2's bits ≥ 19 are ≥ 2^61 ≡ 1.
  let s0 = c0 + 4 * c3 + (c2 >>> 19);
  let s1 = c1 + 4 * c4;
  let s2 = (c2 & 0x7ffff) + 4 * h;
  s1 += s0 >>> 21; s0 &= 0x1fffff;
  s2 += s1 >>> 21; s1 &= 0x1fffff;
  s0 += s2 >>> 19; s2 &= 0x7ffff;
  // value = s0 + s1·2^21 + s2·2^42 with s0 < 2^21 + 8
  let lo = s0 + (s1 & 0x7ff) * T21;
  let hi = (s1 >>> 11) + s2 * 1024;
  if (lo > LO_MAX) { lo -= T32; hi += 1; }
  if (hi > HI_MAX) { hi -= 0x20000000; lo += 1; }
  if (hi === HI_MAX && lo === LO_MAX) { lo = 0; hi = 0; }
  out[o] = lo;
  out[o + 1] = hi;
}

function toWords(x: bigint): [number, number] {
  let r = x % P;
  if (r < 0n) r += P;
  return [Number(r & 0xffffffffn), Number(r >> 32n)];
}

function fromWords(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Reduces a 128-bit little-endian value given as four 32-bit words into out[o..o+1]. */
function reduce128Into(out: Uint32Array, o: number, w0: number, w1: number, w2: number, w3: number): void {
  // 2^64 ≡ 8 and 2^96 ≡ 8·2^32 (mod p): x ≡ (w0 + 8·w2) + (w1 + 8·w3)·2^32, then fold 2^61 ≡ 1.
  let lo = w0 + 8 * w2; // < 2^36
  let hi = w1 + 8 * w3; // < 2^36
  const c = Math.floor(lo / T32);
  lo -= c * T32;
  hi += c; // < 2^37
  const top = Math.floor(hi / 0x20000000); // bits ≥ 61 of the value, < 2^8
  hi -= top * 0x20000000;
  lo += top;
  if (lo > LO_MAX) { lo -= T32; hi += 1; }
  if (hi > HI_MAX) { hi = 0; lo += 1; } // hi was 2^29: value 2^61 + lo ≡ lo + 1 (lo tiny here)
  if (hi === HI_MAX && lo === LO_MAX) { lo = 0; hi = 0; }
  out[o] = lo;
  out[o + 1] = hi;
}

/** Element-wise a·b into a fresh vector (words). Exposed for protocol hot loops. */
export function m61MulWords(a: Uint32Array, b: Uint32Array, out: Uint32Array): void {
  for (let i = 0; i < out.length; i += 2) mulInto(out, i, a[i]!, a[i + 1]!, b[i]!, b[i + 1]!);
}

/** acc += a·s (s a scalar given as words), in place. Exposed for protocol hot loops. */
export function m61MulAddScalarWords(acc: Uint32Array, a: Uint32Array, slo: number, shi: number): void {
  const tmp = new Uint32Array(2);
  for (let i = 0; i < acc.length; i += 2) {
    mulInto(tmp, 0, a[i]!, a[i + 1]!, slo, shi);
    addInto(acc, i, acc[i]!, acc[i + 1]!, tmp[0]!, tmp[1]!);
  }
}

/** acc += a, in place (words). */
export function m61AddWords(acc: Uint32Array, a: Uint32Array): void {
  for (let i = 0; i < acc.length; i += 2) addInto(acc, i, acc[i]!, acc[i + 1]!, a[i]!, a[i + 1]!);
}

/** acc = 2·acc + a, in place (words): one Horner step of Σ 2^i v_i. */
export function m61DoubleAddWords(acc: Uint32Array, a: Uint32Array): void {
  for (let i = 0; i < acc.length; i += 2) {
    // 2·acc + a < 3p: one carry pass, then fold the ≤ 2 units of 2^61 (2^61 ≡ 1).
    let lo = 2 * acc[i]! + a[i]!;
    const c = lo >= 8589934592 ? 2 : lo >= T32 ? 1 : 0;
    lo -= c * T32;
    let hi = 2 * acc[i + 1]! + a[i + 1]! + c;
    const top = hi >>> 29;
    hi &= HI_MAX;
    lo += top;
    if (lo > LO_MAX) { lo -= T32; hi += 1; }
    if (hi > HI_MAX) { hi = 0; lo += 1; }
    if (hi === HI_MAX && lo === LO_MAX) { lo = 0; hi = 0; }
    acc[i] = lo;
    acc[i + 1] = hi;
  }
}

/** out = a − b + c (words), all canonical; out may alias none of the inputs. */
export function m61SubAddWords(out: Uint32Array, a: Uint32Array, b: Uint32Array, c: Uint32Array): void {
  for (let i = 0; i < out.length; i += 2) {
    const blo = b[i]!, bhi = b[i + 1]!;
    if (blo === 0 && bhi === 0) { out[i] = a[i]!; out[i + 1] = a[i + 1]!; }
    else addInto(out, i, a[i]!, a[i + 1]!, LO_MAX - blo, HI_MAX - bhi);
    addInto(out, i, out[i]!, out[i + 1]!, c[i]!, c[i + 1]!);
  }
}

/** acc −= a, in place (words). */
export function m61SubWords(acc: Uint32Array, a: Uint32Array): void {
  for (let i = 0; i < acc.length; i += 2) {
    const lo = a[i]!, hi = a[i + 1]!;
    if (lo === 0 && hi === 0) continue;
    addInto(acc, i, acc[i]!, acc[i + 1]!, LO_MAX - lo, HI_MAX - hi);
  }
}

/** Writes n uniform elements from 16·n PRG bytes (wide reduction) into out at word offset o. */
export function m61FromUniformInto(bytes: Uint8Array, n: number, out: Uint32Array, o: number): void {
  const w = LITTLE_ENDIAN && bytes.byteOffset % 4 === 0
    ? new Uint32Array(bytes.buffer, bytes.byteOffset, 4 * n)
    : wordsOf(bytes.subarray(0, 16 * n));
  for (let i = 0; i < n; i++) reduce128Into(out, o + 2 * i, w[4 * i]!, w[4 * i + 1]!, w[4 * i + 2]!, w[4 * i + 3]!);
}

function wordsOf(bytes: Uint8Array): Uint32Array {
  if (LITTLE_ENDIAN) return new Uint32Array(bytes.slice(0, bytes.length & ~3).buffer);
  const w = new Uint32Array(bytes.length >>> 2);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < w.length; i++) w[i] = dv.getUint32(4 * i, true);
  return w;
}

// ------------------------------------------------------------------ fused Horner rows
// The kernels below fuse "reduce 16 PRG/hash bytes to an element" with one Horner step
// acc ← 2·acc + w of Σ_h 2^h w_h (the Gilboa products of MASCOT Fig. 9),
// so the hot loops make one pass without intermediate vectors. They do exact integer
// arithmetic in float64 on (lo, hi) word pairs with every intermediate below 2^53.

const I32 = 1 / T32;
const I29 = 1 / 0x20000000;

/** out[o..o+1] = canonical (lo + hi·2^32) mod p, for integers 0 ≤ lo, hi < 2^52. */
function normInto(out: Uint32Array, o: number, lo: number, hi: number): void {
  let c = Math.floor(lo * I32);
  lo -= c * T32; hi += c;
  c = Math.floor(hi * I29); // bits ≥ 61: 2^61 ≡ 1
  hi -= c * 0x20000000; lo += c; // lo < 2^32 + 2^24, hi < 2^29
  if (lo > LO_MAX) { lo -= T32; hi += 1; if (hi > HI_MAX) { hi = 0; lo += 1; } }
  if (hi === HI_MAX && lo === LO_MAX) { lo = 0; hi = 0; }
  out[o] = lo;
  out[o + 1] = hi;
}

/** 4·n little-endian words of `bytes` (a view when aligned, else a copy). */
function words32(bytes: Uint8Array, n: number): Uint32Array {
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, 4 * n);
  return wordsOf(bytes.subarray(0, 16 * n));
}

/**
 * One Horner row of a Gilboa *sender* (the party holding both OT messages): for
 * e < n, with w0, w1 the elements of the 16-byte blocks e of r0, r1 (wide reduction, as
 * {@link m61FromUniformInto}): u[e] = w0 − w1 + x[e] and acc[e] ← 2·acc[e] + w0.
 * x and acc canonical; u must not alias them.
 */
export function m61SenderRowWords(u: Uint32Array, acc: Uint32Array, r0: Uint8Array, r1: Uint8Array, x: Uint32Array, n: number): void {
  const a = words32(r0, n), b = words32(r1, n);
  const tmp = new Uint32Array(4);
  for (let e = 0; e < n; e++) {
    const q = 4 * e, o = 2 * e;
    // 2^64 ≡ 8, 2^96 ≡ 8·2^32 (mod p)
    normInto(tmp, 0, a[q]! + 8 * a[q + 2]!, a[q + 1]! + 8 * a[q + 3]!);
    normInto(tmp, 2, b[q]! + 8 * b[q + 2]!, b[q + 1]! + 8 * b[q + 3]!);
    const l0 = tmp[0]!, h0 = tmp[1]!;
    normInto(u, o, l0 - tmp[2]! + x[o]! + LO_MAX, h0 - tmp[3]! + x[o + 1]! + HI_MAX); // + p keeps both parts ≥ 0
    normInto(acc, o, 2 * acc[o]! + l0, 2 * acc[o + 1]! + h0);
  }
}

/**
 * One Horner row of a Gilboa receiver (chooser) for bit h of its elements x:
 * acc[e] ← 2·acc[e] + w + bit_h(x[e])·d[dOff + e], w the element of block e of r.
 */
export function m61ChooserRowWords(acc: Uint32Array, r: Uint8Array, n: number, d: Uint32Array, dOff: number, x: Uint32Array, h: number): void {
  const a = words32(r, n), xo = h < 32 ? 0 : 1, sh = h & 31;
  for (let e = 0; e < n; e++) {
    const q = 4 * e, o = 2 * e, dd = 2 * (dOff + e);
    const bit = (x[o + xo]! >>> sh) & 1;
    normInto(acc, o, 2 * acc[o]! + a[q]! + 8 * a[q + 2]! + bit * d[dd]!, 2 * acc[o + 1]! + a[q + 1]! + 8 * a[q + 3]! + bit * d[dd + 1]!);
  }
}

// ------------------------------------------------------------------ reductions and folds

const T29 = 536870912;

/** The words of an m61 row of exactly L elements (TypeError / RangeError otherwise). */
function rowWords(v: FieldVec, L: number, what: string): Uint32Array {
  const d = vec(v, what).d;
  if (d.length !== 2 * L) throw new RangeError(`${what}: ${d.length >>> 1} elements, expected ${L}`);
  return d;
}

/** Throws RangeError unless `r` holds at least 16·n bytes (n wide-reduced elements). */
function checkUniformRow(what: string, r: Uint8Array, n: number): void {
  if (!(r instanceof Uint8Array)) throw new TypeError(`${what}: row must be a Uint8Array`);
  if (r.length < 16 * n) throw new RangeError(`${what}: need ${16 * n} bytes, got ${r.length}`);
}

/** m61 {@link Field.copeSenderFoldUniform}: one fused {@link m61SenderRowWords} pass per ℓ. */
function m61CopeSenderFoldUniform(x: FieldVec, k: number, rows: (l: number) => readonly [Uint8Array, Uint8Array]): { u: FieldVec; t: FieldVec } {
  checkCount("m61.copeSenderFoldUniform", k);
  const xd = vec(x, "x").d, m = xd.length >>> 1;
  const msg = new Uint32Array(2 * m * k), acc = new Uint32Array(2 * m);
  for (let i = k - 1; i >= 0; i--) {
    const [r0, r1] = rows(i);
    checkUniformRow(`m61.copeSenderFoldUniform row ${i}`, r0, m);
    checkUniformRow(`m61.copeSenderFoldUniform row ${i}`, r1, m);
    m61SenderRowWords(msg.subarray(2 * m * i, 2 * m * (i + 1)), acc, r0, r1, xd, m);
  }
  return { u: new M61Vec(msg), t: new M61Vec(acc) };
}

/** m61 {@link Field.chooserFoldUniform}: one fused {@link m61ChooserRowWords} pass per h. */
function m61ChooserFoldUniform(x: FieldVec, k: number, d: FieldVec, row: (h: number) => Uint8Array): FieldVec {
  checkCount("m61.chooserFoldUniform", k);
  if (k > 61) throw new RangeError(`m61.chooserFoldUniform: k = ${k} > 61 bits`);
  const xd = vec(x, "x").d, dd = vec(d, "d").d, L = xd.length >>> 1;
  if (dd.length !== 2 * k * L) throw new RangeError(`m61.chooserFoldUniform d: ${dd.length >>> 1} elements, expected ${k * L}`);
  const acc = new Uint32Array(2 * L);
  for (let h = k - 1; h >= 0; h--) {
    const r = row(h);
    checkUniformRow(`m61.chooserFoldUniform row ${h}`, r, L);
    m61ChooserRowWords(acc, r, L, dd, h * L, xd, h); // m_{x_h} + x_h·d_h
  }
  return new M61Vec(acc);
}

// ------------------------------------------------------------------ digit-COPE folds
// Field.digitCopeSenderFoldUniform / digitCopeReceiverFoldUniform: per digit, the sums
// Σ_j r_j and Σ_j v(j)·r_j (v(j) = N − 1 − j ≤ 255) are accumulated straight from the leaf
// words without reducing: a leaf element is one 8-byte word masked to 61 bits, lo + hi·2^32
// with lo < 2^32 and hi < 2^29 (a word equal to p is skipped: m61SkipP), so over ≤ 256
// leaves Σ r_j < 2^40 and Σ v(j)·r_j < 2^48 per part — exact in float64. Digits are combined
// by Horner from the top digit down, acc ← 2^{w_i}·acc + digit term, normalising the limbs
// once per digit.

/** Low 29 bits: the hi word of a 61-bit element. */
const M29 = 0x1fffffff;
/** The lo word of p: 0xffffffff. */
const LO_ONES = 0xffffffff;

/**
 * The 2·n words (lo, hi) of a leaf's next n elements from its words `w` (2·n of them): an
 * element is an 8-byte word with its top 3 bits cleared (done by the sums), and a word equal
 * to p = 2^61 − 1 is skipped — the leaf's next word takes its place, read by `more()` (the
 * stream's next 8 bytes) — so every element is exactly uniform in F_p. Skipping happens with
 * probability ≈ n·2^-61 per read; both holders of a leaf skip the same words, so their sums
 * agree. The folds call this only when {@link leafSums} saw a candidate (a lo word
 * 0xffffffff). Returns `w` itself when nothing is skipped (never mutated), else a copy.
 * Throws RangeError if a refill is shorter than 8 bytes.
 */
function m61SkipP(w: Uint32Array, n: number, more: () => Uint8Array): Uint32Array {
  const isP = (lo: number, hi: number) => lo === LO_ONES && (hi & M29) === M29;
  let first = 0;
  while (first < 2 * n && !isP(w[first]!, w[first + 1]!)) first += 2;
  if (first === 2 * n) return w;
  const out = new Uint32Array(2 * n);
  out.set(w.subarray(0, first));
  let src = w, i = first + 2, o = first;
  while (o < 2 * n) {
    if (i >= src.length) {
      const b = more();
      checkLeafRow("m61 leaf refill", b, 1);
      src = wordsOf(b.subarray(0, 8));
      i = 0;
    }
    const lo = src[i]!, hi = src[i + 1]!;
    i += 2;
    if (isP(lo, hi)) continue;
    out[o++] = lo;
    out[o++] = hi;
  }
  return out;
}

/** The 2·n words of `bytes` (a view when aligned, else a copy); nothing skipped. */
function m61LeafView(bytes: Uint8Array, n: number): Uint32Array {
  return LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, 2 * n) : wordsOf(bytes.subarray(0, 8 * n));
}

/** Throws unless `r` holds the 8·n bytes of n leaf words. */
function checkLeafRow(what: string, r: Uint8Array, n: number): void {
  if (!(r instanceof Uint8Array)) throw new TypeError(`${what}: leaf must be a Uint8Array`);
  if (r.length < 8 * n) throw new RangeError(`${what}: need ${8 * n} bytes, got ${r.length}`);
}

/**
 * Digit `digit`'s leaves, the next L words of each (`row(digit, j, L)`) as word arrays (2 per
 * element, views), with weights v(j) = N − 1 − j and leaf indices j, skipping the punctured
 * (null) leaf. Words equal to p are not yet skipped: {@link digitLeafSums} does that when its
 * sums see a candidate. The reader is passed through, not wrapped in a per-call closure (see
 * {@link m61RowCombineLimbs}). Throws RangeError if a leaf is shorter than 8·L bytes.
 */
function m61DigitLeaves(L: number, N: number, row: (i: number, j: number, count: number) => Uint8Array | null, digit: number, what: string): { words: Uint32Array[]; weights: number[]; leaves: number[] } {
  const words: Uint32Array[] = [], weights: number[] = [], leaves: number[] = [];
  for (let j = 0; j < N; j++) {
    const r = row(digit, j, L);
    if (r === null) continue;
    checkLeafRow(what, r, L);
    words.push(m61LeafView(r, L));
    weights.push(N - 1 - j);
    leaves.push(j);
  }
  return { words, weights, leaves };
}

/**
 * The digit's leaf sums ({@link leafSums}) over its leaves' next n elements, words equal to p
 * skipped ({@link m61SkipP}): the sums flag any lo word 0xffffffff, and only then is each
 * leaf scanned exactly, refilled from its stream and summed again — before any later read of
 * that stream, so it advances exactly as by a skipping read.
 */
function digitLeafSums(sums: Float64Array, n: number, N: number, row: (i: number, j: number, count: number) => Uint8Array | null, digit: number, what: string): void {
  const { words, weights, leaves } = m61DigitLeaves(n, N, row, digit, what);
  if (!leafSums(sums, words, weights, n)) return;
  for (let k = 0; k < words.length; k++) {
    const j = leaves[k]!;
    words[k] = m61SkipP(words[k]!, n, () => row(digit, j, 1)!);
  }
  leafSums(sums, words, weights, n);
}

/** Zero words standing in for missing leaves in {@link leafSums8} (weight 0, adds nothing); grown on demand. */
let zeroLeaf = new Uint32Array(0);

/**
 * The digit's leaf sums for every element, when it has at most 8 leaves (w ≤ 3; the protocol's
 * width is 3, its last digit 1): sums[4e..4e+3] = (Σ lo, Σ hi, Σ v·lo, Σ v·hi) of the masked
 * elements, with the same exact float64 bounds as the generic loop. The leaves are unrolled
 * into locals (missing ones read zeros with weight 0), which V8 keeps in registers; the
 * generic loop indexes an array of arrays per term. Returns 1 if some leaf's lo word is
 * 0xffffffff (a candidate for a word equal to p: the product of (lo_j − 0xffffffff) is 0, exact
 * in float64 as every factor is an integer of magnitude < 2^32), else 0; −1 (nothing written)
 * for more than 8 leaves.
 */
function leafSums8(sums: Float64Array, words: Uint32Array[], weights: number[], L: number): number {
  const n = words.length;
  if (n > 8) return -1;
  if (n < 8 && zeroLeaf.length < 2 * L) zeroLeaf = new Uint32Array(2 * L);
  const z = zeroLeaf;
  const a0 = n > 0 ? words[0]! : z, a1 = n > 1 ? words[1]! : z, a2 = n > 2 ? words[2]! : z, a3 = n > 3 ? words[3]! : z;
  const a4 = n > 4 ? words[4]! : z, a5 = n > 5 ? words[5]! : z, a6 = n > 6 ? words[6]! : z, a7 = n > 7 ? words[7]! : z;
  const v0 = n > 0 ? weights[0]! : 0, v1 = n > 1 ? weights[1]! : 0, v2 = n > 2 ? weights[2]! : 0, v3 = n > 3 ? weights[3]! : 0;
  const v4 = n > 4 ? weights[4]! : 0, v5 = n > 5 ? weights[5]! : 0, v6 = n > 6 ? weights[6]! : 0, v7 = n > 7 ? weights[7]! : 0;
  let hit = 0;
  for (let e = 0, q = 0, end = 2 * L; e < end; e += 2, q += 4) {
    const e1 = e + 1;
    const l0 = a0[e]!, h0 = a0[e1]! & M29, l1 = a1[e]!, h1 = a1[e1]! & M29;
    const l2 = a2[e]!, h2 = a2[e1]! & M29, l3 = a3[e]!, h3 = a3[e1]! & M29;
    const l4 = a4[e]!, h4 = a4[e1]! & M29, l5 = a5[e]!, h5 = a5[e1]! & M29;
    const l6 = a6[e]!, h6 = a6[e1]! & M29, l7 = a7[e]!, h7 = a7[e1]! & M29;
    if ((l0 - LO_ONES) * (l1 - LO_ONES) * (l2 - LO_ONES) * (l3 - LO_ONES) * (l4 - LO_ONES) * (l5 - LO_ONES) * (l6 - LO_ONES) * (l7 - LO_ONES) === 0) hit = 1;
    sums[q] = l0 + l1 + l2 + l3 + l4 + l5 + l6 + l7;
    sums[q + 1] = h0 + h1 + h2 + h3 + h4 + h5 + h6 + h7;
    sums[q + 2] = v0 * l0 + v1 * l1 + v2 * l2 + v3 * l3 + v4 * l4 + v5 * l5 + v6 * l6 + v7 * l7;
    sums[q + 3] = v0 * h0 + v1 * h1 + v2 * h2 + v3 * h3 + v4 * h4 + v5 * h5 + v6 * h6 + v7 * h7;
  }
  return hit;
}

/** As {@link leafSums8} for any leaf count (the generic loop); true if some lo word is 0xffffffff (a candidate for p). */
function leafSums(sums: Float64Array, words: Uint32Array[], weights: number[], L: number): boolean {
  const fast = leafSums8(sums, words, weights, L);
  if (fast >= 0) return fast === 1;
  const n = words.length;
  let hit = false;
  for (let e = 0, q = 0, end = 2 * L; e < end; e += 2, q += 4) {
    let alo = 0, ahi = 0, blo = 0, bhi = 0;
    for (let j = 0; j < n; j++) {
      const a = words[j]!, v = weights[j]!, lo = a[e]!, hi = a[e + 1]! & M29;
      if (lo === LO_ONES) hit = true;
      alo += lo; ahi += hi; blo += v * lo; bhi += v * hi;
    }
    sums[q] = alo; sums[q + 1] = ahi; sums[q + 2] = blo; sums[q + 3] = bhi;
  }
  return hit;
}

/**
 * Elements per chunk of the digit-COPE folds: each leaf's bytes are read chunk by chunk (the
 * streams advance exactly as with one read of L elements), so 8 leaves of 16·CHUNK bytes and
 * the sums stay in the core's cache (8 leaves of 64 KiB) and no leaf-sized buffer is allocated per digit.
 */
export const DIGIT_FOLD_CHUNK = 8192;

/** m61 {@link Field.digitCopeSenderFoldUniform}: per chunk of elements and digit, the leaf sums (unrolled for 8 leaves), then one fold per element. */
function m61DigitCopeSenderFold(x: FieldVec, widths: readonly number[], row: (i: number, j: number, count: number) => Uint8Array): { c: FieldVec; t: FieldVec } {
  const what = "m61.digitCopeSenderFoldUniform";
  digitOffsets(m61, widths, what);
  const xd = vec(x, "x").d, L = xd.length >>> 1, D = widths.length;
  const c = new Uint32Array(2 * D * L), t = new Uint32Array(2 * L), sums = new Float64Array(4 * Math.min(L, DIGIT_FOLD_CHUNK));
  for (let e0 = 0; e0 < L; e0 += DIGIT_FOLD_CHUNK) {
    const n = Math.min(DIGIT_FOLD_CHUNK, L - e0);
    for (let i = D - 1; i >= 0; i--) {
      const w = widths[i]!, scale = 2 ** w, o = 2 * i * L;
      digitLeafSums(sums, n, 1 << w, row, i, `${what} digit ${i}`);
      for (let k = 2 * e0, q = 0, end = 4 * n; q < end; k += 2, q += 4) {
        // a_i, folded once (inline: V8 does not inline the helpers this deep): lo < 2^32 + 2^15, hi < 2^29
        const alo = sums[q]!, c1 = Math.floor(alo * I32);
        let ahi = sums[q + 1]! + c1;
        const top = Math.floor(ahi * I29);
        ahi -= top * T29;
        const alo2 = alo - c1 * T32 + top;
        // c_i = x − a_i + 2p (both parts ≥ 0), canonical on the wire
        normInto(c, o + k, xd[k]! + 2 * LO_MAX - alo2, xd[k + 1]! + 2 * HI_MAX - ahi);
        // t ← 2^w·t + b_i with b_i unreduced (2^w·t < 2^40, b_i < 2^48 per part: < 2^53)
        normInto(t, k, scale * t[k]! + sums[q + 2]!, scale * t[k + 1]! + sums[q + 3]!);
      }
    }
  }
  return { c: new M61Vec(c), t: new M61Vec(t) };
}

/** m61 {@link Field.digitCopeReceiverFoldUniform}: as the sender's fold, over the known leaves. */
function m61DigitCopeReceiverFold(cv: FieldVec, L: number, widths: readonly number[], values: readonly number[], row: (i: number, j: number, count: number) => Uint8Array | null): FieldVec {
  const what = "m61.digitCopeReceiverFoldUniform";
  digitOffsets(m61, widths, what);
  checkCount(what, L);
  const D = widths.length, cd = vec(cv, "c").d;
  if (cd.length !== 2 * D * L) throw new RangeError(`${what} correction: ${cd.length >>> 1} elements, expected ${D * L}`);
  if (values.length !== D) throw new RangeError(`${what}: ${values.length} digit values for ${D} digits`);
  for (let i = 0; i < D; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= 1 << widths[i]!) throw new RangeError(`${what}: digit ${i} value ${v} out of range`);
  }
  const q = new Uint32Array(2 * L), sums = new Float64Array(4 * Math.min(L, DIGIT_FOLD_CHUNK));
  for (let e0 = 0; e0 < L; e0 += DIGIT_FOLD_CHUNK) {
    const n = Math.min(DIGIT_FOLD_CHUNK, L - e0);
    for (let i = D - 1; i >= 0; i--) {
      const w = widths[i]!, v = values[i]!, scale = 2 ** w, o = 2 * i * L;
      digitLeafSums(sums, n, 1 << w, row, i, `${what} digit ${i}`);
      for (let k = 2 * e0, qq = 0, end = 4 * n; qq < end; k += 2, qq += 4) {
        // A′ + c_i and B′, each folded once (inline): lo < 2^32 + 2^15, hi < 2^29
        const alo = cd[o + k]! + sums[qq]!, ca = Math.floor(alo * I32);
        let ahi = cd[o + k + 1]! + sums[qq + 1]! + ca;
        const ta = Math.floor(ahi * I29);
        ahi -= ta * T29;
        const alo2 = alo - ca * T32 + ta;
        const blo = sums[qq + 2]!, cb = Math.floor(blo * I32);
        let bhi = sums[qq + 3]! + cb;
        const tb = Math.floor(bhi * I29);
        bhi -= tb * T29;
        const blo2 = blo - cb * T32 + tb;
        // q ← 2^w·q + Δ_i·(A′ + c_i) + (2p − B′): every part < 2^40 + 2^40.1 + 2^33
        normInto(q, k, scale * q[k]! + v * alo2 + (2 * LO_MAX - blo2), scale * q[k + 1]! + v * ahi + (2 * HI_MAX - bhi));
      }
    }
  }
  return new M61Vec(q);
}

/** The three 21-bit limbs of each of the first `n` elements of `d` (m61 words), as float64 planes of length `len`. */
function m61Limbs(d: Uint32Array, n: number, len: number): [Float64Array, Float64Array, Float64Array] {
  const x0 = new Float64Array(len), x1 = new Float64Array(len), x2 = new Float64Array(len);
  for (let t = 0; t < n; t++) {
    const lo = d[2 * t]!, hi = d[2 * t + 1]!;
    x0[t] = lo & 0x1fffff; x1[t] = (lo >>> 21) | ((hi & 0x3ff) << 11); x2[t] = hi >>> 10;
  }
  return [x0, x1, x2];
}

/** acc[5i..5i+4] (limb-product sums of wire i) as one bigint, reduced mod p. */
function m61ReduceLimbSums(acc: Float64Array, i: number): bigint {
  return (BigInt(acc[5 * i]!) + (BigInt(acc[5 * i + 1]!) << 21n) + (BigInt(acc[5 * i + 2]!) << 42n) + (BigInt(acc[5 * i + 3]!) << 63n) + (BigInt(acc[5 * i + 4]!) << 84n)) % P_;
}

/**
 * sa/sb[5i..5i+4] += Σ_{l ∈ [l0, l1)} c_l·row_l (limb products, unreduced) for the s wires of
 * a and b. A top-level kernel called once per coefficient vector and 1024 rows, so V8 optimises
 * it as a function rather than by on-stack replacement of a loop inside a per-call closure
 * (such code was thrown away at every GC and rebuilt in every round).
 */
function m61RowCombineLimbs(
  a0: Float64Array, a1: Float64Array, a2: Float64Array, b0: Float64Array, b1: Float64Array, b2: Float64Array,
  lam: Uint32Array, s: number, l0: number, l1: number, sa: Float64Array, sb: Float64Array,
): void {
  for (let l = l0; l < l1; l++) {
    const lo = lam[2 * l]!, hi = lam[2 * l + 1]!;
    const c0 = lo & 0x1fffff, c1 = (lo >>> 21) | ((hi & 0x3ff) << 11), c2 = hi >>> 10;
    const base = l * s;
    for (let i = 0; i < s; i++) {
      const t = base + i, o = 5 * i;
      const x0 = a0[t]!, x1 = a1[t]!, x2 = a2[t]!;
      sa[o] = sa[o]! + x0 * c0; sa[o + 1] = sa[o + 1]! + x0 * c1 + x1 * c0; sa[o + 2] = sa[o + 2]! + x0 * c2 + x1 * c1 + x2 * c0;
      sa[o + 3] = sa[o + 3]! + x1 * c2 + x2 * c1; sa[o + 4] = sa[o + 4]! + x2 * c2;
      const y0 = b0[t]!, y1 = b1[t]!, y2 = b2[t]!;
      sb[o] = sb[o]! + y0 * c0; sb[o + 1] = sb[o + 1]! + y0 * c1 + y1 * c0; sb[o + 2] = sb[o + 2]! + y0 * c2 + y1 * c1 + y2 * c0;
      sb[o + 3] = sb[o + 3]! + y1 * c2 + y2 * c1; sb[o + 4] = sb[o + 4]! + y2 * c2;
    }
  }
}

/**
 * m61 {@link Field.combineRowPairs}: the Σ_l c_l·row_l sums run on 21-bit limbs in float64
 * without reduction (each limb product < 2^43, at most 1024 of them: < 2^53, exact), reduced
 * once per wire, coefficient vector and 1024 rows; the limbs of a and b are split once for all
 * `count` coefficient vectors.
 */
function m61CombineRowPairs(av: FieldVec, bv: FieldVec, s: number, L: number, count: number, coeffs: (j: number) => FieldVec): Array<[FieldVec, FieldVec]> {
  checkRowShape("m61.combineRowPairs", av, bv, s, L, count);
  const a = vec(av, "a"), b = vec(bv, "b"), P = a.length;
  const out: Array<[FieldVec, FieldVec]> = [];
  const [a0, a1, a2] = m61Limbs(a.d, P, L * s), [b0, b1, b2] = m61Limbs(b.d, P, L * s);
  const sa = new Float64Array(5 * s), sb = new Float64Array(5 * s);
  const ra = new Array<bigint>(s), rb = new Array<bigint>(s);
  for (let j = 0; j < count; j++) {
    const lam = rowWords(coeffs(j), L, `m61.combineRowPairs coefficients ${j}`);
    ra.fill(0n); rb.fill(0n);
    for (let l0 = 0; l0 < L; l0 += 1024) {
      m61RowCombineLimbs(a0, a1, a2, b0, b1, b2, lam, s, l0, Math.min(L, l0 + 1024), sa, sb);
      for (let i = 0; i < s; i++) { ra[i] = ra[i]! + m61ReduceLimbSums(sa, i); rb[i] = rb[i]! + m61ReduceLimbSums(sb, i); }
      sa.fill(0); sb.fill(0);
    }
    const ca = new Uint32Array(2 * s), cb = new Uint32Array(2 * s);
    for (let i = 0; i < s; i++) {
      const [alo, ahi] = toWords(ra[i]! % P_), [blo, bhi] = toWords(rb[i]! % P_);
      ca[2 * i] = alo; ca[2 * i + 1] = ahi; cb[2 * i] = blo; cb[2 * i + 1] = bhi;
    }
    out.push([new M61Vec(ca), new M61Vec(cb)]);
  }
  return out;
}

export const m61: Field = {
  name: "m61",
  p: P,
  byteLength: 8,
  uniformByteLength: 16,
  bits: 61,

  zeros(n) {
    checkCount("m61.zeros", n);
    return new M61Vec(new Uint32Array(2 * n));
  },
  fromBigInts(xs) {
    const d = new Uint32Array(2 * xs.length);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      if (typeof x !== "bigint") throw new TypeError(`m61.fromBigInts: element ${i} is not a bigint`);
      const [lo, hi] = toWords(x);
      d[2 * i] = lo; d[2 * i + 1] = hi;
    }
    return new M61Vec(d);
  },
  fromInts(xs) {
    const d = new Uint32Array(2 * xs.length);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      if (!Number.isSafeInteger(x)) throw new RangeError(`m61.fromInts: element ${i} is not a safe integer`);
      const a = Math.abs(x);
      let lo = a % T32, hi = Math.floor(a / T32);
      if (x < 0) { lo = LO_MAX - lo; hi = HI_MAX - hi; } // p − |x|: p is all ones, no borrow
      d[2 * i] = lo; d[2 * i + 1] = hi;
    }
    return new M61Vec(d);
  },
  toBigInts(v) {
    const d = vec(v).d;
    const out: bigint[] = new Array(d.length >>> 1);
    for (let i = 0; i < out.length; i++) out[i] = fromWords(d[2 * i]!, d[2 * i + 1]!);
    return out;
  },
  get(v, i) {
    const a = vec(v);
    if (!Number.isInteger(i) || i < 0 || i >= a.length) throw new RangeError(`m61.get: index ${i} out of range`);
    return fromWords(a.d[2 * i]!, a.d[2 * i + 1]!);
  },
  set(v, i, x) {
    const a = vec(v);
    if (!Number.isInteger(i) || i < 0 || i >= a.length) throw new RangeError(`m61.set: index ${i} out of range`);
    const [lo, hi] = toWords(x);
    a.d[2 * i] = lo; a.d[2 * i + 1] = hi;
  },
  add(a, b) {
    const x = vec(a, "a"), y = vec(b, "b");
    sameLength(x, y, "add");
    const out = new Uint32Array(x.d);
    m61AddWords(out, y.d);
    return new M61Vec(out);
  },
  sub(a, b) {
    const x = vec(a, "a"), y = vec(b, "b");
    sameLength(x, y, "sub");
    const out = new Uint32Array(x.d);
    m61SubWords(out, y.d);
    return new M61Vec(out);
  },
  neg(a) {
    const x = vec(a).d;
    const out = new Uint32Array(x.length);
    for (let i = 0; i < x.length; i += 2) {
      const lo = x[i]!, hi = x[i + 1]!;
      if (lo === 0 && hi === 0) continue;
      out[i] = LO_MAX - lo; out[i + 1] = HI_MAX - hi;
    }
    return new M61Vec(out);
  },
  mul(a, b) {
    const x = vec(a, "a"), y = vec(b, "b");
    sameLength(x, y, "mul");
    const out = new Uint32Array(x.d.length);
    m61MulWords(x.d, y.d, out);
    return new M61Vec(out);
  },
  scale(a, s) {
    const x = vec(a).d;
    const [slo, shi] = toWords(s);
    const out = new Uint32Array(x.length);
    for (let i = 0; i < x.length; i += 2) mulInto(out, i, x[i]!, x[i + 1]!, slo, shi);
    return new M61Vec(out);
  },
  addInPlace(acc, b) {
    const x = vec(acc, "acc"), y = vec(b, "b");
    sameLength(x, y, "addInPlace");
    m61AddWords(x.d, y.d);
  },
  sum(v) {
    const x = vec(v).d;
    const acc = new Uint32Array(2);
    for (let i = 0; i < x.length; i += 2) addInto(acc, 0, acc[0]!, acc[1]!, x[i]!, x[i + 1]!);
    return fromWords(acc[0]!, acc[1]!);
  },
  dot(a, b) {
    const x = vec(a, "a"), y = vec(b, "b");
    sameLength(x, y, "dot");
    const acc = new Uint32Array(2), t = new Uint32Array(2);
    for (let i = 0; i < x.d.length; i += 2) {
      mulInto(t, 0, x.d[i]!, x.d[i + 1]!, y.d[i]!, y.d[i + 1]!);
      addInto(acc, 0, acc[0]!, acc[1]!, t[0]!, t[1]!);
    }
    return fromWords(acc[0]!, acc[1]!);
  },
  random(n, rng) {
    checkCount("m61.random", n);
    // Rejection sampling: 61 random bits, reject the single value p (probability 2^-61).
    const d = new Uint32Array(2 * n);
    let filled = 0;
    while (filled < n) {
      const need = n - filled;
      const w = wordsOf(rng.bytes(8 * need));
      for (let i = 0; i < need; i++) {
        const lo = w[2 * i]!, hi = w[2 * i + 1]! & HI_MAX;
        if (lo === LO_MAX && hi === HI_MAX) continue;
        d[2 * filled] = lo; d[2 * filled + 1] = hi; filled++;
      }
    }
    return new M61Vec(d);
  },
  fromUniformBytes(bytes, n) {
    checkCount("m61.fromUniformBytes", n);
    if (!(bytes instanceof Uint8Array)) throw new TypeError("m61.fromUniformBytes: bytes must be a Uint8Array");
    if (bytes.length < 16 * n) throw new RangeError(`m61.fromUniformBytes: need ${16 * n} bytes, got ${bytes.length}`);
    // Wide reduction of 128 bits mod p: statistical distance from uniform ≤ p/2^128 < 2^-67.
    const out = new Uint32Array(2 * n);
    m61FromUniformInto(bytes, n, out, 0);
    return new M61Vec(out);
  },
  encode(v) {
    const x = vec(v).d;
    if (LITTLE_ENDIAN) return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
    const out = new Uint8Array(4 * x.length);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < x.length; i++) dv.setUint32(4 * i, x[i]!, true);
    return out;
  },
  decode(bytes) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("m61.decode: bytes must be a Uint8Array");
    if (bytes.length % 8 !== 0) throw new RangeError(`m61.decode: length ${bytes.length} is not a multiple of 8`);
    const d = wordsOf(bytes);
    for (let i = 0; i < d.length; i += 2) {
      const hi = d[i + 1]!;
      if (hi > HI_MAX || (hi === HI_MAX && d[i] === LO_MAX)) throw new RangeError(`m61.decode: element ${i >>> 1} is not canonical`);
    }
    return new M61Vec(d);
  },
  slice(v, start, end) {
    const x = vec(v);
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > x.length) {
      throw new RangeError(`m61.slice: bad range [${start}, ${end}) of ${x.length}`);
    }
    return new M61Vec(x.d.slice(2 * start, 2 * end));
  },
  concat(vs) {
    let n = 0;
    for (const v of vs) n += vec(v).d.length;
    const d = new Uint32Array(n);
    let o = 0;
    for (const v of vs) { const x = (v as M61Vec).d; d.set(x, o); o += x.length; }
    return new M61Vec(d);
  },
  copeSenderFoldUniform: m61CopeSenderFoldUniform,
  chooserFoldUniform: m61ChooserFoldUniform,
  digitCopeSenderFoldUniform: m61DigitCopeSenderFold,
  digitCopeReceiverFoldUniform: m61DigitCopeReceiverFold,
  combineRowPairs: m61CombineRowPairs,
  signedRowSums(v, codes, codeBits, start, count) {
    const w = vec(v).d, n = w.length >>> 1;
    // Word-limb sums in float64 are exact for n < 2^20 (each limb < 2^32); beyond, BigInt.
    if (n >= 1 << 20) return genericSignedRowSums(m61, v, codes, codeBits, start, count);
    checkSignRows("m61.signedRowSums", codes, codeBits, n, start, count);
    const out: bigint[] = [];
    for (let i = start; i < start + count; i++) {
      let pl = 0, ph = 0, ml = 0, mh = 0;
      const base = i * n;
      if (codeBits === 1) {
        for (let k = 0; k < n; k++) {
          const b = base + k;
          if ((codes[b >>> 3]! >> (b & 7)) & 1) { pl += w[2 * k]!; ph += w[2 * k + 1]!; } else { ml += w[2 * k]!; mh += w[2 * k + 1]!; }
        }
      } else {
        for (let k = 0; k < n; k++) {
          const b = base + k;
          const c = (codes[b >>> 2]! >> ((b & 3) << 1)) & 3;
          if (c === 3) { pl += w[2 * k]!; ph += w[2 * k + 1]!; } else if (c === 0) { ml += w[2 * k]!; mh += w[2 * k + 1]!; }
        }
      }
      const plus = BigInt(pl) + (BigInt(ph) << 32n), minus = BigInt(ml) + (BigInt(mh) << 32n);
      out.push((((plus - minus) % P) + P) % P);
    }
    return m61.fromBigInts(out);
  },
  scaleAddRange(acc, v, start, end, s) {
    const a = vec(acc, "acc").d, x = vec(v).d;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || 2 * end > x.length || 2 * (end - start) > a.length) {
      throw new RangeError(`m61.scaleAddRange: bad range [${start}, ${end}) of ${x.length >>> 1} into ${a.length >>> 1}`);
    }
    const [slo, shi] = toWords(s);
    m61MulAddScalarWords(a.subarray(0, 2 * (end - start)), x.subarray(2 * start, 2 * end), slo, shi);
  },
  fromMaskedBytes(bytes, n) {
    checkCount("m61.fromMaskedBytes", n);
    if (bytes.length < 8 * n) throw new RangeError(`m61.fromMaskedBytes: need ${8 * n} bytes, got ${bytes.length}`);
    if (!LITTLE_ENDIAN || bytes.byteOffset % 4 !== 0) return genericFromMaskedBytes(m61, bytes, n);
    // In place: clear the top 3 bits of each hi word; reject (undefined) if any element is p.
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, 2 * n);
    let bad = false;
    for (let i = 1; i < w.length; i += 2) {
      const hi = w[i]! & 0x1fffffff;
      w[i] = hi;
      if (hi === 0x1fffffff && w[i - 1] === 0xffffffff) bad = true;
    }
    return bad ? undefined : new M61Vec(w);
  },
  choiceBits(x) {
    const d = vec(x).d, L = d.length >>> 1;
    const out = new Uint8Array(61 * L);
    for (let e = 0; e < L; e++) {
      const lo = d[2 * e]!, hi = d[2 * e + 1]!;
      for (let h = 0; h < 32; h++) out[h * L + e] = (lo >>> h) & 1;
      for (let h = 32; h < 61; h++) out[h * L + e] = (hi >>> (h - 32)) & 1;
    }
    return out;
  },
  gather(v, idx) {
    const x = vec(v).d, n = x.length >>> 1;
    const d = new Uint32Array(2 * idx.length);
    for (let i = 0; i < idx.length; i++) {
      const k = idx[i]!;
      if (k >= n) throw new RangeError(`m61.gather: index ${k} out of range`);
      d[2 * i] = x[2 * k]!; d[2 * i + 1] = x[2 * k + 1]!;
    }
    return new M61Vec(d);
  },
  encodeView(v) {
    // On little-endian hosts the word array already is the encoding: no copy.
    const x = vec(v).d;
    if (LITTLE_ENDIAN) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    return m61.encode(v);
  },
  decodeExact(bytes, n) {
    checkCount("m61.decodeExact", n);
    if (!(bytes instanceof Uint8Array)) throw new TypeError("m61.decodeExact: bytes must be a Uint8Array");
    if (bytes.length !== 8 * n) throw new RangeError(`m61.decodeExact: ${bytes.length} bytes, expected ${8 * n} (${n} elements)`);
    if (!LITTLE_ENDIAN || bytes.byteOffset % 4 !== 0) return genericDecodeExact(m61, bytes, n);
    // Aligned little-endian: check canonicity in place and return a view (no copy).
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, 2 * n);
    for (let i = 1; i < w.length; i += 2) {
      const hi = w[i]!;
      if (hi > HI_MAX || (hi === HI_MAX && w[i - 1] === LO_MAX)) throw new RangeError(`m61.decodeExact: element ${i >>> 1} is not canonical`);
    }
    return new M61Vec(w);
  },
};
