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
}

/** Throws RangeError unless `n` is a non-negative safe integer. */
export function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what}: count must be a non-negative integer, got ${n}`);
}
