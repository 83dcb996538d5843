/**
 * Field-generic reference implementations of the fused kernels of the {@link Field}
 * interface (COPE folds, exact decoding). Every field may use them as its implementation
 * (p128 does) or fall back to them (m61 does when its fast path does not apply); the
 * fast kernels are tested against them (test/unit/field/kernels.test.ts).
 */
import { checkCount, type Field, type FieldVec } from "./types.ts";

/** Throws RangeError unless `v` has exactly n elements. */
function checkLength(what: string, v: FieldVec, n: number): void {
  if (v.length !== n) throw new RangeError(`${what}: ${v.length} elements, expected ${n}`);
}

/**
 * Generic {@link Field.copeSenderFold}: u_ℓ = t0_ℓ − t1_ℓ + x for ℓ < k (ℓ-major) and
 * t = Σ_ℓ 2^ℓ·t0_ℓ by Horner from ℓ = k−1 down. Throws RangeError if a row is not x.length long.
 */
export function genericCopeSenderFold(f: Field, x: FieldVec, k: number, rows: (l: number) => readonly [FieldVec, FieldVec]): { u: FieldVec; t: FieldVec } {
  checkCount(`${f.name}.copeSenderFold`, k);
  const L = x.length;
  const us: FieldVec[] = [];
  let t = f.zeros(L);
  for (let l = k - 1; l >= 0; l--) {
    const [t0, t1] = rows(l);
    checkLength(`${f.name}.copeSenderFold row ${l}`, t0, L);
    checkLength(`${f.name}.copeSenderFold row ${l}`, t1, L);
    const u = f.sub(t0, t1);
    f.addInPlace(u, x);
    us[l] = u;
    t = f.add(t, t);
    f.addInPlace(t, t0);
  }
  return { u: f.concat(us), t };
}

/**
 * Generic {@link Field.copeReceiverFold}: q = Σ_ℓ 2^ℓ·(q_ℓ + Δ_ℓ·u_ℓ), q_ℓ = row(ℓ), Δ_ℓ bit ℓ
 * of delta, u_ℓ = u[ℓ·L, (ℓ+1)·L). Throws RangeError unless u has k·L elements and each row L.
 */
export function genericCopeReceiverFold(f: Field, u: FieldVec, L: number, k: number, delta: bigint, row: (l: number) => FieldVec): FieldVec {
  checkCount(`${f.name}.copeReceiverFold`, k);
  checkCount(`${f.name}.copeReceiverFold`, L);
  checkLength(`${f.name}.copeReceiverFold correction`, u, k * L);
  let q = f.zeros(L);
  for (let l = k - 1; l >= 0; l--) {
    const ql = row(l);
    checkLength(`${f.name}.copeReceiverFold row ${l}`, ql, L);
    if ((delta >> BigInt(l)) & 1n) f.addInPlace(ql, f.slice(u, l * L, (l + 1) * L));
    q = f.add(q, q);
    f.addInPlace(q, ql);
  }
  return q;
}

/** Generic {@link Field.copeSenderFoldUniform}: rows through {@link Field.fromUniformBytes}, then {@link genericCopeSenderFold}. */
export function genericCopeSenderFoldUniform(f: Field, x: FieldVec, k: number, rows: (l: number) => readonly [Uint8Array, Uint8Array]): { u: FieldVec; t: FieldVec } {
  const L = x.length;
  return genericCopeSenderFold(f, x, k, (l) => {
    const [r0, r1] = rows(l);
    return [f.fromUniformBytes(r0, L), f.fromUniformBytes(r1, L)];
  });
}

/** Generic {@link Field.copeReceiverFoldUniform}: rows through {@link Field.fromUniformBytes}, then {@link genericCopeReceiverFold}. */
export function genericCopeReceiverFoldUniform(f: Field, u: FieldVec, L: number, k: number, delta: bigint, row: (l: number) => Uint8Array): FieldVec {
  return genericCopeReceiverFold(f, u, L, k, delta, (l) => f.fromUniformBytes(row(l), L));
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

/** Generic {@link Field.combinedRowDots}: {@link Field.scaleAddRange} per row, then {@link Field.dot}. */
export function genericCombinedRowDots(f: Field, a: FieldVec, b: FieldVec, width: number, rows: number, count: number, coeffs: (j: number) => FieldVec): bigint[] {
  checkRowShape(`${f.name}.combinedRowDots`, a, b, width, rows, count);
  const P = a.length, out: bigint[] = [];
  for (let j = 0; j < count; j++) {
    const c = coeffs(j);
    checkLength(`${f.name}.combinedRowDots coefficients ${j}`, c, rows);
    const ca = f.zeros(width), cb = f.zeros(width);
    for (let l = 0; l < rows; l++) {
      const cl = f.get(c, l), start = Math.min(l * width, P), end = Math.min(start + width, P);
      if (cl === 0n || end === start) continue;
      f.scaleAddRange(ca, a, start, end, cl);
      f.scaleAddRange(cb, b, start, end, cl);
    }
    out.push(f.dot(ca, cb));
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
