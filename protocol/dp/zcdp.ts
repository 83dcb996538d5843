/**
 * Zero-concentrated differential privacy (Bun–Steinke, TCC 2016) accounting for 2PM's noise:
 *  - the discrete Gaussian N_Z(0, σ²) added to an integer-valued query with L2 sensitivity Δ
 *    is (Δ²/(2σ²))-zCDP (Canonne–Kamath–Steinke 2020, Thm 4 and its multivariate form);
 *  - zCDP composes additively: k releases of ρ_i are (Σρ_i)-zCDP;
 *  - ρ-zCDP implies (ε, δ)-DP for every δ > 0 with ε = ρ + 2·√(ρ·ln(1/δ)) (Bun–Steinke
 *    Prop. 1.3), and (ε, δ) targets are converted with its exact inverse.
 * Pure functions; every one throws RangeError for parameters outside its domain.
 */
import type { Rational } from "./discrete-gaussian.ts";

function positive(x: number, what: string): void {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`${what} must be a positive finite number, got ${x}`);
}

/** ε of (ε, δ)-DP implied by ρ-zCDP. */
export function epsilonOf(rho: number, delta: number): number {
  if (!(rho >= 0) || !Number.isFinite(rho)) throw new RangeError(`ρ must be a non-negative number, got ${rho}`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`δ must be in (0, 1), got ${delta}`);
  return rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
}

/** The largest ρ whose zCDP guarantee implies (ε, δ)-DP: ρ = (√(ln(1/δ) + ε) − √ln(1/δ))². */
export function rhoFor(epsilon: number, delta: number): number {
  positive(epsilon, "ε");
  if (!(delta > 0 && delta < 1)) throw new RangeError(`δ must be in (0, 1), got ${delta}`);
  const l = Math.log(1 / delta);
  return (Math.sqrt(l + epsilon) - Math.sqrt(l)) ** 2;
}

/** Total ρ of a sequence of releases (additive composition). */
export function compose(rhos: readonly number[]): number {
  let s = 0;
  for (const r of rhos) {
    if (!(r >= 0) || !Number.isFinite(r)) throw new RangeError(`ρ must be a non-negative number, got ${r}`);
    s += r;
  }
  return s;
}

/** Granularity of σ² (2^-20): σ² is rounded up to a multiple, so the guarantee only gets stronger. */
const SIGMA2_DEN = 1n << 20n;

/**
 * The noise variance σ² (a rational, rounded up) for a discrete Gaussian that makes a query
 * with L2 sensitivity `sensitivity` (in the query's integer units) ρ-zCDP, with the ρ it
 * actually achieves (≤ the target).
 */
export function gaussianFor(sensitivity: number, rho: number): { sigma2: Rational; rho: number; sigma: number } {
  positive(sensitivity, "sensitivity");
  positive(rho, "ρ");
  const target = (sensitivity * sensitivity) / (2 * rho);
  const num = BigInt(Math.ceil(target * Number(SIGMA2_DEN)));
  const s2 = Number(num) / Number(SIGMA2_DEN);
  return { sigma2: { num, den: SIGMA2_DEN }, rho: (sensitivity * sensitivity) / (2 * s2), sigma: Math.sqrt(s2) };
}

/** ρ of the discrete Gaussian with variance σ² on a query with L2 sensitivity Δ: Δ²/(2σ²). */
export function rhoOfGaussian(sensitivity: number, sigma2: Rational): number {
  positive(sensitivity, "sensitivity");
  if (sigma2.num <= 0n || sigma2.den <= 0n) throw new RangeError("σ² must be a positive rational");
  return (sensitivity * sensitivity) / (2 * (Number(sigma2.num) / Number(sigma2.den)));
}
