/**
 * Differentially private statistics (docs/dp.md "Statistics"): the noise a private query adds
 * to each entry of the contribution vector, derived by every party from the query and its
 * layout alone. Pure and deterministic.
 *
 * Segments. The layout (layout.ts) puts each measure's entries in up to three contiguous runs,
 * each of which gets one σ²:
 *  - "count": its count or histogram cells and its row slack. One row changes one cell by 1
 *    and the row slack by −1 (a row outside the selected levels changes nothing): Δ = √2;
 *  - "sum": its Σ(x − lo)·2^f entries and their slacks c·U − Σ. One row of group g changes
 *    Σ_g by a ∈ [0, U] and the slack by U − a: Δ² ≤ a² + (U − a)² ≤ U², U = round((hi − lo)·2^f);
 *  - "sumsq": Σ(x − lo)²·2^f and its slacks likewise: Δ = V = round((hi − lo)²·2^f).
 * Every opened entry is in exactly one segment, so every opened entry is noised.
 *
 * Budget. ρ = resolveRho(query.privacy) is split over the measures in proportion to their
 * `weight` (default 1), and a measure's share equally over its segments; each segment gets
 * σ² = gaussianFor(Δ, ρ_segment) (rounded up). A row's change to the whole vector is the
 * concatenation of its per-segment changes and the noise is independent per entry, so the
 * release is Σ_s Δ_s²/(2σ_s²) ≤ ρ zCDP for each honest node (its own noise alone; the other
 * parties' noise only adds), whatever the other parties do (docs/dp.md).
 */
import { gaussianFor, epsilonOf } from "../dp/zcdp.ts";
import { describePrivacy, resolveRho } from "../dp/privacy.ts";
import type { Rational } from "../dp/discrete-gaussian.ts";
import { noiseNormBound, type NoiseConfig } from "../mascot/noise.ts";
import { pineShape } from "../mascot/validation.ts";
import type { StatsLayout } from "./layout.ts";
import { StatsQueryError, type StatsQuery } from "./query.ts";

/** One noised run of the contribution vector. */
export interface SegmentPrivacy {
  role: "count" | "sum" | "sumsq";
  start: number;
  end: number;
  /** L2 sensitivity to one row, in encoded units. */
  sensitivity: number;
  /** Per-node noise variance in encoded units (a rational, rounded up). */
  sigma2: Rational;
  /** Per-node noise standard deviation in the measure's own units (rows; value; value²). */
  sigma: number;
  /** ρ this segment spends (Δ²/(2σ²)). */
  rho: number;
}

/** Privacy of one measure. */
export interface MeasurePrivacy { name: string; weight: number; rho: number; segments: SegmentPrivacy[] }

/** What a private query adds and guarantees, for every honest node, per release. */
export interface StatsPrivacyPlan {
  /** ρ asked for (resolveRho(query.privacy)). */
  rhoRequested: number;
  /** ρ achieved (Σ over segments; ≤ requested because σ² is rounded up). */
  rho: number;
  /** ε at δ implied by the achieved ρ (δ as asked, or 1e-6 for a ρ-only spec). */
  epsilon: number;
  delta: number;
  /** The MASCOT noise config (noise.ts): segments covering the whole layout. */
  noise: NoiseConfig;
  /** The per-node noise norm bound B the protocol checks (‖z‖² ≤ B). */
  normBound: bigint;
  measures: MeasurePrivacy[];
}

/**
 * The noise plan of a private query, or undefined for a query without `privacy`. Checks that
 * the noise fits the layout's field: B < p/4, the PINE norm check fits (d·D² + 2^L < p), and
 * parties · (2^bits + √B) < p/2 for every entry (a noisy sum never wraps). Throws
 * StatsQueryError naming the problem (e.g. "lower fracBits or use p128").
 */
export function statsPrivacyPlan(query: StatsQuery, layout: StatsLayout): StatsPrivacyPlan | undefined {
  if (!query.privacy) return undefined;
  const asked = describePrivacy(query.privacy);
  const rhoRequested = resolveRho(query.privacy);
  const weights = query.measures.map((m) => m.weight ?? 1);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const scale = 2 ** layout.fracBits;
  const segments: NoiseConfig["segments"] = [];
  const measures: MeasurePrivacy[] = layout.measures.map((m, mi) => {
    const runs: Array<Omit<SegmentPrivacy, "sigma2" | "sigma" | "rho">> = [];
    // count segment: first count/cell index .. row slack (inclusive)
    const firstCount = m.cellCount > 0 ? m.groups[0]!.cells! : m.groups[0]!.count!;
    runs.push({ role: "count", start: firstCount, end: m.rowSlack! + 1, sensitivity: Math.SQRT2 });
    if (m.unitMax !== undefined) {
      runs.push({ role: "sum", start: m.groups[0]!.sum!, end: m.groups.at(-1)!.sumSlack! + 1, sensitivity: Number(m.unitMax) });
    }
    if (m.sqUnitMax !== undefined && m.groups[0]!.sumsq !== undefined) {
      runs.push({ role: "sumsq", start: m.groups[0]!.sumsq!, end: m.groups.at(-1)!.sumsqSlack! + 1, sensitivity: Number(m.sqUnitMax) });
    }
    const rhoMeasure = (rhoRequested * weights[mi]!) / totalWeight;
    const segs = runs.map((r): SegmentPrivacy => {
      // A zero-width value range (U = 0) cannot happen: bounds need lo < hi and U = round(w·2^f) ≥ 1 unless w·2^f < 0.5.
      const sens = Math.max(r.sensitivity, 1);
      const g = gaussianFor(sens, rhoMeasure / runs.length);
      const unit = r.role === "count" ? 1 : scale;
      return { ...r, sensitivity: sens, sigma2: g.sigma2, sigma: g.sigma / unit, rho: g.rho };
    });
    for (const s of segs) segments.push({ start: s.start, end: s.end, sigma2: s.sigma2 });
    return { name: m.name, weight: weights[mi]!, rho: segs.reduce((a, s) => a + s.rho, 0), segments: segs };
  });
  segments.sort((a, b) => a.start - b.start);
  let at = 0;
  for (const s of segments) {
    if (s.start !== at) throw new Error(`statsPrivacyPlan: internal error, segments do not tile the layout at ${at}`); // our bug
    at = s.end;
  }
  if (at !== layout.length) throw new Error("statsPrivacyPlan: internal error, segments do not cover the layout"); // our bug
  const noise: NoiseConfig = { segments };
  const normBound = noiseNormBound(noise);
  const p = layout.modulus;
  const issues: string[] = [];
  const fix = "lower fracBits (under DP the noise dominates fixed-point rounding), lower limits.maxParties, or use field p128";
  if (normBound >= p / 4n) issues.push(`privacy: the noise norm bound ${normBound} does not fit the field (needs < p/4): ${fix}`);
  else if (!pineShape(p, layout.length, normBound).fits) issues.push(`privacy: the PINE noise-norm check on ${layout.length} entries with bound ${normBound} does not fit the field: ${fix}`);
  const root = sqrtCeil(normBound);
  const worst = layout.bits.reduce((a, b) => Math.max(a, b), 0);
  if (BigInt(layout.maxParties) * ((1n << BigInt(worst)) + root) >= p / 2n) issues.push(`privacy: maxParties · (2^${worst} + √B) ≥ p/2, a noisy sum could wrap: ${fix}`);
  if (issues.length) throw new StatsQueryError(issues);
  const rho = measures.reduce((a, m) => a + m.rho, 0);
  return { rhoRequested, rho, epsilon: epsilonOf(rho, asked.delta), delta: asked.delta, noise, normBound, measures };
}

/** ⌈√x⌉ for x ≥ 0. */
export function sqrtCeil(x: bigint): bigint {
  if (x <= 0n) return 0n;
  let r = BigInt(Math.floor(Math.sqrt(Number(x))));
  while (r * r > x) r--;
  while (r * r < x) r++;
  return r;
}
