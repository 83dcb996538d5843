/**
 * F_p with p = 2^127 − 1 (Mersenne; 2-adicity 1, so NTT-unfriendly), BigInt arithmetic.
 * The 128-bit option of DESIGN.md §4: slower than m61 but MAC-check soundness ≈ 2^-126.
 * Elements are canonical (< p); reduction uses 2^127 ≡ 1.
 */
import { checkCount, type Field, type FieldVec } from "./types.ts";
import {
  genericChoiceBits, genericChooserFoldUniform,
  genericCombineRowPairs, genericCopeSenderFoldUniform, genericDecodeExact, genericFromMaskedBytes, genericSignedRowSums,
  genericDigitCopeReceiverFold, genericDigitCopeSenderFold,
} from "./kernels.ts";

const P = (1n << 127n) - 1n;
const MASK64 = (1n << 64n) - 1n;

/** A vector of p128 elements (plain bigint array, canonical). */
export class P128Vec implements FieldVec {
  readonly v: bigint[];
  constructor(v: bigint[]) { this.v = v; }
  get length(): number { return this.v.length; }
}

function vec(v: FieldVec, what = "argument"): P128Vec {
  if (!(v instanceof P128Vec)) throw new TypeError(`p128: ${what} is not a p128 vector`);
  return v;
}

function sameLength(a: P128Vec, b: P128Vec, op: string): void {
  if (a.length !== b.length) throw new RangeError(`p128.${op}: length mismatch ${a.length} vs ${b.length}`);
}

/** Reduces a non-negative x < 2^254 (any product of two elements) mod p. */
function red(x: bigint): bigint {
  x = (x & P) + (x >> 127n);
  x = (x & P) + (x >> 127n);
  return x >= P ? x - P : x;
}

function mod(x: bigint): bigint {
  if (x >= 0n && x < P) return x;
  const r = x % P;
  return r < 0n ? r + P : r;
}

/** The little-endian unsigned integer in `len` bytes at `dv`'s offset `off`; `len` is 16 or 24 (whole 64-bit words, 2–3 BigInt steps instead of one per byte). */
function readLE(dv: DataView, off: number, len: 16 | 24): bigint {
  const lo = dv.getBigUint64(off, true) | (dv.getBigUint64(off + 8, true) << 64n);
  return len === 16 ? lo : lo | (dv.getBigUint64(off + 16, true) << 128n);
}

const viewOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

export const p128: Field = {
  name: "p128",
  p: P,
  byteLength: 16,
  uniformByteLength: 24,
  bits: 127,

  zeros(n) { checkCount("p128.zeros", n); return new P128Vec(new Array<bigint>(n).fill(0n)); },
  fromBigInts(xs) {
    return new P128Vec(xs.map((x, i) => {
      if (typeof x !== "bigint") throw new TypeError(`p128.fromBigInts: element ${i} is not a bigint`);
      return mod(x);
    }));
  },
  fromInts(xs) {
    const out: bigint[] = new Array(xs.length);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      if (!Number.isSafeInteger(x)) throw new RangeError(`p128.fromInts: element ${i} is not a safe integer`);
      out[i] = x < 0 ? P - BigInt(-x) : BigInt(x);
    }
    return new P128Vec(out);
  },
  toBigInts(v) { return vec(v).v.slice(); },
  get(v, i) {
    const a = vec(v);
    if (!Number.isInteger(i) || i < 0 || i >= a.length) throw new RangeError(`p128.get: index ${i} out of range`);
    return a.v[i]!;
  },
  set(v, i, x) {
    const a = vec(v);
    if (!Number.isInteger(i) || i < 0 || i >= a.length) throw new RangeError(`p128.set: index ${i} out of range`);
    a.v[i] = mod(x);
  },
  add(a, b) {
    const x = vec(a, "a"), y = vec(b, "b"); sameLength(x, y, "add");
    return new P128Vec(x.v.map((u, i) => { const s = u + y.v[i]!; return s >= P ? s - P : s; }));
  },
  sub(a, b) {
    const x = vec(a, "a"), y = vec(b, "b"); sameLength(x, y, "sub");
    return new P128Vec(x.v.map((u, i) => { const s = u - y.v[i]!; return s < 0n ? s + P : s; }));
  },
  neg(a) { return new P128Vec(vec(a).v.map((u) => (u === 0n ? 0n : P - u))); },
  mul(a, b) {
    const x = vec(a, "a"), y = vec(b, "b"); sameLength(x, y, "mul");
    return new P128Vec(x.v.map((u, i) => red(u * y.v[i]!)));
  },
  scale(a, s) { const t = mod(s); return new P128Vec(vec(a).v.map((u) => red(u * t))); },
  addInPlace(acc, b) {
    const x = vec(acc, "acc"), y = vec(b, "b"); sameLength(x, y, "addInPlace");
    for (let i = 0; i < x.v.length; i++) { const s = x.v[i]! + y.v[i]!; x.v[i] = s >= P ? s - P : s; }
  },
  sum(v) { let s = 0n; for (const u of vec(v).v) { s += u; if (s >= P) s -= P; } return s; },
  dot(a, b) {
    const x = vec(a, "a"), y = vec(b, "b"); sameLength(x, y, "dot");
    let s = 0n;
    for (let i = 0; i < x.v.length; i++) s = red(s + x.v[i]! * y.v[i]!);
    return s;
  },
  random(n, rng) {
    checkCount("p128.random", n);
    // Rejection sampling: 127 random bits, reject p (probability 2^-127).
    const out: bigint[] = [];
    while (out.length < n) {
      const need = n - out.length;
      const b = viewOf(rng.bytes(16 * need));
      for (let i = 0; i < need; i++) {
        const x = readLE(b, 16 * i, 16) & P;
        if (x !== P) out.push(x);
      }
    }
    return new P128Vec(out);
  },
  fromUniformBytes(bytes, n) {
    checkCount("p128.fromUniformBytes", n);
    if (!(bytes instanceof Uint8Array)) throw new TypeError("p128.fromUniformBytes: bytes must be a Uint8Array");
    if (bytes.length < 24 * n) throw new RangeError(`p128.fromUniformBytes: need ${24 * n} bytes, got ${bytes.length}`);
    // Wide reduction of 192 bits mod p: statistical distance ≤ p/2^192 < 2^-64.
    const out: bigint[] = new Array(n);
    const dv = viewOf(bytes);
    for (let i = 0; i < n; i++) out[i] = red(readLE(dv, 24 * i, 24));
    return new P128Vec(out);
  },
  encode(v) {
    const x = vec(v).v;
    const out = new Uint8Array(16 * x.length);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < x.length; i++) {
      dv.setBigUint64(16 * i, x[i]! & MASK64, true);
      dv.setBigUint64(16 * i + 8, x[i]! >> 64n, true);
    }
    return out;
  },
  decode(bytes) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("p128.decode: bytes must be a Uint8Array");
    if (bytes.length % 16 !== 0) throw new RangeError(`p128.decode: length ${bytes.length} is not a multiple of 16`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out: bigint[] = new Array(bytes.length / 16);
    for (let i = 0; i < out.length; i++) {
      const x = dv.getBigUint64(16 * i, true) | (dv.getBigUint64(16 * i + 8, true) << 64n);
      if (x >= P) throw new RangeError(`p128.decode: element ${i} is not canonical`);
      out[i] = x;
    }
    return new P128Vec(out);
  },
  slice(v, start, end) {
    const x = vec(v);
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > x.length) {
      throw new RangeError(`p128.slice: bad range [${start}, ${end}) of ${x.length}`);
    }
    return new P128Vec(x.v.slice(start, end));
  },
  concat(vs) { return new P128Vec(vs.flatMap((v) => vec(v).v)); },
  copeSenderFoldUniform(x, k, rows) { return genericCopeSenderFoldUniform(p128, x, k, rows); },
  chooserFoldUniform(x, k, d, row) { return genericChooserFoldUniform(p128, x, k, d, row); },
  digitCopeSenderFoldUniform(x, widths, row) { return genericDigitCopeSenderFold(p128, x, widths, row); },
  digitCopeReceiverFoldUniform(c, L, widths, values, row) { return genericDigitCopeReceiverFold(p128, c, L, widths, values, row); },
  choiceBits(x) { return genericChoiceBits(p128, x); },
  gather(v, idx) {
    const x = vec(v).v;
    return new P128Vec(Array.from(idx, (k) => {
      if (k >= x.length) throw new RangeError(`p128.gather: index ${k} out of range`);
      return x[k]!;
    }));
  },
  scaleAddRange(acc, v, start, end, s) {
    const a = vec(acc, "acc").v, x = vec(v).v;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > x.length || end - start > a.length) {
      throw new RangeError(`p128.scaleAddRange: bad range [${start}, ${end}) of ${x.length} into ${a.length}`);
    }
    const c = mod(s);
    for (let i = 0; i < end - start; i++) a[i] = red(a[i]! + x[start + i]! * c);
  },
  fromMaskedBytes(bytes, n) { return genericFromMaskedBytes(p128, bytes, n); },
  signedRowSums(v, codes, codeBits, start, count) { return genericSignedRowSums(p128, v, codes, codeBits, start, count); },
  combineRowPairs(a, b, width, rows, count, coeffs) { return genericCombineRowPairs(p128, a, b, width, rows, count, coeffs); },
  encodeView(v) { return p128.encode(v); },
  decodeExact(bytes, n) { return genericDecodeExact(p128, bytes, n); },
};
