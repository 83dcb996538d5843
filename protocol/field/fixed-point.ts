/**
 * Fixed-point encoding of reals into F_p: x ↦ round(x·2^f) mod p, negatives as p − |·|.
 *
 * Overflow bound: a sum of `parties` contributions, each a sum of `terms` values with
 * |x| ≤ bound, decodes correctly iff parties·terms·bound·2^f < p/2 (centred lift). For m61
 * with f = 16 that allows parties·terms·bound < 2^44 ≈ 1.7·10^13.
 */
import type { Field, FieldVec } from "./types.ts";

function checkFrac(fracBits: number): void {
  if (!Number.isInteger(fracBits) || fracBits < 0 || fracBits > 52) throw new RangeError(`fracBits must be an integer in [0, 52], got ${fracBits}`);
}

/**
 * Encodes reals, clipping each to [−bound, bound] first. Throws RangeError on bad
 * fracBits/bound, on a non-finite input, or if bound·2^f does not fit in the field's half range.
 */
export function encodeFixed(field: Field, xs: ArrayLike<number>, opts: { fracBits: number; bound: number }): FieldVec {
  const { fracBits, bound } = opts;
  checkFrac(fracBits);
  if (!(bound > 0) || !Number.isFinite(bound)) throw new RangeError(`bound must be a positive finite number, got ${bound}`);
  assertNoOverflow(field, { parties: 1, bound, fracBits });
  const scale = 2 ** fracBits;
  const ints: number[] = new Array(xs.length);
  let safe = true;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (!Number.isFinite(x)) throw new RangeError(`encodeFixed: element ${i} is not finite`);
    const c = Math.round(Math.min(bound, Math.max(-bound, x)) * scale);
    ints[i] = c;
    if (!Number.isSafeInteger(c)) safe = false;
  }
  if (safe) return field.fromInts(ints);
  return field.fromBigInts(ints.map((c) => BigInt(c)));
}

/** Decodes with the centred lift: values > p/2 are negative. Result divided by 2^f. */
export function decodeFixed(field: Field, v: FieldVec, fracBits: number): Float64Array {
  checkFrac(fracBits);
  const half = field.p / 2n;
  const xs = field.toBigInts(v);
  const out = new Float64Array(xs.length);
  const scale = 2 ** -fracBits;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    out[i] = Number(x > half ? x - field.p : x) * scale;
  }
  return out;
}

/**
 * Throws RangeError unless parties·terms·⌈bound·2^f⌉ < p/2, i.e. unless a sum of that many
 * encoded values is guaranteed to decode to the true sum.
 */
export function assertNoOverflow(field: Field, o: { parties: number; bound: number; fracBits: number; terms?: number }): void {
  checkFrac(o.fracBits);
  const terms = o.terms ?? 1;
  if (!Number.isSafeInteger(o.parties) || o.parties < 1) throw new RangeError(`parties must be a positive integer, got ${o.parties}`);
  if (!Number.isSafeInteger(terms) || terms < 1) throw new RangeError(`terms must be a positive integer, got ${terms}`);
  if (!(o.bound > 0) || !Number.isFinite(o.bound)) throw new RangeError(`bound must be a positive finite number, got ${o.bound}`);
  const scaled = BigInt(Math.ceil(o.bound * 2 ** o.fracBits));
  const total = BigInt(o.parties) * BigInt(terms) * scaled;
  if (2n * total >= field.p) {
    throw new RangeError(`fixed-point overflow: parties·terms·bound·2^f = ${total} ≥ p/2 for ${field.name}`);
  }
}
