/**
 * Fixed-point parameters for secure aggregation of update vectors, and the L2-norm bound
 * used to validate them inside MASCOT.
 *
 * The vector a node inputs is c = [n·Δ ‖ n] (see aggregate.ts), where Δ has been clipped to
 * ‖Δ‖₂ ≤ C and n ≤ N (the job's declared maximum samples per node). Hence every entry obeys
 *   |c_i| ≤ N·max(C, 1) =: b            (|n·Δ_i| ≤ n·‖Δ‖₂ ≤ N·C, and the count n ≤ N)
 * and ‖c‖₂² ≤ N²·(C² + 1).
 * Encoding: x_i = round(clamp(c_i, ±b)·2^f), an integer with |x_i| ≤ B := b·2^f, mapped to
 * F_p as x mod p (negatives as p − |x|).
 *
 * Overflow bounds (each is checked by {@link planUpdateEncoding}, which throws RangeError):
 *  1. exact in JS numbers: B < 2^53;
 *  2. the sum over P parties decodes correctly: P·B < p/2;
 *  3. validation: the L2 predicate computes Σ x_i² in F_p and checks l2Bound − Σx_i² ∈
 *     [0, 2^L) with L = bitlen(l2Bound). It is sound only if nothing wraps, so MASCOT must
 *     also range-check every entry — the d update entries n·Δ_i as signed values
 *     (x_i + B ∈ [0, 2^rangeBits), an affine shift that is free on authenticated shares), the
 *     sample count as an *unsigned* value 0 ≤ n·2^f ≤ countMax = N·2^f (two unsigned range
 *     checks of countBits bits, see protocol/jobs/learning.ts learningPredicates: a signed
 *     check would let a node report a negative count, which passes the L2 bound and scales
 *     or zeroes the FedAvg denominator Σ n_k) — and we require, as docs/mascot.md states,
 *     (d + 1)·2^(2·rangeBits) + 2^L < p (countBits ≤ rangeBits, so the count is covered).
 * The L2 bound in field integers is ⌈(N·√(C² + 1)·2^f + √(d + 1)/2)²⌉ (the √(d+1)/2 term
 * covers rounding to the grid).
 *
 * Norm check (validated mode), `normCheck`:
 *  - "range" (per-entry bits, d·rangeBits witness values): condition 3 above;
 *  - "pine" (PINE wraparound checks, protocol/mascot/validation.ts; a witness of
 *    L + r·(b1 + 1) values whatever d): no per-entry range check on the update entries — the
 *    L2 predicate is sound over the integers by itself iff (d + 1)·D² + 2^L < p with D the
 *    PINE window diameter ≈ 4α√l2Bound (`pineShape`), and a cheater's entries are bounded only
 *    by the norm, |x_i| ≤ √l2Bound, so the sum must decode with P·√l2Bound < p/2. The count is
 *    still range-checked (unsigned), the evaluation sums too.
 * Default: "pine" for more than {@link PINE_MIN_LENGTH} entries, else "range" (cheaper for
 * small d: d·rangeBits < r·(b1 + 1) ≈ 2000).
 */
import { pineShape } from "../mascot/validation.ts";

/** Update vectors longer than this (d + 1 entries) use the PINE norm check by default. */
export const PINE_MIN_LENGTH = 256;

/** The norm check used for an update of `dim` parameters when the job does not choose: "pine" above {@link PINE_MIN_LENGTH} entries. */
export function defaultNormCheck(dim: number): "range" | "pine" {
  return dim + 1 > PINE_MIN_LENGTH ? "pine" : "range";
}

/** Encoding parameters of one job's update vectors. */
export interface UpdateEncodingPlan {
  /** Length of the aggregated vector: model parameters + 1 (the sample count). */
  length: number;
  fracBits: number;
  /** Real-valued clip bound per entry (b above). */
  bound: number;
  /** Integer bound per entry after scaling (B above). */
  intBound: number;
  /** Range-check width for x_i + intBound (the signed update entries). */
  rangeBits: number;
  /** Largest encoded sample count: maxSamples·2^f (the count entry is n·2^f, unsigned). */
  countMax: number;
  /** Unsigned range-check width of the count entry: countMax < 2^countBits. */
  countBits: number;
  /** Σ x_i² ≤ l2Bound, in field integers. */
  l2Bound: bigint;
  /** How validated mode bounds the norm: per-entry ranges + exact L2, or PINE (see above). */
  normCheck: "range" | "pine";
}

export interface UpdateEncodingParams {
  /** Field modulus (m61: 2^61 − 1). */
  p: bigint;
  parties: number;
  /** Number of model parameters d. */
  dim: number;
  clipNorm: number;
  maxSamples: number;
  /** Fractional bits; if omitted, the largest f ≤ 24 that satisfies every bound (at least 8). */
  fracBits?: number;
  /** Whether the L2 validation bound (3) must hold (validated mode). Default true. */
  validated?: boolean;
  /** Norm check of validated mode; default {@link defaultNormCheck}(dim). */
  normCheck?: "range" | "pine";
}

function check(p: UpdateEncodingParams, f: number): string | null {
  const b = p.maxSamples * Math.max(p.clipNorm, 1);
  const B = Math.ceil(b * 2 ** f);
  if (!(B < 2 ** 53)) return `entry bound ${b}·2^${f} exceeds 2^53`;
  if (!(BigInt(p.parties) * BigInt(B) < p.p / 2n)) return `sum of ${p.parties} parties may overflow p/2 (bound ${b}, ${f} fractional bits)`;
  if (p.validated ?? true) {
    const l2 = l2BoundFor(p.dim, p.clipNorm, p.maxSamples, f);
    if ((p.normCheck ?? defaultNormCheck(p.dim)) === "pine") {
      const sh = pineShape(p.p, p.dim + 1, l2);
      if (!sh.fits) return `PINE norm check needs (d+1)·(2^${sh.wrapBits} − 1)² + 2^${sh.slackBits} < p with d=${p.dim}`;
      const root = BigInt(Math.ceil(Math.sqrt(Number(l2)))) + 1n;
      if (!(BigInt(p.parties) * root < p.p / 2n)) return `sum of ${p.parties} parties may overflow p/2 (entries bounded by the norm only)`;
    } else {
      const rangeBits = Math.ceil(Math.log2(2 * B + 1));
      const L = l2.toString(2).length;
      if (!(BigInt(p.dim + 1) * (1n << BigInt(2 * rangeBits)) + (1n << BigInt(L)) < p.p)) {
        return `L2 check may wrap: (d+1)·2^(2·${rangeBits}) + 2^${L} ≥ p with d=${p.dim}`;
      }
    }
  }
  return null;
}

function l2BoundFor(dim: number, clipNorm: number, maxSamples: number, f: number): bigint {
  const l2Real = maxSamples * Math.sqrt(clipNorm * clipNorm + 1) * 2 ** f + Math.sqrt(dim + 1) / 2;
  return BigInt(Math.ceil(l2Real)) ** 2n;
}

/**
 * Chooses (or checks) the fractional bits and returns the bounds above. Throws RangeError
 * naming the violated bound, or on non-positive parameters.
 */
export function planUpdateEncoding(params: UpdateEncodingParams): UpdateEncodingPlan {
  const { parties, dim, clipNorm, maxSamples } = params;
  if (!Number.isSafeInteger(parties) || parties < 1) throw new RangeError(`planUpdateEncoding: parties must be a positive integer, got ${parties}`);
  if (!Number.isSafeInteger(dim) || dim < 1) throw new RangeError(`planUpdateEncoding: dim must be a positive integer, got ${dim}`);
  if (!(clipNorm > 0) || !Number.isFinite(clipNorm)) throw new RangeError(`planUpdateEncoding: clipNorm must be positive, got ${clipNorm}`);
  if (!Number.isSafeInteger(maxSamples) || maxSamples < 1) throw new RangeError(`planUpdateEncoding: maxSamples must be a positive integer, got ${maxSamples}`);
  let f: number;
  if (params.fracBits !== undefined) {
    f = params.fracBits;
    if (!Number.isInteger(f) || f < 0 || f > 52) throw new RangeError(`planUpdateEncoding: fracBits must be an integer in [0, 52], got ${f}`);
    const err = check(params, f);
    if (err) throw new RangeError(`planUpdateEncoding: ${err}`);
  } else {
    // Down to 4 fractional bits: the update is n·Δ, so its resolution is 2^-f/n in units of Δ.
    f = -1;
    for (let c = 24; c >= 4; c--) if (check(params, c) === null) { f = c; break; }
    if (f < 0) throw new RangeError(`planUpdateEncoding: no fracBits in [4, 24] fits: ${check(params, 4)}`);
  }
  const bound = maxSamples * Math.max(clipNorm, 1);
  const intBound = Math.ceil(bound * 2 ** f);
  const rangeBits = Math.ceil(Math.log2(2 * intBound + 1));
  const l2Bound = l2BoundFor(dim, clipNorm, maxSamples, f);
  const countMax = maxSamples * 2 ** f;
  const countBits = Math.max(1, Math.ceil(Math.log2(countMax + 1)));
  return { length: dim + 1, fracBits: f, bound, intBound, rangeBits, countMax, countBits, l2Bound, normCheck: params.normCheck ?? defaultNormCheck(dim) };
}

/**
 * Fixed-point quantisation to signed integers (as exact JS numbers): round(clamp(x, ±bound)·2^f).
 * Throws RangeError on a non-finite entry or if bound·2^f ≥ 2^53.
 */
export function quantize(xs: ArrayLike<number>, fracBits: number, bound: number): Float64Array {
  const scale = 2 ** fracBits;
  if (!(bound * scale < 2 ** 53)) throw new RangeError(`quantize: bound·2^f ≥ 2^53`);
  const out = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (!Number.isFinite(x)) throw new RangeError(`quantize: non-finite entry at ${i}`);
    out[i] = Math.round(Math.min(bound, Math.max(-bound, x)) * scale);
  }
  return out;
}

/** Inverse of {@link quantize} on (sums of) integers. */
export function dequantize(ints: ArrayLike<number>, fracBits: number): Float64Array {
  const scale = 2 ** -fracBits;
  const out = new Float64Array(ints.length);
  for (let i = 0; i < ints.length; i++) out[i] = ints[i]! * scale;
  return out;
}

/** Σ x_i² of a quantised vector as an exact bigint: the quantity the L2 predicate bounds. */
export function squaredNormInt(ints: ArrayLike<number>): bigint {
  let s = 0n;
  for (let i = 0; i < ints.length; i++) { const x = BigInt(ints[i]!); s += x * x; }
  return s;
}

/**
 * Plaintext reference of the validated-mode predicates on one quantised contribution:
 * every update entry within ±intBound (signed range check; only with normCheck "range" —
 * with "pine" an entry is bounded by the norm alone), the count (last entry) in
 * [0, countMax] (unsigned), and Σ x_i² ≤ l2Bound. MASCOT evaluates the same predicates on
 * secret shares; this is what the simulation and tests use.
 */
export function validateContribution(ints: ArrayLike<number>, plan: UpdateEncodingPlan): { ok: boolean; reason?: "length" | "range" | "count" | "l2-norm" } {
  if (ints.length !== plan.length) return { ok: false, reason: "length" };
  for (let i = 0; i < ints.length; i++) {
    const x = ints[i]!;
    if (!Number.isSafeInteger(x) || (plan.normCheck === "range" && Math.abs(x) > plan.intBound)) return { ok: false, reason: "range" };
  }
  const count = ints[plan.length - 1]!;
  if (count < 0 || count > plan.countMax) return { ok: false, reason: "count" };
  return squaredNormInt(ints) <= plan.l2Bound ? { ok: true } : { ok: false, reason: "l2-norm" };
}

/**
 * Largest per-row cross-entropy a node can report: tfjs-side probabilities are clipped to
 * [1e-7, 1 − 1e-7] (client/learning), so −ln p ≤ −ln 1e-7 ≈ 16.12.
 */
export const MAX_ROW_LOSS = -Math.log(1e-7);

/**
 * Fixed-point plan for the evaluation vector [Σloss, Σcorrect, count] (see aggregate.ts):
 * every entry lies in [0, maxSamples·MAX_ROW_LOSS], entries are non-negative, so a plain
 * `range` predicate on [0, 2^rangeBits) validates them. Default fracBits 16. Throws
 * RangeError if parties·B ≥ p/2 or B ≥ 2^53.
 */
export function planEvalEncoding(params: { p: bigint; parties: number; maxSamples: number; fracBits?: number }): { fracBits: number; bound: number; intBound: number; rangeBits: number } {
  const { parties, maxSamples } = params;
  const f = params.fracBits ?? 16;
  if (!Number.isSafeInteger(parties) || parties < 1) throw new RangeError(`planEvalEncoding: parties must be a positive integer, got ${parties}`);
  if (!Number.isSafeInteger(maxSamples) || maxSamples < 1) throw new RangeError(`planEvalEncoding: maxSamples must be a positive integer, got ${maxSamples}`);
  if (!Number.isInteger(f) || f < 0 || f > 52) throw new RangeError(`planEvalEncoding: fracBits must be an integer in [0, 52], got ${f}`);
  const bound = maxSamples * MAX_ROW_LOSS;
  const intBound = Math.ceil(bound * 2 ** f);
  if (!(intBound < 2 ** 53)) throw new RangeError("planEvalEncoding: bound·2^f exceeds 2^53");
  if (!(BigInt(parties) * BigInt(intBound) < params.p / 2n)) throw new RangeError("planEvalEncoding: the sum may overflow p/2");
  return { fracBits: f, bound, intBound, rangeBits: Math.ceil(Math.log2(intBound + 1)) };
}
