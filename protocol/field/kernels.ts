/**
 * Field-generic reference implementations of the fused kernels of the {@link Field}
 * interface (Gilboa and digit-COPE folds, exact decoding). Every field may use them as its implementation
 * (p128 does) or fall back to them (m61 does when its fast path does not apply); the
 * fast kernels are tested against them (test/unit/field/kernels.test.ts).
 */
import { checkCount, type Field, type FieldVec } from "./types.ts";

/** Throws RangeError unless `v` has exactly n elements. */
function checkLength(what: string, v: FieldVec, n: number): void {
  if (v.length !== n) throw new RangeError(`${what}: ${v.length} elements, expected ${n}`);
}

/**
 * Generic {@link Field.copeSenderFoldUniform} (the Gilboa sender fold, MASCOT Fig. 9): with
 * t0_ℓ, t1_ℓ the rows' elements (through {@link Field.fromUniformBytes}), u_ℓ = t0_ℓ − t1_ℓ + x
 * for ℓ < k (ℓ-major) and t = Σ_ℓ 2^ℓ·t0_ℓ by Horner from ℓ = k−1 down. Throws RangeError if
 * a row is too short.
 */
export function genericCopeSenderFoldUniform(f: Field, x: FieldVec, k: number, rows: (l: number) => readonly [Uint8Array, Uint8Array]): { u: FieldVec; t: FieldVec } {
  checkCount(`${f.name}.copeSenderFoldUniform`, k);
  const L = x.length;
  const us: FieldVec[] = [];
  let t = f.zeros(L);
  for (let l = k - 1; l >= 0; l--) {
    const [r0, r1] = rows(l);
    const t0 = f.fromUniformBytes(r0, L), t1 = f.fromUniformBytes(r1, L);
    const u = f.sub(t0, t1);
    f.addInPlace(u, x);
    us[l] = u;
    t = f.add(t, t);
    f.addInPlace(t, t0);
  }
  return { u: f.concat(us), t };
}

/** Largest digit width of a digit-COPE fold (2^8 leaf streams per digit). */
export const MAX_DIGIT_WIDTH = 8;

/**
 * Checks digit widths for a digit-COPE fold: integers in [1, {@link MAX_DIGIT_WIDTH}] summing
 * to at most f.bits. Returns their offsets o_i. Throws RangeError otherwise.
 */
export function digitOffsets(f: Field, widths: readonly number[], what: string): number[] {
  const out: number[] = [];
  let o = 0;
  for (const w of widths) {
    if (!Number.isInteger(w) || w < 1 || w > MAX_DIGIT_WIDTH) throw new RangeError(`${what}: digit width must be an integer in [1, ${MAX_DIGIT_WIDTH}], got ${w}`);
    out.push(o);
    o += w;
  }
  if (o > f.bits) throw new RangeError(`${what}: digit widths sum to ${o} > ${f.bits} bits`);
  return out;
}

/**
 * The next n elements of a digit-COPE leaf stream whose next n words are `bytes`: each
 * byteLength-byte little-endian word with its bits ≥ {@link Field.bits} cleared, a word equal
 * to p skipped (the stream's next word, `more()`, takes its place), so every element is
 * exactly uniform in F_p (both fields are Mersenne: p = 2^bits − 1, a skip has probability
 * 2^-bits per word). The contract of the digit-COPE folds' leaf reads ({@link Field.digitCopeSenderFoldUniform}).
 * Throws RangeError if `bytes` is shorter than byteLength·n or a refill shorter than one word.
 */
export function leafElements(f: Field, bytes: Uint8Array, n: number, more: () => Uint8Array): FieldVec {
  const w = f.byteLength;
  if (bytes.length < w * n) throw new RangeError(`${f.name} leaf: need ${w * n} bytes, got ${bytes.length}`);
  const fast = f.fromMaskedBytes(bytes.slice(0, w * n), n);
  if (fast) return fast;
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) { const x = maskedWord(f, bytes, i); if (x !== undefined) out.push(x); }
  while (out.length < n) {
    const b = more();
    if (b.length < w) throw new RangeError(`${f.name} leaf refill: need ${w} bytes, got ${b.length}`);
    const x = maskedWord(f, b, 0);
    if (x !== undefined) out.push(x);
  }
  return f.fromBigInts(out);
}

/** Word i of `b` (byteLength bytes, little-endian) masked to {@link Field.bits} bits, or undefined if it equals p. */
function maskedWord(f: Field, b: Uint8Array, i: number): bigint | undefined {
  const v = f.fromMaskedBytes(b.slice(f.byteLength * i, f.byteLength * (i + 1)), 1);
  return v === undefined ? undefined : f.get(v, 0);
}

/** a = Σ_j r_j and b = Σ_j (N − 1 − j)·r_j over N leaves (null: r_j = 0), by prefix sums; leaf j's elements by {@link leafElements}. */
function genericDigitSums(f: Field, L: number, N: number, row: (j: number, n: number) => Uint8Array | null): { a: FieldVec; b: FieldVec } {
  const a = f.zeros(L), b = f.zeros(L);
  for (let j = 0; j < N; j++) {
    const r = row(j, L);
    if (r !== null) f.addInPlace(a, leafElements(f, r, L, () => row(j, 1)!));
    if (j < N - 1) f.addInPlace(b, a); // b = Σ_{k ≤ N−2} (r_0 + … + r_k)
  }
  return { a, b };
}

/** Generic {@link Field.digitCopeSenderFoldUniform}: prefix sums per digit, leaf elements by {@link leafElements}. */
export function genericDigitCopeSenderFold(f: Field, x: FieldVec, widths: readonly number[], row: (i: number, j: number, n: number) => Uint8Array): { c: FieldVec; t: FieldVec } {
  const offsets = digitOffsets(f, widths, `${f.name}.digitCopeSenderFoldUniform`);
  const L = x.length, t = f.zeros(L), cs: FieldVec[] = [];
  widths.forEach((w, i) => {
    const { a, b } = genericDigitSums(f, L, 1 << w, (j, n) => (L > 0 ? row(i, j, n) : null));
    f.scaleAddRange(t, b, 0, L, (1n << BigInt(offsets[i]!)) % f.p);
    cs.push(f.sub(x, a));
  });
  return { c: f.concat(cs), t };
}

/** Generic {@link Field.digitCopeReceiverFoldUniform}: q_i = Δ_i·(A′_i + c_i) − B′_i per digit, Σ_i 2^{o_i}·q_i. */
export function genericDigitCopeReceiverFold(f: Field, c: FieldVec, L: number, widths: readonly number[], values: readonly number[], row: (i: number, j: number, n: number) => Uint8Array | null): FieldVec {
  const what = `${f.name}.digitCopeReceiverFoldUniform`;
  const offsets = digitOffsets(f, widths, what);
  checkCount(what, L);
  checkLength(`${what} correction`, c, widths.length * L);
  if (values.length !== widths.length) throw new RangeError(`${what}: ${values.length} digit values for ${widths.length} digits`);
  const q = f.zeros(L);
  widths.forEach((w, i) => {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= 1 << w) throw new RangeError(`${what}: digit ${i} value ${v} out of range`);
    const { a, b } = genericDigitSums(f, L, 1 << w, (j, n) => (L > 0 ? row(i, j, n) : null));
    const base = (1n << BigInt(offsets[i]!)) % f.p;
    f.scaleAddRange(a, c, i * L, (i + 1) * L, 1n);
    f.scaleAddRange(q, a, 0, L, (base * BigInt(v)) % f.p);
    f.scaleAddRange(q, b, 0, L, (f.p - base) % f.p);
  });
  return q;
}

/** Generic {@link Field.choiceBits} through {@link Field.toBigInts}. */
export function genericChoiceBits(f: Field, x: FieldVec): Uint8Array {
  const L = x.length, k = f.bits;
  const out = new Uint8Array(k * L);
  const xs = f.toBigInts(x);
  for (let e = 0; e < L; e++) {
    let v = xs[e]!;
    for (let h = 0; h < k; h++) { out[h * L + e] = Number(v & 1n); v >>= 1n; }
  }
  return out;
}

/** Generic {@link Field.chooserFoldUniform}: q ← 2q + m_h + bit_h(x)·d_h from h = k−1 down. */
export function genericChooserFoldUniform(f: Field, x: FieldVec, k: number, d: FieldVec, row: (h: number) => Uint8Array): FieldVec {
  checkCount(`${f.name}.chooserFoldUniform`, k);
  if (k > f.bits) throw new RangeError(`${f.name}.chooserFoldUniform: k = ${k} > ${f.bits} bits`);
  const L = x.length;
  checkLength(`${f.name}.chooserFoldUniform d`, d, k * L);
  const bits = genericChoiceBits(f, x);
  let q = f.zeros(L);
  for (let h = k - 1; h >= 0; h--) {
    const mh = f.fromUniformBytes(row(h), L);
    f.addInPlace(mh, f.mul(f.fromInts(bits.subarray(h * L, (h + 1) * L)), f.slice(d, h * L, (h + 1) * L)));
    q = f.add(q, q);
    f.addInPlace(q, mh);
  }
  return q;
}

/** Generic {@link Field.gather} through {@link Field.get}. */
export function genericGather(f: Field, v: FieldVec, idx: Uint32Array): FieldVec {
  return f.fromBigInts(Array.from(idx, (k) => f.get(v, k)));
}

/** Generic {@link Field.fromMaskedBytes} through {@link Field.fromBigInts}. */
export function genericFromMaskedBytes(f: Field, bytes: Uint8Array, n: number): FieldVec | undefined {
  checkCount(`${f.name}.fromMaskedBytes`, n);
  const w = f.byteLength;
  if (bytes.length < w * n) throw new RangeError(`${f.name}.fromMaskedBytes: need ${w * n} bytes, got ${bytes.length}`);
  const mask = (1n << BigInt(f.bits)) - 1n;
  const out: bigint[] = new Array(n);
  for (let i = 0; i < n; i++) {
    let x = 0n;
    for (let j = w - 1; j >= 0; j--) x = (x << 8n) | BigInt(bytes[w * i + j]!);
    x &= mask;
    if (x === f.p) return undefined;
    out[i] = x;
  }
  return f.fromBigInts(out);
}

/** Z_ik ∈ {−1, 0, 1} of a packed sign matrix (see {@link Field.signedRowSums}); b = i·n + k. */
export function signCode(codes: Uint8Array, codeBits: 1 | 2, b: number): -1 | 0 | 1 {
  if (codeBits === 1) return (codes[b >>> 3]! >> (b & 7)) & 1 ? 1 : -1;
  const c = (codes[b >>> 2]! >> ((b & 3) * 2)) & 3;
  return c === 0 ? -1 : c === 3 ? 1 : 0;
}

/** Throws RangeError unless `codes` covers rows [start, start + count) of n entries. */
export function checkSignRows(what: string, codes: Uint8Array, codeBits: 1 | 2, n: number, start: number, count: number): void {
  checkCount(what, start);
  checkCount(what, count);
  if (codeBits !== 1 && codeBits !== 2) throw new RangeError(`${what}: codeBits must be 1 or 2`);
  if (codes.length * (8 / codeBits) < (start + count) * n) throw new RangeError(`${what}: not enough code bits for ${start + count} rows of ${n}`);
}

/** Generic {@link Field.signedRowSums}: BigInt sums over {@link Field.toBigInts}. */
export function genericSignedRowSums(f: Field, v: FieldVec, codes: Uint8Array, codeBits: 1 | 2, start: number, count: number): FieldVec {
  const n = v.length;
  checkSignRows(`${f.name}.signedRowSums`, codes, codeBits, n, start, count);
  const xs = f.toBigInts(v);
  const out: bigint[] = [];
  for (let i = start; i < start + count; i++) {
    let s = 0n;
    for (let k = 0; k < n; k++) { const z = signCode(codes, codeBits, i * n + k); if (z === 1) s += xs[k]!; else if (z === -1) s -= xs[k]!; }
    out.push(((s % f.p) + f.p) % f.p);
  }
  return f.fromBigInts(out);
}

/** Throws RangeError unless a, b have equal length ≤ rows·width. */
export function checkRowShape(what: string, a: FieldVec, b: FieldVec, width: number, rows: number, count: number): void {
  checkCount(what, width);
  checkCount(what, rows);
  checkCount(what, count);
  if (a.length !== b.length || a.length > rows * width) throw new RangeError(`${what}: vectors of ${a.length} and ${b.length} do not fit ${rows} rows of ${width}`);
}

/** Generic {@link Field.combineRowPairs}: {@link Field.scaleAddRange} per row. */
export function genericCombineRowPairs(f: Field, a: FieldVec, b: FieldVec, width: number, rows: number, count: number, coeffs: (j: number) => FieldVec): Array<[FieldVec, FieldVec]> {
  checkRowShape(`${f.name}.combineRowPairs`, a, b, width, rows, count);
  const P = a.length, out: Array<[FieldVec, FieldVec]> = [];
  for (let j = 0; j < count; j++) {
    const c = coeffs(j);
    checkLength(`${f.name}.combineRowPairs coefficients ${j}`, c, rows);
    const ca = f.zeros(width), cb = f.zeros(width);
    for (let l = 0; l < rows; l++) {
      const cl = f.get(c, l), start = Math.min(l * width, P), end = Math.min(start + width, P);
      if (cl === 0n || end === start) continue;
      f.scaleAddRange(ca, a, start, end, cl);
      f.scaleAddRange(cb, b, start, end, cl);
    }
    out.push([ca, cb]);
  }
  return out;
}

/**
 * Generic {@link Field.decodeExact}: exactly n canonical elements via {@link Field.decode}.
 * Throws RangeError on a wrong byte length or a non-canonical element.
 */
export function genericDecodeExact(f: Field, bytes: Uint8Array, n: number): FieldVec {
  checkCount(`${f.name}.decodeExact`, n);
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${f.name}.decodeExact: bytes must be a Uint8Array`);
  if (bytes.length !== n * f.byteLength) throw new RangeError(`${f.name}.decodeExact: ${bytes.length} bytes, expected ${n * f.byteLength} (${n} elements)`);
  return f.decode(bytes);
}
