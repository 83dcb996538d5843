/**
 * Differential-privacy noise inside a validated MASCOT sum (docs/dp.md, issue 19). Each
 * party P_j inputs, besides its contribution x_j ∈ F^d, its own noise z_j ~ N_Z(0, σ²)^d as a
 * second authenticated vector (the authenticated input becomes [x_j | z_j]); the validation
 * circuit proves ‖z_j‖₂² ≤ B with the PINE norm check (validation.ts) on entries [d, 2d);
 * after every input, every noise vector and the exclusion decision are fixed, a coin toss
 * draws public signs r ∈ {±1}^d, and only y = Σ_j (x_j + r ⊙ z_j) is opened (online.ts).
 *
 * σ² is public, per entry, given as contiguous segments with one rational σ² each; every
 * party derives it from the signed job spec, never from another party.
 *
 * Norm bound (honest rejection ≤ 2^-40). For z ~ N_Z(0, σ²), Poisson summation gives
 * E[exp(λz²)] = θ(σ²/(1 − 2λσ²))/θ(σ²) ≤ (1 − 2λσ²)^(-1/2) with θ(s) = Σ_z e^{−z²/(2s)}
 * = √(2πs)·Σ_k e^{−2π²k²s} (the k-sum decreases in s): the χ²₁ moment bound. Laurent–Massart
 * (Ann. Stat. 2000, Lemma 1) uses only that bound, so with a_k = σ_k²,
 *   P[Σ z_k² ≥ Σa + 2‖a‖₂√t + 2‖a‖_∞·t] ≤ e^{−t},
 * and t = {@link NOISE_TAIL_T} ≥ 40·ln 2 makes it ≤ 2^-40. B is that threshold rounded up.
 */
import type { Field, FieldVec } from "../field/types.ts";
import type { Rng } from "../rng.ts";
import { bufferedRng } from "../rng.ts";
import { sampleDiscreteGaussian, type Rational } from "../dp/discrete-gaussian.ts";
import { expandBytes } from "./shares.ts";

/** One run of entries [start, end) with the same public noise variance σ² (a positive rational). */
export interface NoiseSegment { start: number; end: number; sigma2: Rational }

/** The public noise of a validated sum: contiguous segments covering every opened entry [0, length). */
export interface NoiseConfig { segments: NoiseSegment[] }

/** Tail parameter of the norm bound: 27.726 > 40·ln 2 = 27.72589, so an honest vector fails w.p. ≤ 2^-40. A constant (no Math.log) so every party computes the same B. */
export const NOISE_TAIL_T = 27.726;

/** Domain label of the sign vector drawn from the sign coin. */
export const SIGN_LABEL = "dp/noise-signs";

/**
 * Checks that `noise` is well formed for an opened vector of `length` entries: segments are
 * contiguous, in order, cover [0, length) exactly, and each σ² is a positive rational.
 * Throws TypeError / RangeError naming the segment.
 */
export function checkNoiseConfig(noise: NoiseConfig, length: number): void {
  if (!noise || typeof noise !== "object" || !Array.isArray(noise.segments)) throw new TypeError("noise: must be { segments: NoiseSegment[] }");
  let at = 0;
  noise.segments.forEach((s, i) => {
    if (!Number.isInteger(s.start) || !Number.isInteger(s.end) || s.start !== at || s.end <= s.start) {
      throw new RangeError(`noise.segments[${i}]: expected [${at}, end) with end > ${at}, got [${s.start}, ${s.end})`);
    }
    if (typeof s.sigma2?.num !== "bigint" || typeof s.sigma2?.den !== "bigint" || s.sigma2.num <= 0n || s.sigma2.den <= 0n) {
      throw new RangeError(`noise.segments[${i}]: sigma2 must be a positive rational { num, den } of bigints`);
    }
    at = s.end;
  });
  if (at !== length) throw new RangeError(`noise: segments cover [0, ${at}) but the opened vector has ${length} entries (every opened entry must be noised)`);
}

/**
 * B with P[‖z‖₂² > B] ≤ 2^-40 for honest z_k ~ N_Z(0, σ_k²) (module comment): ⌈Σσ² +
 * 2√(t·Σσ⁴) + 2t·max σ²⌉, computed in IEEE double (deterministic: fixed order, +, ·, /, √
 * only) with a 2^-30 relative margin upwards, so every party gets the same bigint.
 * Throws like {@link checkNoiseConfig} (length = the segments' end).
 */
export function noiseNormBound(noise: NoiseConfig): bigint {
  const end = noise.segments.at(-1)?.end ?? 0;
  checkNoiseConfig(noise, end);
  let sum = 0, sumSq = 0, max = 0;
  for (const s of noise.segments) {
    const v = Number(s.sigma2.num) / Number(s.sigma2.den), n = s.end - s.start;
    sum += n * v; sumSq += n * v * v; if (v > max) max = v;
  }
  const t = NOISE_TAIL_T;
  const b = (sum + 2 * Math.sqrt(t * sumSq) + 2 * t * max) * (1 + 2 ** -30);
  if (!Number.isFinite(b) || b >= 2 ** 120) throw new RangeError("noise: σ² too large (norm bound ≥ 2^120)");
  return BigInt(Math.ceil(b)) + 1n;
}

/** The norm predicate on the noise (a MASCOT `Predicate`, party.ts). */
export interface NoisePredicate { kind: "l2-norm"; bound: bigint; indices: [number, number]; method: "pine" }

/**
 * The predicate that bounds the noise of an input laid out as [x (d) | z (d)]: PINE l2-norm
 * ‖z‖² ≤ {@link noiseNormBound} on [d, 2d) (sound over the integers on its own). Throws
 * RangeError if the config is malformed or B ≥ p/4; ValidationPlan throws RangeError when the
 * PINE check does not fit the field (d·D² + 2^L ≥ p: use p128 or less noise).
 */
export function noisePredicate(field: Field, noise: NoiseConfig, d: number): NoisePredicate {
  checkNoiseConfig(noise, d);
  const bound = noiseNormBound(noise);
  if (bound >= field.p / 4n) throw new RangeError(`noise: norm bound ${bound} does not fit field ${field.name} (needs < p/4); use p128 or less noise`);
  return { kind: "l2-norm", bound, indices: [d, 2 * d], method: "pine" };
}

/**
 * Samples a party's noise: entry k ~ N_Z(0, σ_k²) exactly (CKS20), as field elements
 * (negative values as p − |z|). Privacy needs a cryptographic `rng` (cryptoRng); seeded
 * streams are for tests. Throws like {@link checkNoiseConfig}.
 */
export function sampleNoise(field: Field, rng: Rng, noise: NoiseConfig): FieldVec {
  const end = noise.segments.at(-1)?.end ?? 0;
  checkNoiseConfig(noise, end);
  const r = bufferedRng(rng);
  const out: bigint[] = [];
  for (const s of noise.segments) for (let k = s.start; k < s.end; k++) out.push(sampleDiscreteGaussian(r, s.sigma2));
  return field.fromBigInts(out.map((z) => ((z % field.p) + field.p) % field.p));
}

/** Public signs r ∈ {±1}^d from the sign coin's seed (bit set → +1), as field elements. */
export function signVector(field: Field, seed: Uint8Array, d: number): FieldVec {
  const bits = expandBytes(seed, SIGN_LABEL, Math.ceil(d / 8));
  return field.fromInts(Array.from({ length: d }, (_, k) => ((bits[k >>> 3]! >> (k & 7)) & 1 ? 1 : -1)));
}
