/**
 * Plain-text rendering of a {@link StatsResult} for terminals (`2pm job result`, the demo).
 * One block per measure; histograms one line per cell; suppressed values say so. Pure.
 */
import type { GroupResult, StatsResult } from "./engine.ts";

/** Integers as they are, other numbers with `digits` decimals; null/undefined as "—". Pure (the CLI and the dashboard print numbers so). */
export function num(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return "—";
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

function groupLines(g: GroupResult, minCount: number): string[] {
  const key = g.key === null ? "" : `${g.key}: `;
  if (g.suppressed) return [`  ${key}suppressed (< ${minCount} rows)`];
  const out: string[] = [];
  if (g.histogram) {
    out.push(`  ${key}total ${g.count === null ? "withheld (it would reveal the suppressed cells)" : num(g.count)}`);
    for (const c of g.histogram) out.push(`    ${c.label.padEnd(24)} ${c.suppressed ? "suppressed" : num(c.count)}`);
  } else if (g.quantiles) {
    out.push(`  ${key}${g.quantiles.map((q) => `p${+(q.p * 100).toFixed(2)} ≈ ${num(q.value, 2)}${q.bin ? ` in [${q.bin[0]}, ${q.bin[1]})` : ""}`).join("  ")}`);
  } else {
    const parts = [`count ${num(g.count)}`];
    if (g.sum !== undefined) parts.push(`sum ${num(g.sum)}`);
    if (g.mean !== undefined) parts.push(`mean ${num(g.mean)}`);
    if (g.variancePopulation !== undefined) parts.push(`variance ${num(g.variancePopulation)} (sample ${num(g.varianceSample)})`);
    if (g.stddevPopulation !== undefined) parts.push(`stddev ${num(g.stddevPopulation)} (sample ${num(g.stddevSample)})`);
    out.push(`  ${key}${parts.join(", ")}`);
  }
  return out;
}

/**
 * Renders every measure as `name — kind(column) [by group]` followed by its groups. Quantiles
 * show the bin they fall in (the interpolated value is approximate: docs/stats.md). Never
 * throws for a well-formed result.
 */
export function formatStatsResult(r: StatsResult): string {
  const out: string[] = [`parties: ${r.parties ?? "plaintext"}, min count: ${r.minCount}`];
  if (r.privacy) {
    const pv = r.privacy;
    out.push(`privacy: ρ = ${pv.rho.toPrecision(4)} zCDP, (ε, δ) = (${pv.epsilon.toPrecision(4)}, ${pv.delta}); every value carries discrete Gaussian noise from each of ${pv.noisyParties} nodes`);
  }
  for (const m of r.measures) {
    out.push("", `${m.name} — ${m.kind}${m.column ? `(${m.column})` : ""}${m.groupBy ? ` by ${m.groupBy}` : ""}`);
    if (m.privacy) {
      const s = m.privacy.sigma;
      out.push(`  (ρ ${m.privacy.rho.toPrecision(3)}; noise σ per node: count ${num(s.count, 3)}${s.sum !== undefined ? `, sum ${num(s.sum, 3)}` : ""}${s.sumsq !== undefined ? `, Σ(x − lo)² ${num(s.sumsq, 3)}` : ""})`);
    }
    for (const g of m.groups) out.push(...groupLines(g, r.minCount));
  }
  if (r.anomalies.length) out.push("", `anomalies: ${r.anomalies.join("; ")}`);
  return out.join("\n");
}
