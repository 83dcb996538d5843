/** The field interface shared by every MASCOT module (see docs/ARCHITECTURE.md, "Field API"). */
import type { Rng } from "../rng.ts";

/** An opaque vector of field elements; each field has its own representation. */
export type FieldVec = { readonly length: number };

export interface Field {
  readonly name: "m61" | "p128";
  readonly p: bigint;
  /** Bytes per encoded element: 8 (m61) or 16 (p128). */
  readonly byteLength: number;
  /**
   * Bytes of PRG output consumed per element by {@link Field.fromUniformBytes}
   * (byteLength + 8, so that wide reduction has bias ≤ 2^-64). Extension to the contract.
   */
  readonly uniformByteLength: number;
  /** Bits needed to write any element (61 or 127): the number of OTs per Gilboa product. */
  readonly bits: number;
  zeros(n: number): FieldVec;
  fromBigInts(xs: readonly bigint[]): FieldVec;
  fromInts(xs: ArrayLike<number>): FieldVec;
  toBigInts(v: FieldVec): bigint[];
  get(v: FieldVec, i: number): bigint;
  set(v: FieldVec, i: number, x: bigint): void;
  add(a: FieldVec, b: FieldVec): FieldVec;
  sub(a: FieldVec, b: FieldVec): FieldVec;
  neg(a: FieldVec): FieldVec;
  mul(a: FieldVec, b: FieldVec): FieldVec;
  scale(a: FieldVec, s: bigint): FieldVec;
  addInPlace(acc: FieldVec, b: FieldVec): void;
  sum(v: FieldVec): bigint;
  dot(a: FieldVec, b: FieldVec): bigint;
  random(n: number, rng: Rng): FieldVec;
  fromUniformBytes(bytes: Uint8Array, n: number): FieldVec;
  encode(v: FieldVec): Uint8Array;
  decode(bytes: Uint8Array): FieldVec;
  slice(v: FieldVec, start: number, end: number): FieldVec;
  concat(vs: FieldVec[]): FieldVec;
  /**
   * Fused COPE Extend sender fold (MASCOT §4, Π_COPE; the online input of Fig. 7). For
   * ℓ = k−1 down to 0 calls `rows(ℓ)` once for (t0_ℓ, t1_ℓ) = (PRG(k0_ℓ), PRG(k1_ℓ)), each of
   * x.length elements, and returns u (k·L elements, ℓ-major) with u_ℓ = t0_ℓ − t1_ℓ + x and
   * t = Σ_ℓ 2^ℓ·t0_ℓ. The vectors returned by `rows` may be overwritten. Result equals
   * kernels.ts genericCopeSenderFold. Throws RangeError if a row has the wrong length,
   * TypeError if a vector belongs to another field.
   */
  copeSenderFold(x: FieldVec, k: number, rows: (l: number) => readonly [FieldVec, FieldVec]): { u: FieldVec; t: FieldVec };
  /**
   * Fused COPE Extend receiver fold: for ℓ = k−1 down to 0 calls `row(ℓ)` once for
   * q_ℓ = PRG(kΔ_ℓ) (L elements) and returns q = Σ_ℓ 2^ℓ·(q_ℓ + Δ_ℓ·u_ℓ), Δ_ℓ bit ℓ of
   * `delta`, u_ℓ = u[ℓ·L, (ℓ+1)·L). The vectors returned by `row` may be overwritten.
   * Result equals kernels.ts genericCopeReceiverFold. Throws RangeError unless u has k·L
   * elements and every row L; TypeError if a vector belongs to another field.
   */
  copeReceiverFold(u: FieldVec, L: number, k: number, delta: bigint, row: (l: number) => FieldVec): FieldVec;
  /**
   * {@link Field.copeSenderFold} with rows given as PRG/OT output: t0_ℓ, t1_ℓ are the
   * elements of `rows(ℓ)`'s byte strings (each ≥ uniformByteLength·L bytes) exactly as
   * {@link Field.fromUniformBytes} reads them; fused with the wide reduction for m61.
   * Throws RangeError if a row is too short.
   */
  copeSenderFoldUniform(x: FieldVec, k: number, rows: (l: number) => readonly [Uint8Array, Uint8Array]): { u: FieldVec; t: FieldVec };
  /**
   * {@link Field.copeReceiverFold} with q_ℓ the elements of `row(ℓ)`'s bytes read as by
   * {@link Field.fromUniformBytes}. Throws RangeError unless u has k·L elements and every row
   * has ≥ uniformByteLength·L bytes.
   */
  copeReceiverFoldUniform(u: FieldVec, L: number, k: number, delta: bigint, row: (l: number) => Uint8Array): FieldVec;
  /**
   * Gilboa product, OT-receiver fold (MASCOT Fig. 9 Multiply; the chooser's bits are those of
   * x, L = x.length): for h = k−1 down to 0 calls `row(h)` once for the chosen messages m_h
   * (≥ uniformByteLength·L bytes read as by {@link Field.fromUniformBytes}) and returns
   * q = Σ_h 2^h·(m_h + bit_h(x)·d_h), d_h = d[h·L, (h+1)·L) (element-wise bit h of x).
   * Throws RangeError unless d has k·L elements (k ≤ bits) and every row is long enough.
   */
  chooserFoldUniform(x: FieldVec, k: number, d: FieldVec, row: (h: number) => Uint8Array): FieldVec;
  /** Bit h of element e of x at index h·x.length + e, for h < {@link Field.bits} (little-endian bits). */
  choiceBits(x: FieldVec): Uint8Array;
  /** out[i] = v[idx[i]] (a fresh vector). Throws RangeError if an index is out of range. */
  gather(v: FieldVec, idx: Uint32Array): FieldVec;
  /**
   * acc[i] += s·v[start + i] for i < end − start, in place (acc.length ≥ end − start; the rest
   * of acc is untouched). Throws RangeError on a bad range.
   */
  scaleAddRange(acc: FieldVec, v: FieldVec, start: number, end: number, s: bigint): void;
  /**
   * n elements from the first byteLength·n bytes: each little-endian value with its bits
   * ≥ {@link Field.bits} cleared (exactly uniform on [0, 2^bits)); undefined if any element
   * equals p (the caller re-draws). May reuse and overwrite the memory of `bytes`.
   * Throws RangeError if bytes is too short.
   */
  fromMaskedBytes(bytes: Uint8Array, n: number): FieldVec | undefined;
  /**
   * Signed sums with a packed public sign matrix Z of rows × n entries, n = v.length: for rows
   * i ∈ [start, start + count) returns (Σ_k Z_ik·v_k mod p)_i. Entry (i, k) is code b = i·n + k:
   * codeBits 1 → bit b of `codes` (1: +1, 0: −1); codeBits 2 → bits 2b, 2b+1 (3: +1, 0: −1,
   * 1 or 2: 0). Equals kernels.ts genericSignedRowSums. Throws RangeError if codes is too short.
   */
  signedRowSums(v: FieldVec, codes: Uint8Array, codeBits: 1 | 2, start: number, count: number): FieldVec;
  /**
   * Combined-row inner products (the extrapolated wire polynomials of a product proof): with
   * row_l(v) = v[l·width, (l+1)·width) zero-padded (l < rows; a, b of equal length ≤
   * rows·width), returns for j < count, c = coeffs(j) (rows elements),
   * ⟨Σ_l c_l·row_l(a), Σ_l c_l·row_l(b)⟩ mod p. Equals kernels.ts genericCombinedRowDots.
   * Throws RangeError on a shape mismatch.
   */
  combinedRowDots(a: FieldVec, b: FieldVec, width: number, rows: number, count: number, coeffs: (j: number) => FieldVec): bigint[];
  /**
   * The wire encoding of v (the same bytes as {@link Field.encode}), possibly a view sharing
   * memory with v (zero-copy for m61 on little-endian hosts): neither may be mutated while
   * the other is in use. Throws TypeError if v belongs to another field.
   */
  encodeView(v: FieldVec): Uint8Array;
  /**
   * Decodes exactly n canonical elements (the inverse of {@link Field.encode}); the result
   * may share memory with `bytes` (zero-copy for aligned m61 input on little-endian hosts).
   * Throws RangeError if bytes.length ≠ n·byteLength or any element is ≥ p.
   */
  decodeExact(bytes: Uint8Array, n: number): FieldVec;
}

/** Throws RangeError unless `n` is a non-negative safe integer. */
export function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what}: count must be a non-negative integer, got ${n}`);
}
