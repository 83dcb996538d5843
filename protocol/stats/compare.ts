/**
 * Comparison of a secure result with the plaintext reference within the stated fixed-point
 * tolerance (docs/stats.md §5). For tests, the end-to-end comparison and benchmarks. Pure.
 */
import type { GroupResult, StatsResult } from "./engine.ts";
import type { MeasureLayout, StatsLayout } from "./layout.ts";

/** Tolerances for one numeric measure at `count` values (δ = 2^−(f+1), W = hi − lo). */
export function fixedPointTolerance(fracBits: number, bounds: readonly [number, number], count: number): {
  sum: number; mean: number; variancePopulation: number; varianceSample: number; stddev: number;
} {
  const d = 2 ** -(fracBits + 1);
  const w = bounds[1] - bounds[0];
  // double-precision slack: a few ulps of the magnitudes involved
  const mag = Math.max(1, Math.abs(bounds[0]), Math.abs(bounds[1]));
  const eps = 1e-12 * mag * mag;
  const v = (1 + 2 * w) * d + d * d + eps;
  const vs = count > 1 ? (v * count) / (count - 1) : v;
  return { sum: count * (d + 1e-12 * mag), mean: d + 1e-12 * mag, variancePopulation: v, varianceSample: vs, stddev: Math.sqrt(vs) };
}

function cmpGroup(m: MeasureLayout, fracBits: number, a: GroupResult, b: GroupResult, where: string, out: string[]): void {
  const same = (k: string, x: unknown, y: unknown): void => {
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${where}: ${k} ${JSON.stringify(x)} ≠ ${JSON.stringify(y)}`);
  };
  same("suppressed", a.suppressed, b.suppressed);
  same("count", a.count, b.count);
  same("histogram", a.histogram, b.histogram);
  same("quantiles", a.quantiles, b.quantiles);
  if (!m.bounds) return;
  const t = fixedPointTolerance(fracBits, m.bounds, b.count ?? 0);
  const near = (k: "sum" | "mean" | "variancePopulation" | "varianceSample" | "stddevPopulation" | "stddevSample", tol: number): void => {
    const x = a[k], y = b[k];
    if (x === undefined && y === undefined) return;
    if (x === null || y === null || x === undefined || y === undefined) { same(k, x, y); return; }
    if (!(Math.abs(x - y) <= tol)) out.push(`${where}: ${k} ${x} vs ${y} differs by ${Math.abs(x - y)} > tolerance ${tol}`);
  };
  near("sum", t.sum);
  near("mean", t.mean);
  near("variancePopulation", t.variancePopulation);
  near("varianceSample", t.varianceSample);
  near("stddevPopulation", t.stddev);
  near("stddevSample", t.stddev);
}

/**
 * Differences between `secure` and `plain` beyond the fixed-point tolerance: counts,
 * suppression, histograms and quantiles must be identical; sums, means, variances and
 * standard deviations within {@link fixedPointTolerance}. Returns [] when they agree.
 */
export function compareStatsResults(layout: StatsLayout, secure: StatsResult, plain: StatsResult): string[] {
  const out: string[] = [];
  if (secure.measures.length !== plain.measures.length) return [`measure count ${secure.measures.length} ≠ ${plain.measures.length}`];
  layout.measures.forEach((m, i) => {
    const a = secure.measures[i]!, b = plain.measures[i]!;
    if (a.name !== m.name || b.name !== m.name) { out.push(`measure ${i}: names ${a.name} / ${b.name} ≠ layout ${m.name}`); return; }
    if (a.groups.length !== b.groups.length) { out.push(`${m.name}: group count ${a.groups.length} ≠ ${b.groups.length}`); return; }
    a.groups.forEach((g, j) => cmpGroup(m, layout.fracBits, g, b.groups[j]!, `${m.name}${g.key === null ? "" : `[${g.key}]`}`, out));
  });
  return out;
}
