/**
 * Local contribution encoding, finalisation of the summed vector, and the plaintext
 * reference. Pure.
 *
 * Encoding (per measure, per group, over the rows that pass every filter and have the
 * measure's column and group column present):
 *  - count / histogram cell: number of rows (exact integer);
 *  - Σ entry: Σ round((clip(x) − lo) · 2^f)   — values shifted by lo, so non-negative;
 *  - Σ² entry: Σ round((clip(x) − lo)² · 2^f).
 * Rounding error per value ≤ 2^−(f+1) in (x − lo) and in (x − lo)²; see docs/stats.md.
 */
import type { DatasetSchema, Row, Value } from "./schema.ts";
import { binLabel, compileQuery, M61, type CompileOptions, type FilterLayout, type MeasureLayout, type StatsLayout } from "./layout.ts";
import type { MeasureKind, StatsQuery } from "./query.ts";
import { sqrtCeil, statsPrivacyPlan, type StatsPrivacyPlan } from "./dp.ts";

// ---------------------------------------------------------------- result types

/** One histogram cell; `count` is null when suppressed. */
export interface HistogramCell {
  label: string;
  /** Numeric bins: [lo, hi) (the last bin is closed). */
  lo?: number;
  hi?: number;
  count: number | null;
  suppressed: boolean;
}

/**
 * One group of one measure. Fields present depend on the measure's kind; when `suppressed`,
 * every derived value is null.
 */
export interface GroupResult {
  /** The group-by level, or null for an ungrouped measure. */
  key: string | null;
  /** True when fewer than minCount rows fed this cell (histograms: the group's total). */
  suppressed: boolean;
  /** Rows counted (for histograms: total over cells, withheld if any cell is suppressed). */
  count: number | null;
  sum?: number | null;
  mean?: number | null;
  variancePopulation?: number | null;
  /** Bessel-corrected; null when count < 2. */
  varianceSample?: number | null;
  stddevPopulation?: number | null;
  stddevSample?: number | null;
  histogram?: HistogramCell[];
  quantiles?: QuantileValue[];
}

/**
 * One quantile. `value` is linearly interpolated inside the histogram bin `[lo, hi)` the
 * p-quantile falls in (`method: "histogram-interpolation"`): exact bin, approximate position.
 * On heaped data (values on a few integers) read the bin, not the interpolated value.
 */
export interface QuantileValue {
  p: number;
  value: number | null;
  /** The bin containing the p-quantile; null when suppressed or empty. */
  bin: [number, number] | null;
  method: "histogram-interpolation";
}

export interface MeasureResult {
  name: string;
  kind: MeasureKind;
  column: string | null;
  groupBy: string | null;
  groups: GroupResult[];
  /**
   * Private queries: the ρ this measure spent and the per-node noise standard deviation of
   * each of its parts, in the measure's units (count: rows; sum: value; sumsq: value²).
   * Every node adds its own noise, so the released noise has variance parties · σ².
   */
  privacy?: { rho: number; sigma: { count: number; sum?: number; sumsq?: number } };
}

/** What a private release guarantees to every honest node (docs/dp.md). */
export interface ReleasePrivacy {
  mechanism: "discrete-gaussian, per node, sign-randomised";
  /** zCDP ρ achieved for this release (≤ the ρ asked for). */
  rho: number;
  rhoRequested: number;
  /** (ε, δ)-DP implied by ρ. */
  epsilon: number;
  delta: number;
  /** Parties that added noise (= parties summed). */
  noisyParties: number;
  /** The per-node noise norm bound the protocol checked, as a decimal string. */
  normBound: string;
}

export interface StatsResult {
  version: 1;
  /** Parties whose contributions were summed (null for the plaintext reference). */
  parties: number | null;
  minCount: number;
  fracBits: number;
  measures: MeasureResult[];
  /** Present for private queries: the guarantee applied (the noise is in every value). */
  privacy?: ReleasePrivacy;
  /**
   * Consistency problems found in the aggregate that range validation cannot rule out
   * (e.g. Σ(x − lo) > count · (hi − lo)): some party submitted in-range but inconsistent
   * entries. Empty for honest committees and for the plaintext reference.
   */
  anomalies: string[];
}

/** Encoded local contribution: non-negative integers, ready for `field.fromBigInts`. */
export interface Contribution {
  values: bigint[];
  layout: StatsLayout;
  /** Rows that passed the filters (local, not revealed by the protocol). */
  rowsUsed: number;
}

// ---------------------------------------------------------------- row evaluation

function passes(row: Row, filters: readonly FilterLayout[]): boolean {
  for (const f of filters) {
    const v = row[f.columnIndex];
    if (v === null || v === undefined) return false;
    const w = f.values[0]!;
    switch (f.op) {
      case "eq": if (v !== w) return false; break;
      case "ne": if (v === w) return false; break;
      case "lt": if (!(v < w)) return false; break;
      case "le": if (!(v <= w)) return false; break;
      case "gt": if (!(v > w)) return false; break;
      case "ge": if (!(v >= w)) return false; break;
      case "in": if (!f.values.includes(v)) return false; break;
    }
  }
  return true;
}

/** Group index of a row for a measure, or -1 if the group column is missing. Throws TypeError for a value that is not a level. */
function groupOf(m: MeasureLayout, row: Row, schema: DatasetSchema, r: number): number {
  if (m.groupIndex < 0) return 0;
  const v = row[m.groupIndex];
  if (v === null || v === undefined) return -1;
  const spec = schema.columns[m.groupIndex]!;
  const g = spec.type === "numeric" || typeof v !== "string" ? -1 : spec.levels.indexOf(v);
  if (g < 0) throw new TypeError(`rows[${r}]: group column "${m.groupBy}" holds ${JSON.stringify(v)}, which is not one of its levels`);
  return g;
}

/** Histogram cell of a value, or -1 if it is not counted (categorical level not selected). */
function cellOf(m: MeasureLayout, v: number | string): number {
  if (m.levels) return m.levels.indexOf(v as string);
  const e = m.edges!;
  const x = v as number;
  const k = e.length - 1;
  if (x < e[1]!) return 0;
  if (x >= e[k - 1]!) return k - 1;
  let lo = 1, hi = k - 1; // find largest i with e[i] <= x, 1 ≤ i ≤ k−2
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (e[mid]! <= x) lo = mid; else hi = mid - 1;
  }
  return lo;
}

const clip = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);

function checkRow(row: Row, schema: DatasetSchema, r: number): void {
  if (!Array.isArray(row) || row.length !== schema.columns.length) {
    throw new TypeError(`rows[${r}]: expected an array of ${schema.columns.length} values (one per schema column)`);
  }
}

/** Visits every (measure, group, value) a row contributes to. */
function visit(
  layout: StatsLayout, schema: DatasetSchema, rows: readonly Row[],
  fn: (m: MeasureLayout, g: number, v: Value, mi: number) => void,
): number {
  let used = 0;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    checkRow(row, schema, r);
    if (!passes(row, layout.filters)) continue;
    used++;
    layout.measures.forEach((m, mi) => {
      const g = groupOf(m, row, schema, r);
      if (g < 0) return;
      const v = m.columnIndex >= 0 ? row[m.columnIndex]! : null;
      if (m.columnIndex >= 0 && v === null) return;
      if (m.columnIndex >= 0) {
        const spec = schema.columns[m.columnIndex]!;
        if (spec.type === "numeric" ? typeof v !== "number" || !Number.isFinite(v) : typeof v !== "string" || !spec.levels.includes(v)) {
          throw new TypeError(`rows[${r}]: column "${m.column}" must hold ${spec.type === "numeric" ? "finite numbers" : "one of its levels"}, found ${JSON.stringify(v)}`);
        }
      }
      fn(m, g, v, mi);
    });
  }
  return used;
}

// ---------------------------------------------------------------- encode

/**
 * Encodes a node's local contribution for `query` over its `rows` (aligned with `schema`).
 * Guarantees: `values.length === layout.length`, every value is an integer in
 * [0, layout.maxPerParty[i]], so it passes the layout's range predicates.
 * Throws StatsQueryError for a query that does not fit the schema or overflows,
 * RangeError if `rows.length` exceeds `limits.maxRowsPerParty`, TypeError for malformed rows.
 */
export function encodeContribution(query: StatsQuery, schema: DatasetSchema, rows: readonly Row[], opts: CompileOptions = {}): Contribution {
  const layout = compileQuery(query, schema, opts);
  if (rows.length > layout.maxRowsPerParty) {
    throw new RangeError(`rows: ${rows.length} rows exceed the query's limits.maxRowsPerParty = ${layout.maxRowsPerParty}`);
  }
  const values = new Array<bigint>(layout.length).fill(0n);
  // Integer partial sums kept in doubles while exact (≤ 2^53), flushed to BigInt before they could round.
  const counts = new Float64Array(layout.length);
  const add = (i: number, x: number): void => {
    if (counts[i]! + x > Number.MAX_SAFE_INTEGER) { values[i] = values[i]! + BigInt(counts[i]!); counts[i] = 0; }
    counts[i]! += x;
  };
  const scale = 2 ** layout.fracBits;
  const rowsUsed = visit(layout, schema, rows, (m, gi, v) => {
    const g = m.groups[gi]!;
    if (m.cellCount > 0) {
      const c = cellOf(m, v as number | string);
      if (c >= 0) counts[g.cells! + c]! += 1;
      return;
    }
    counts[g.count!]! += 1;
    if (g.sum !== undefined) {
      const [lo, hi] = m.bounds!;
      const u = clip(v as number, lo, hi) - lo;
      add(g.sum, Math.round(u * scale));
      if (g.sumsq !== undefined) add(g.sumsq, Math.round(u * u * scale));
    }
  });
  for (let i = 0; i < layout.length; i++) values[i] = values[i]! + BigInt(counts[i]!);
  // slack entries (every term index is a count, cell, Σ or Σ² entry, already final)
  for (const id of layout.identities) {
    let v = id.constant;
    for (const [i, coef] of id.terms) v += coef * values[i]!;
    if (v < 0n) throw new Error(`encodeContribution: internal error, negative slack at ${id.slack}`); // our bug
    values[id.slack] = v;
  }
  return { values, layout, rowsUsed };
}

// ---------------------------------------------------------------- shared presentation

/** Raw per-group statistics, from the summed vector or from plaintext rows. */
interface RawGroup {
  count: number;
  /** Σ x (clipped). */
  sum?: number;
  mean?: number;
  /** Population variance. */
  varPop?: number;
  cells?: number[];
}

/** Quantile by linear interpolation inside the histogram bin holding rank p·N. Null if N = 0. */
export function histogramQuantile(edges: readonly number[], cells: readonly number[], p: number): number | null {
  return quantileBin(edges, cells, p)?.value ?? null;
}

/**
 * The bin [lo, hi) holding the p-quantile of a histogram and the value interpolated inside it;
 * null for an empty histogram. Pure.
 */
export function quantileBin(edges: readonly number[], cells: readonly number[], p: number): { value: number; bin: [number, number] } | null {
  const total = cells.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const target = p * total;
  let cum = 0, last = -1;
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    if (c > 0) last = i;
    if (c > 0 && cum + c >= target) {
      const frac = Math.min(1, Math.max(0, (target - cum) / c));
      return { value: edges[i]! + frac * (edges[i + 1]! - edges[i]!), bin: [edges[i]!, edges[i + 1]!] };
    }
    cum += c;
  }
  return { value: edges[edges.length - 1]!, bin: [edges[last]!, edges[last + 1]!] };
}

function present(layout: StatsLayout, raws: RawGroup[][], parties: number | null, anomalies: string[] = []): StatsResult {
  const min = layout.minCount;
  const measures = layout.measures.map((m, mi): MeasureResult => ({
    name: m.name,
    kind: m.kind,
    column: m.column,
    groupBy: m.groupBy,
    groups: m.groups.map((g, gi): GroupResult => {
      const raw = raws[mi]![gi]!;
      const suppressed = raw.count < min;
      const out: GroupResult = { key: g.key, suppressed, count: suppressed ? null : raw.count };
      const hide = (x: number): number | null => (suppressed || !Number.isFinite(x) ? null : x);
      switch (m.kind) {
        case "count": break;
        case "sum": out.sum = hide(raw.sum!); break;
        case "mean": out.mean = hide(raw.mean!); break;
        case "variance": case "stddev": {
          const vs = raw.count >= 2 ? (raw.varPop! * raw.count) / (raw.count - 1) : null;
          out.mean = hide(raw.mean!);
          if (m.kind === "variance") {
            out.variancePopulation = hide(raw.varPop!);
            out.varianceSample = suppressed ? null : vs;
          } else {
            out.stddevPopulation = hide(Math.sqrt(raw.varPop!));
            out.stddevSample = suppressed || vs === null ? null : Math.sqrt(vs);
          }
          break;
        }
        case "histogram": {
          const cells = raw.cells!;
          // Small cells (1 ≤ c < minCount) are suppressed; empty ones only with suppressZeros.
          out.histogram = cells.map((c, i): HistogramCell => {
            const s = c < min && (c > 0 || layout.suppressZeros);
            const cell: HistogramCell = { label: m.levels ? m.levels[i]! : binLabel(m.edges!, i), count: s ? null : c, suppressed: s };
            if (m.edges) { cell.lo = m.edges[i]!; cell.hi = m.edges[i + 1]!; }
            return cell;
          });
          // The total reveals the suppressed cells' combined count: withheld unless that is ≥ minCount.
          const hidden = cells.reduce((a, c, i) => a + (out.histogram![i]!.suppressed ? c : 0), 0);
          if (out.histogram.some((c) => c.suppressed) && hidden < min) out.count = null;
          break;
        }
        case "quantiles":
          out.quantiles = m.probs!.map((p): QuantileValue => {
            const q = suppressed ? null : quantileBin(m.edges!, raw.cells!, p);
            return { p, value: q?.value ?? null, bin: q?.bin ?? null, method: "histogram-interpolation" };
          });
          break;
      }
      return out;
    }),
  }));
  return { version: 1, parties, minCount: min, fracBits: layout.fracBits, measures, anomalies };
}

// ---------------------------------------------------------------- finalise

/**
 * Turns the summed contribution vector (the opened MASCOT aggregate, as integers in [0, p))
 * into statistics. Counts and histogram cells are exact; sums, means and variances carry the
 * fixed-point error stated in docs/stats.md. Cells below `minCount` are suppressed.
 * `parties` is the number of contributions in `summed` (after MASCOT's exclusions), needed for
 * the slack identities; broken identities and other inconsistencies are listed in
 * `anomalies`, not thrown.
 * Throws RangeError if `summed` has the wrong length, `parties` is outside
 * [1, limits.maxParties], or an entry exceeds parties · (2^bits − 1) (not a sum of
 * range-validated contributions: validation was skipped or the aggregate is corrupt).
 * Private queries (`query.privacy`): `summed` is the noised release; see {@link finalisePrivate}
 * (tolerances from the noise bound, post-processing only, `privacy` stated in the result).
 */
export function finalise(query: StatsQuery, layout: StatsLayout, summed: readonly bigint[], opts: { parties: number }): StatsResult {
  const { parties } = opts;
  if (summed.length !== layout.length) throw new RangeError(`summed: expected ${layout.length} entries, got ${summed.length}`);
  if (!Number.isInteger(parties) || parties < 1 || parties > layout.maxParties) {
    throw new RangeError(`parties: must be an integer in [1, ${layout.maxParties}], got ${parties}`);
  }
  if (query.fracBits !== layout.fracBits || query.minCount !== layout.minCount) throw new RangeError("layout: does not belong to this query");
  const plan = statsPrivacyPlan(query, layout);
  if (plan) return finalisePrivate(layout, summed, parties, plan);
  const P = BigInt(parties);
  for (let i = 0; i < summed.length; i++) {
    const s = summed[i]!;
    const top = P * ((1n << BigInt(layout.bits[i]!)) - 1n);
    if (typeof s !== "bigint" || s < 0n || s > top) {
      throw new RangeError(`summed[${i}] (${layout.entries[i]!.measure}, ${layout.entries[i]!.role}) = ${s} is outside [0, parties · (2^${layout.bits[i]} − 1)]`);
    }
  }
  const scale = 2n ** BigInt(layout.fracBits);
  const fs = 2 ** layout.fracBits;
  const anomalies: string[] = [];
  for (const id of layout.identities) {
    let expect = P * id.constant;
    for (const [i, coef] of id.terms) expect += coef * summed[i]!;
    if (summed[id.slack] !== expect) anomalies.push(`identity broken at entry ${id.slack}: some party's entries are inconsistent (${id.guarantees})`);
  }
  const raws = layout.measures.map((m) =>
    m.groups.map((g): RawGroup => {
      if (m.cellCount > 0) {
        const cells: number[] = [];
        for (let c = 0; c < m.cellCount; c++) cells.push(Number(summed[g.cells! + c]!));
        return { count: cells.reduce((a, b) => a + b, 0), cells };
      }
      const count = Number(summed[g.count!]!);
      const raw: RawGroup = { count };
      if (g.sum !== undefined) {
        const lo = m.bounds![0];
        const S1 = summed[g.sum]!;
        const cB = BigInt(count);
        // Σx = S1/2^f + c·lo, split into integer and fractional parts of S1/2^f for exactness.
        const ip = S1 / scale, fp = S1 % scale;
        raw.sum = Number(ip) + Number(fp) / fs + count * lo;
        raw.mean = count > 0 ? Number(S1) / fs / count + lo : NaN;
        const where = `measure "${m.name}"${g.key === null ? "" : ` group "${g.key}"`}`;
        if (S1 > cB * m.unitMax!) anomalies.push(`${where}: Σ(x − lo) exceeds count · (hi − lo)`);
        if (g.sumsq !== undefined) {
          const S2 = summed[g.sumsq]!;
          if (S2 > cB * m.sqUnitMax!) anomalies.push(`${where}: Σ(x − lo)² exceeds count · (hi − lo)²`);
          // Cauchy–Schwarz, (Σu)² ≤ c·Σu², with slack for per-value rounding (≤ (W + 1)·2^f per value)
          const W = BigInt(Math.ceil(m.bounds![1] - m.bounds![0]));
          if (S1 * S1 > cB * scale * (S2 + cB * (W + 1n))) anomalies.push(`${where}: (Σ(x − lo))² exceeds count · Σ(x − lo)² (negative variance)`);
          // var = (c·S2·2^f − S1²) / (c²·2^{2f}), numerator computed exactly.
          const num = cB * S2 * scale - S1 * S1;
          const den = cB * cB * scale * scale;
          raw.varPop = count > 0 ? Math.max(0, ratio(num, den)) : NaN;
        }
      }
      return raw;
    }),
  );
  return present(layout, raws, parties, anomalies);
}

/**
 * Private release (docs/dp.md): `summed` = Σ x_j + r ⊙ Σ z_j, each ‖z_j‖² ≤ B. Entries are
 * lifted to (−p/2, p/2); each must lie within P·√B of [0, P·(2^bits − 1)] (else the aggregate
 * is corrupt: RangeError). Identities are checked up to the noise's worst case P·√B·‖c‖₂
 * (never a false alarm, weaker than the exact check). Post-processing only: counts and cells
 * clamped at 0, means to [lo, hi], variances to [0, (hi − lo)²/4]; nothing suppressed.
 */
function finalisePrivate(layout: StatsLayout, summed: readonly bigint[], parties: number, plan: StatsPrivacyPlan): StatsResult {
  const p = layout.modulus, P = BigInt(parties);
  const noiseMax = P * sqrtCeil(plan.normBound);
  const y = summed.map((v, i) => {
    if (typeof v !== "bigint" || v < 0n || v >= p) throw new RangeError(`summed[${i}] must be a field element in [0, p)`);
    const c = v > p / 2n ? v - p : v;
    const top = P * ((1n << BigInt(layout.bits[i]!)) - 1n);
    if (c < -noiseMax || c > top + noiseMax) {
      throw new RangeError(`summed[${i}] (${layout.entries[i]!.measure}, ${layout.entries[i]!.role}) = ${c} is outside [−P·√B, P·(2^${layout.bits[i]} − 1) + P·√B]: not a noised sum of validated contributions`);
    }
    return c;
  });
  const anomalies: string[] = [];
  for (const id of layout.identities) {
    let expect = P * id.constant, norm2 = 1n;
    for (const [i, coef] of id.terms) { expect += coef * y[i]!; norm2 += coef * coef; }
    const diff = y[id.slack]! - expect;
    if ((diff < 0n ? -diff : diff) > noiseMax * sqrtCeil(norm2)) anomalies.push(`identity broken beyond the noise at entry ${id.slack}: some party's entries are inconsistent (${id.guarantees})`);
  }
  const fs = 2 ** layout.fracBits;
  const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
  const raws = layout.measures.map((m) =>
    m.groups.map((g): RawGroup => {
      if (m.cellCount > 0) {
        const cells: number[] = [];
        for (let c = 0; c < m.cellCount; c++) cells.push(Math.max(0, Number(y[g.cells! + c]!)));
        return { count: cells.reduce((a, b) => a + b, 0), cells };
      }
      const count = Math.max(0, Number(y[g.count!]!));
      const raw: RawGroup = { count };
      if (g.sum !== undefined) {
        const [lo, hi] = m.bounds!;
        const u1 = Number(y[g.sum]!) / fs; // noisy Σ(x − lo)
        raw.sum = u1 + count * lo;
        const mu = count > 0 ? clamp(u1 / count, 0, hi - lo) : NaN;
        raw.mean = count > 0 ? mu + lo : NaN;
        if (g.sumsq !== undefined) {
          const u2 = Number(y[g.sumsq]!) / fs; // noisy Σ(x − lo)²
          raw.varPop = count > 0 ? clamp(u2 / count - mu * mu, 0, ((hi - lo) * (hi - lo)) / 4) : NaN;
        }
      }
      return raw;
    }),
  );
  const result = present(layout, raws, parties, anomalies);
  result.measures.forEach((mr, mi) => {
    const mp = plan.measures[mi]!;
    const sigma: { count: number; sum?: number; sumsq?: number } = { count: 0 };
    for (const sg of mp.segments) sigma[sg.role] = sg.sigma;
    mr.privacy = { rho: mp.rho, sigma };
  });
  result.privacy = {
    mechanism: "discrete-gaussian, per node, sign-randomised", rho: plan.rho, rhoRequested: plan.rhoRequested,
    epsilon: plan.epsilon, delta: plan.delta, noisyParties: parties, normBound: plan.normBound.toString(),
  };
  return result;
}

/** num/den as a double, accurate even when both exceed 2^53. */
function ratio(num: bigint, den: bigint): number {
  if (den === 0n) return NaN;
  const q = num / den, r = num % den;
  return Number(q) + Number(r) / Number(den);
}

// ---------------------------------------------------------------- plaintext reference

/**
 * The same statistics computed directly in floating point over `rows` (same filters,
 * clipping, grouping, suppression and histogram-based quantiles), with the same result
 * shape and `parties: null`. Used by tests and the end-to-end comparison.
 * Throws like {@link encodeContribution} (except that there is no row limit).
 */
export function computePlaintext(query: StatsQuery, schema: DatasetSchema, rows: readonly Row[], opts: CompileOptions = {}): StatsResult {
  const layout = compileQuery(query, schema, opts);
  // Welford accumulators per measure and group.
  const acc = layout.measures.map((m) => m.groups.map(() => ({ n: 0, sum: 0, mean: 0, m2: 0, cells: new Array<number>(m.cellCount).fill(0) })));
  visit(layout, schema, rows, (m, gi, v, mi) => {
    const a = acc[mi]![gi]!;
    if (m.cellCount > 0) {
      const c = cellOf(m, v as number | string);
      if (c >= 0) a.cells[c]! += 1;
      return;
    }
    a.n++;
    if (m.bounds) {
      const x = clip(v as number, m.bounds[0], m.bounds[1]);
      a.sum += x;
      const d = x - a.mean;
      a.mean += d / a.n;
      a.m2 += d * (x - a.mean);
    }
  });
  const raws = layout.measures.map((m, mi) =>
    m.groups.map((_, gi): RawGroup => {
      const a = acc[mi]![gi]!;
      if (m.cellCount > 0) return { count: a.cells.reduce((x, y) => x + y, 0), cells: a.cells };
      const raw: RawGroup = { count: a.n };
      if (m.bounds) {
        raw.sum = a.sum;
        raw.mean = a.n > 0 ? a.mean : NaN;
        raw.varPop = a.n > 0 ? a.m2 / a.n : NaN;
      }
      return raw;
    }),
  );
  return present(layout, raws, null);
}

/**
 * Sums contribution vectors as integers mod p — what MASCOT's opened aggregate equals.
 * For tests and the linear-only path. Throws RangeError on length mismatch.
 */
export function sumContributions(vectors: readonly (readonly bigint[])[], modulus: bigint = M61): bigint[] {
  if (vectors.length === 0) throw new RangeError("sumContributions: no vectors");
  const n = vectors[0]!.length;
  const out = new Array<bigint>(n).fill(0n);
  for (const v of vectors) {
    if (v.length !== n) throw new RangeError(`sumContributions: length ${v.length} ≠ ${n}`);
    for (let i = 0; i < n; i++) out[i] = (out[i]! + v[i]!) % modulus;
  }
  return out;
}
