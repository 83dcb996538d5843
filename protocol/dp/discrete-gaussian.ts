/**
 * Exact sampling of the discrete Gaussian N_Z(0, σ²) — P[X = x] ∝ exp(−x²/(2σ²)) on the
 * integers — following Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential
 * Privacy" (NeurIPS 2020), Algorithms 1–3. Only integer and rational arithmetic (BigInt) and
 * uniform integers from the caller's Rng are used, so the output distribution is exact (no
 * floating-point sampling bias that would void the privacy analysis).
 *
 * σ² is a rational `num/den`. For privacy, noise must come from a cryptographic Rng
 * (protocol/rng.ts cryptoRng); seeded streams are for tests only.
 */
import { randomBelow, type Rng } from "../rng.ts";

/** A non-negative rational n/d with d > 0. */
export interface Rational { num: bigint; den: bigint }

/** Uniform integer in [0, n) for n ≥ 1, by rejection on whole bytes. Throws RangeError for n < 1. */
export function uniformBelow(rng: Rng, n: bigint): bigint {
  if (n < 1n) throw new RangeError(`uniformBelow: bound must be ≥ 1, got ${n}`);
  if (n === 1n) return 0n;
  if (n <= 0x100000000n) return BigInt(randomBelow(rng, Number(n))); // fast path on Numbers
  const bits = (n - 1n).toString(2).length;
  const bytes = Math.ceil(bits / 8), excess = BigInt(bytes * 8 - bits);
  for (;;) {
    const b = rng.bytes(bytes);
    let x = 0n;
    for (const v of b) x = (x << 8n) | BigInt(v);
    x >>= excess;
    if (x < n) return x;
  }
}

/** Bernoulli(num/den) for 0 ≤ num/den ≤ 1. */
function bernoulli(rng: Rng, num: bigint, den: bigint): boolean {
  return uniformBelow(rng, den) < num;
}

/**
 * Bernoulli(exp(−γ)) for a rational γ = num/den ≥ 0 (CKS20 Algorithm 1, with the
 * decomposition exp(−γ) = exp(−1)^⌊γ⌋ · exp(−(γ − ⌊γ⌋))). Throws RangeError for γ < 0.
 */
export function bernoulliExp(rng: Rng, num: bigint, den: bigint): boolean {
  if (num < 0n || den <= 0n) throw new RangeError("bernoulliExp: γ must be a non-negative rational");
  for (let i = 0n; i < num / den; i++) if (!bernoulliExpUnit(rng, 1n, 1n)) return false;
  return bernoulliExpUnit(rng, num % den, den);
}

/** Bernoulli(exp(−γ)) for γ = num/den ∈ [0, 1]: K ← 1; while Bernoulli(γ/K): K++; return K odd. */
function bernoulliExpUnit(rng: Rng, num: bigint, den: bigint): boolean {
  let k = 1n;
  while (bernoulli(rng, num, den * k)) k++;
  return (k & 1n) === 1n;
}

/**
 * Discrete Laplace with scale t (P[X = x] ∝ exp(−|x|/t)), t a positive integer
 * (CKS20 Algorithm 2). Throws RangeError for t < 1.
 */
export function sampleDiscreteLaplace(rng: Rng, t: bigint): bigint {
  if (t < 1n) throw new RangeError("sampleDiscreteLaplace: t must be ≥ 1");
  for (;;) {
    const u = uniformBelow(rng, t);
    if (!bernoulliExp(rng, u, t)) continue;
    let v = 0n;
    while (bernoulliExp(rng, 1n, 1n)) v++;
    const negative = bernoulli(rng, 1n, 2n);
    if (negative && u === 0n && v === 0n) continue;
    const mag = u + t * v;
    return negative ? -mag : mag;
  }
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/**
 * One sample of N_Z(0, σ²), σ² = num/den > 0 (CKS20 Algorithm 3: discrete Laplace proposals
 * with t = ⌊σ⌋ + 1, accepted with probability exp(−(|Y| − σ²/t)²/(2σ²))). Expected O(1)
 * proposals. Throws RangeError for σ² ≤ 0.
 */
export function sampleDiscreteGaussian(rng: Rng, sigma2: Rational): bigint {
  const { num: a, den: b } = sigma2;
  if (a <= 0n || b <= 0n) throw new RangeError("sampleDiscreteGaussian: σ² must be a positive rational");
  const t = isqrt(a / b) + 1n;
  for (;;) {
    const y = sampleDiscreteLaplace(rng, t);
    const abs = y < 0n ? -y : y;
    // (|y| − a/(b t))² / (2a/b) = (|y|·b·t − a)² / (2·a·b·t²)
    const diff = abs * b * t - a;
    if (bernoulliExp(rng, diff * diff, 2n * a * b * t * t)) return y;
  }
}

/**
 * Exact probability mass of N_Z(0, σ²) at x, normalised over |k| ≤ `range` (the mass beyond
 * is below float precision for range ≥ 40σ). For tests and documentation.
 */
export function discreteGaussianPmf(sigma2: number, x: number, range: number): number {
  let z = 0;
  for (let k = -range; k <= range; k++) z += Math.exp((-k * k) / (2 * sigma2));
  return Math.exp((-x * x) / (2 * sigma2)) / z;
}
