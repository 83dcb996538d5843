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
   * Fused Gilboa-product sender fold (MASCOT Fig. 9 Multiply: the OT sender's side, shaped
   * like Fig. 4's bit-wise COPE Extend). For ℓ = k−1 down to 0 calls `rows(ℓ)` once for the
   * two OT messages' byte strings (each ≥ uniformByteLength·L bytes, L = x.length), read as by
   * {@link Field.fromUniformBytes} into t0_ℓ, t1_ℓ, and returns u (k·L elements, ℓ-major) with
   * u_ℓ = t0_ℓ − t1_ℓ + x and t = Σ_ℓ 2^ℓ·t0_ℓ; fused with the wide reduction for m61. Equals
   * kernels.ts genericCopeSenderFoldUniform. Throws RangeError if a row is too short,
   * TypeError if x belongs to another field.
   */
  copeSenderFoldUniform(x: FieldVec, k: number, rows: (l: number) => readonly [Uint8Array, Uint8Array]): { u: FieldVec; t: FieldVec };
  /**
   * Digit-COPE Extend, sender fold (protocol/mascot/digit-cope.ts: MASCOT's Π_COPE over
   * 2^w-ary digits of Δ with SoftSpokenOT's small-field VOLE). Digit i has width widths[i]
   * (offset o_i = Σ_{i'<i} widths[i']) and N_i = 2^{widths[i]} leaf streams; `row(i, j, n)`
   * returns the bytes of leaf (i, j)'s next n words (≥ byteLength·n bytes), read as by
   * kernels.ts leafElements: each word masked to {@link Field.bits} bits, a word equal to p
   * skipped and replaced by the leaf's next word (a further `row(i, j, 1)`), so elements are
   * exactly uniform. The kernel reads every leaf in element order, in chunks of its choosing
   * whose counts sum to L = x.length (none when L = 0), so a stream advances exactly as by one
   * read of L elements, plus one word per skip. r_ij is leaf (i, j)'s L elements. Returns c (D·L elements, digit-major) with
   * c_i = x − Σ_j r_ij, and t = Σ_i 2^{o_i}·Σ_j (N_i − 1 − j)·r_ij. Equals kernels.ts
   * genericDigitCopeSenderFold. Throws RangeError on a width outside [1, 8], widths summing
   * to more than {@link Field.bits}, or a short row; TypeError if x belongs to another field.
   */
  digitCopeSenderFoldUniform(x: FieldVec, widths: readonly number[], row: (i: number, j: number, n: number) => Uint8Array): { c: FieldVec; t: FieldVec };
  /**
   * Digit-COPE Extend, receiver fold: with digit i's value Δ_i = values[i] ∈ [0, N_i) and its
   * punctured leaf (`row(i, j, n)` returns null, r_ij = 0; any other leaf read as in
   * {@link Field.digitCopeSenderFoldUniform}), returns
   * q = Σ_i 2^{o_i}·(Δ_i·(Σ_j r_ij + c_i) − Σ_j (N_i − 1 − j)·r_ij), c_i = c[i·L, (i+1)·L).
   * Equals kernels.ts genericDigitCopeReceiverFold. Throws RangeError unless c has D·L
   * elements, every value is in [0, N_i) and every non-null row is long enough (widths as the sender's).
   */
  digitCopeReceiverFoldUniform(c: FieldVec, L: number, widths: readonly number[], values: readonly number[], row: (i: number, j: number, n: number) => Uint8Array | null): FieldVec;
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
   * Combined rows of two vectors (the wire polynomials of a product proof, at the points whose
   * Lagrange coefficients are the `coeffs`): with row_l(v) = v[l·width, (l+1)·width)
   * zero-padded (l < rows; a, b of equal length ≤ rows·width), returns for j < count, c =
   * coeffs(j) (rows elements), [Σ_l c_l·row_l(a), Σ_l c_l·row_l(b)] (width elements each).
   * Equals kernels.ts genericCombineRowPairs. Throws RangeError on a shape mismatch.
   */
  combineRowPairs(a: FieldVec, b: FieldVec, width: number, rows: number, count: number, coeffs: (j: number) => FieldVec): Array<[FieldVec, FieldVec]>;
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
