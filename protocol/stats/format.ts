/**
 * Plain-text rendering of a {@link StatsResult} for terminals (`2pm job result`). Pure.
 */
import type { GroupResult, StatsResult } from "./engine.ts";

/** Formats a number with up to `digits` significant decimals; null → "suppressed" marker. */
function num(x: number | null | undefined, digits = 6): string {
  if (x === null || x === undefined) return "—";
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(digits)));
}

function groupLine(g: GroupResult): string {
  if (g.suppressed) return "suppressed (fewer than minCount rows)";
  const parts: string[] = [];
  if (g.count !== undefined && g.histogram === undefined) parts.push(`n=${num(g.count)}`);
  if (g.sum !== undefined) parts.push(`sum=${num(g.sum)}`);
  if (g.mean !== undefined) parts.push(`mean=${num(g.mean)}`);
  if (g.variancePopulation !== undefined) parts.push(`var=${num(g.variancePopulation)}`, `var(sample)=${num(g.varianceSample)}`);
  if (g.stddevPopulation !== undefined) parts.push(`sd=${num(g.stddevPopulation)}`, `sd(sample)=${num(g.stddevSample)}`);
  if (g.quantiles) parts.push(...g.quantiles.map((q) => `q${q.p}≈${num(q.value)}${q.bin ? ` in [${num(q.bin[0])}, ${num(q.bin[1])})` : ""}`));
  if (g.histogram) {
    parts.push(`total=${num(g.count)}`);
    parts.push(...g.histogram.map((c) => `${c.label}: ${c.suppressed ? "<min" : num(c.count)}`));
  }
  return parts.join("  ");
}

/**
 * Renders every measure, one line per group (`name [group=key]  n=…  mean=…`). Suppressed
 * values print as "—" or "<min". Never throws for a well-formed result.
 */
export function formatStatsResult(r: StatsResult): string {
  const lines: string[] = [];
  lines.push(`parties: ${r.parties ?? "plaintext"}  minCount: ${r.minCount}  fracBits: ${r.fracBits}`);
  for (const m of r.measures) {
    const head = `${m.name} (${m.kind}${m.column ? ` of ${m.column}` : ""})`;
    if (m.groupBy === null) {
      lines.push(`${head}: ${groupLine(m.groups[0]!)}`);
    } else {
      lines.push(`${head} by ${m.groupBy}:`);
      for (const g of m.groups) lines.push(`  ${m.groupBy}=${g.key}: ${groupLine(g)}`);
    }
  }
  return lines.join("\n");
}
