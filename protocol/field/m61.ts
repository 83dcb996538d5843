/**
 * F_p with p = 2^61 − 1 (Mersenne), Number-limb arithmetic on typed arrays.
 *
 * Representation: an {@link M61Vec} holds n elements in a Uint32Array of 2n words,
 * interleaved (lo32, hi29), always canonical (< p). Multiplication splits each operand into
 * three limbs of 21/21/19 bits so that every partial product is < 2^43 and every sum of
 * partial products is < 2^45 — exact in a float64 — then folds with 2^61 ≡ 1 (mod p).
 * No BigInt in any vector loop; BigInt only at the scalar boundary (get/set/sum/dot).
 */
import type { Rng } from "../rng.ts";
import { checkCount, type Field, type FieldVec } from "./types.ts";

const P = (1n << 61n) - 1n;
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
// acc ← 2·acc + w of Σ_h 2^h w_h (COPE Fig. 4 and the Gilboa products of MASCOT Fig. 9),
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
 * One Horner row of a Gilboa/COPE *sender* (the party holding both OT messages): for
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
 * One Horner row of a COPE receiver: acc[e] ← 2·acc[e] + w + (add ? add[e] : 0), w the
 * element of block e of r (wide reduction). acc and add canonical.
 */
export function m61HornerRowWords(acc: Uint32Array, r: Uint8Array, n: number, add?: Uint32Array): void {
  const a = words32(r, n);
  if (add) {
    for (let e = 0; e < n; e++) {
      const q = 4 * e, o = 2 * e;
      normInto(acc, o, 2 * acc[o]! + a[q]! + 8 * a[q + 2]! + add[o]!, 2 * acc[o + 1]! + a[q + 1]! + 8 * a[q + 3]! + add[o + 1]!);
    }
  } else {
    for (let e = 0; e < n; e++) {
      const q = 4 * e, o = 2 * e;
      normInto(acc, o, 2 * acc[o]! + a[q]! + 8 * a[q + 2]!, 2 * acc[o + 1]! + a[q + 1]! + 8 * a[q + 3]!);
    }
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
};
