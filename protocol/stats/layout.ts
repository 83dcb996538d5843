/**
 * Layout of a node's local contribution vector for a statistics query, the validation
 * predicates MASCOT applies to it, and the fixed-point overflow check. Pure and
 * deterministic: the same (query, schema) always gives the same layout, so nodes and the
 * JobDO compute it independently.
 *
 * Vector order (chosen so the predicates are few and contiguous):
 *  1. every count-like entry (count slots of count/sum/mean/variance/stddev measures and
 *     every histogram/quantile cell), measure by measure, group by group;
 *  2. the Σ(x − lo)·2^f entries, measure by measure (one run per measure);
 *  3. the Σ(x − lo)²·2^f entries, measure by measure.
 */
import type { DatasetSchema } from "./schema.ts";
import { columnIndex } from "./schema.ts";
import { StatsQueryError, type MeasureKind, type StatsQuery } from "./query.ts";

/**
 * Most range predicates one query's layout may produce. They are derived by every node from
 * the query (not carried in the job spec), so the cap only bounds validation work.
 */
export const MAX_PREDICATES = 256;

/** p = 2^61 − 1, the default field (DESIGN §4). */
export const M61 = (1n << 61n) - 1n;

/**
 * The predicates a statistics layout uses: MASCOT's `range` predicate with half-open
 * `indices` [start, end). Assignable to both `Predicate` types (protocol/mascot/party.ts and
 * protocol/api/schemas.ts).
 */
export interface RangePredicate { kind: "range"; bits: number; indices: [number, number] }

/** What an entry of the contribution vector holds. */
export type EntryRole = "count" | "sum" | "sumsq" | "cell" | "slack";

/**
 * A linear identity tying a slack entry to other entries of the same party:
 * x[slack] = constant + Σ coef · x[index]. The slack's range predicate makes it ≥ 0, and the
 * identity is checked on the opened aggregate (Σ over parties is linear): S[slack] =
 * parties · constant + Σ coef · S[index]. Honest parties satisfy it exactly, so a mismatch
 * means some parties' entries are inconsistent; when it holds, the parties whose terms do not
 * cancel must jointly satisfy the inequality the slack encodes (a coalition can only pool
 * its own slack). See docs/stats.md.
 */
export interface SlackIdentity {
  slack: number;
  constant: bigint;
  terms: Array<[index: number, coef: bigint]>;
  /** What a holding identity guarantees, in words. */
  guarantees: string;
}

/** One entry of the layout, for humans and tests. */
export interface LayoutEntry {
  index: number;
  measure: string;
  group: string | null;
  role: EntryRole;
  /** Histogram cell label (level, or `[lo, hi)` for numeric bins). */
  cell?: string;
}

/** Where one group of one measure lives in the vector. */
export interface GroupSlots {
  key: string | null;
  count?: number;
  sum?: number;
  sumsq?: number;
  /** First index of the group's histogram cells (cells are contiguous). */
  cells?: number;
  /** Slack c · round((hi − lo)·2^f) − Σ entry. */
  sumSlack?: number;
  /** Slack c · round((hi − lo)²·2^f) − Σ² entry. */
  sumsqSlack?: number;
}

/** A compiled measure. */
export interface MeasureLayout {
  name: string;
  kind: MeasureKind;
  column: string | null;
  columnIndex: number;
  groupBy: string | null;
  groupIndex: number;
  groups: GroupSlots[];
  bounds?: [number, number];
  /** Numeric histogram / quantile edges. */
  edges?: number[];
  /** Categorical histogram levels. */
  levels?: string[];
  probs?: number[];
  /** Number of histogram cells per group (0 for non-histogram measures). */
  cellCount: number;
  /** Slack maxRowsPerParty − (rows counted by this measure over all its groups and cells). */
  rowSlack?: number;
  /** max per-party value of a Σ entry: maxRowsPerParty · round((hi − lo)·2^f). */
  unitMax?: bigint;
  /** round((hi − lo)² · 2^f): max encoded square of one value (variance/stddev only). */
  sqUnitMax?: bigint;
}

/** A compiled filter. */
export interface FilterLayout {
  columnIndex: number;
  column: string;
  op: "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "in";
  values: (number | string)[];
}

export interface StatsLayout {
  version: 1;
  length: number;
  fracBits: number;
  minCount: number;
  /** Histogram cells with no rows are suppressed too (query.suppressZeros). */
  suppressZeros: boolean;
  maxParties: number;
  maxRowsPerParty: number;
  /** Field modulus the overflow check was made for. */
  modulus: bigint;
  filters: FilterLayout[];
  measures: MeasureLayout[];
  entries: LayoutEntry[];
  /** Largest value a well-formed single-party contribution can hold at each index. */
  maxPerParty: bigint[];
  /** Bit width checked by the range predicate at each index: maxPerParty[i] < 2^bits[i]. */
  bits: number[];
  /** Linear identities checked on the aggregate by `finalise`. */
  identities: SlackIdentity[];
  /** MASCOT validation predicates (range predicates, `indices` half-open [start, end)). */
  predicates: RangePredicate[];
  /** What each predicate guarantees, parallel to `predicates`. */
  predicateNotes: string[];
}

export interface CompileOptions {
  /** Field modulus (default 2^61 − 1). A `Field` can be passed as `{ p: field.p }`. */
  modulus?: bigint;
}

/** Bit length of a non-negative bigint (0 → 0). */
function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

/** Default name of a measure: `kind(column)`, with ` by group` when grouped. */
export function defaultMeasureName(m: { kind: string; column?: string; groupBy?: string }): string {
  return `${m.kind}(${m.column ?? "*"})${m.groupBy ? ` by ${m.groupBy}` : ""}`;
}

/** Label of numeric bin i of edges e: `[e_i, e_{i+1})`, the last bin closed. */
export function binLabel(edges: readonly number[], i: number): string {
  return `[${edges[i]}, ${edges[i + 1]}${i === edges.length - 2 ? "]" : ")"}`;
}

/**
 * Checks `query` against `schema` and builds its layout. Guarantees: every referenced column
 * exists with a suitable type; filter values match the column (levels for categorical);
 * n · rows · max entry < p/2 for every entry (n = limits.maxParties, rows =
 * limits.maxRowsPerParty), so the field sum of well-formed contributions is the true
 * integer sum. Throws {@link StatsQueryError} listing every problem (including overflow).
 */
export function compileQuery(query: StatsQuery, schema: DatasetSchema, opts: CompileOptions = {}): StatsLayout {
  const p = opts.modulus ?? M61;
  const issues: string[] = [];
  const f = query.fracBits;
  const scale = 2 ** f;
  const { maxParties: n, maxRowsPerParty: R } = query.limits;
  const half = p / 2n;

  if (query.dataset !== undefined && query.dataset !== schema.name) {
    issues.push(`dataset: the query is for dataset "${query.dataset}" but the schema is "${schema.name}"`);
  }
  if (BigInt(n) * BigInt(R) >= half || n * R > Number.MAX_SAFE_INTEGER) {
    issues.push(`limits: maxParties · maxRowsPerParty = ${n * R} is too large for exact counts`);
  }

  const col = (path: string, name: string): number => {
    const i = columnIndex(schema, name);
    if (i < 0) issues.push(`${path}: unknown column "${name}" (schema "${schema.name}" has ${schema.columns.map((c) => c.name).join(", ")})`);
    return i;
  };

  // ---- filters
  const filters: FilterLayout[] = [];
  query.filters.forEach((fl, k) => {
    const path = `filters.${k}`;
    const i = col(`${path}.column`, fl.column);
    if (i < 0) return;
    const spec = schema.columns[i]!;
    const values = Array.isArray(fl.value) ? fl.value : [fl.value];
    if (spec.type === "numeric") {
      if (values.some((v) => typeof v !== "number")) issues.push(`${path}.value: column "${fl.column}" is numeric, so values must be numbers`);
    } else {
      if (!["eq", "ne", "in"].includes(fl.op)) issues.push(`${path}.op: "${fl.op}" is not allowed on categorical column "${fl.column}" (use eq, ne or in)`);
      for (const v of values) {
        if (typeof v !== "string" || !spec.levels.includes(v)) issues.push(`${path}.value: ${JSON.stringify(v)} is not a level of "${fl.column}"`);
      }
    }
    filters.push({ columnIndex: i, column: fl.column, op: fl.op, values });
  });

  // ---- measures
  const names = new Set<string>();
  const measures: MeasureLayout[] = [];
  query.measures.forEach((m, k) => {
    const path = `measures.${k}`;
    const name = m.name ?? defaultMeasureName(m);
    if (names.has(name)) issues.push(`${path}.name: duplicate measure name "${name}" (give each measure a distinct name)`);
    names.add(name);
    let ci = -1;
    if (m.column !== undefined) ci = col(`${path}.column`, m.column);
    let gi = -1;
    let groups: GroupSlots[] = [{ key: null }];
    if (m.groupBy !== undefined) {
      gi = col(`${path}.groupBy`, m.groupBy);
      const gs = schema.columns[gi];
      if (gs && gs.type === "numeric") issues.push(`${path}.groupBy: column "${m.groupBy}" is numeric; group-by needs a categorical column`);
      else if (gs) groups = gs.levels.map((l) => ({ key: l }));
    }
    const ml: MeasureLayout = { name, kind: m.kind, column: m.column ?? null, columnIndex: ci, groupBy: m.groupBy ?? null, groupIndex: gi, groups, cellCount: 0 };
    const cs = ci >= 0 ? schema.columns[ci] : undefined;
    switch (m.kind) {
      case "count":
        break;
      case "sum": case "mean": case "variance": case "stddev": {
        if (cs && cs.type !== "numeric") issues.push(`${path}.column: ${m.kind} needs a numeric column; "${m.column}" is ${cs.type}`);
        const [lo, hi] = m.bounds;
        ml.bounds = [lo, hi];
        const w = hi - lo;
        const needSq = m.kind === "variance" || m.kind === "stddev";
        const unit = w * scale, sq = w * w * scale;
        if (!(unit < 2 ** 53) || (needSq && !(sq < 2 ** 53))) {
          issues.push(`${path}.bounds: ${needSq ? "(hi − lo)²" : "(hi − lo)"} · 2^fracBits = ${needSq ? sq : unit} exceeds 2^53; narrow the bounds or lower fracBits`);
          break;
        }
        ml.unitMax = BigInt(Math.round(unit));
        if (needSq) ml.sqUnitMax = BigInt(Math.round(sq));
        const top = needSq && ml.sqUnitMax! > ml.unitMax ? ml.sqUnitMax! : ml.unitMax;
        if (BigInt(n) * BigInt(R) * top >= half) {
          issues.push(
            `${path}: fixed-point overflow: parties · rows · ${needSq ? "(hi − lo)²" : "(hi − lo)"} · 2^f = ${n} · ${R} · ${top} ≥ p/2; ` +
              `lower limits.maxParties, limits.maxRowsPerParty, fracBits, or narrow the bounds`,
          );
        }
        break;
      }
      case "histogram": {
        if (!cs) break;
        if (cs.type === "numeric") {
          if (!m.bins) issues.push(`${path}.bins: a histogram of numeric column "${m.column}" needs bin edges`);
          if (m.levels) issues.push(`${path}.levels: "${m.column}" is numeric; use bins, not levels`);
          if (m.bins) { ml.edges = m.bins; ml.cellCount = m.bins.length - 1; }
        } else {
          if (m.bins) issues.push(`${path}.bins: "${m.column}" is categorical; use levels (or nothing for all levels), not bins`);
          const lv = m.levels ?? cs.levels;
          for (const l of lv) if (!cs.levels.includes(l)) issues.push(`${path}.levels: ${JSON.stringify(l)} is not a level of "${m.column}"`);
          if (new Set(lv).size !== lv.length) issues.push(`${path}.levels: levels must be distinct`);
          ml.levels = lv;
          ml.cellCount = lv.length;
        }
        break;
      }
      case "quantiles": {
        if (cs && cs.type !== "numeric") issues.push(`${path}.column: quantiles need a numeric column; "${m.column}" is ${cs.type}`);
        ml.edges = m.bins;
        ml.cellCount = m.bins.length - 1;
        ml.probs = m.probs;
        break;
      }
    }
    measures.push(ml);
  });
  if (issues.length > 0) throw new StatsQueryError(issues);

  // ---- indices
  const entries: LayoutEntry[] = [];
  const maxPerParty: bigint[] = [];
  const push = (e: Omit<LayoutEntry, "index">, max: bigint): number => {
    const index = entries.length;
    entries.push({ index, ...e });
    maxPerParty.push(max);
    return index;
  };
  const Rb = BigInt(R);
  const identities: SlackIdentity[] = [];
  const where = (m: MeasureLayout, g?: GroupSlots): string => `"${m.name}"${g && g.key !== null ? ` (${m.groupBy} = ${g.key})` : ""}`;
  // 1. counts and cells, then one row slack per measure: R − Σ(all its counts / cells) ≥ 0
  for (const m of measures) {
    const counted: number[] = [];
    for (const g of m.groups) {
      if (m.cellCount > 0) {
        for (let c = 0; c < m.cellCount; c++) {
          const idx = push({ measure: m.name, group: g.key, role: "cell", cell: m.levels ? m.levels[c]! : binLabel(m.edges!, c) }, Rb);
          if (c === 0) g.cells = idx;
          counted.push(idx);
        }
      } else {
        g.count = push({ measure: m.name, group: g.key, role: "count" }, Rb);
        counted.push(g.count);
      }
    }
    m.rowSlack = push({ measure: m.name, group: null, role: "slack" }, Rb);
    identities.push({
      slack: m.rowSlack, constant: Rb, terms: counted.map((i) => [i, -1n]),
      guarantees: `${where(m)}: each party (or colluding group) counts at most maxRowsPerParty = ${R} rows per party in total over its ${counted.length} count/cell entries`,
    });
  }
  // 2. Σ entries, then per group the slack c · U_max − Σ ≥ 0
  for (const m of measures) {
    if (m.unitMax === undefined) continue;
    for (const g of m.groups) g.sum = push({ measure: m.name, group: g.key, role: "sum" }, Rb * m.unitMax);
    for (const g of m.groups) {
      g.sumSlack = push({ measure: m.name, group: g.key, role: "slack" }, Rb * m.unitMax);
      identities.push({
        slack: g.sumSlack, constant: 0n, terms: [[g.count!, m.unitMax], [g.sum!, -1n]],
        guarantees: `${where(m, g)}: Σ(x − lo) ≤ count · (hi − lo), so the mean lies within the bounds`,
      });
    }
  }
  // 3. Σ² entries, then per group the slack c · V_max − Σ² ≥ 0
  for (const m of measures) {
    if (m.kind !== "variance" && m.kind !== "stddev") continue;
    for (const g of m.groups) g.sumsq = push({ measure: m.name, group: g.key, role: "sumsq" }, Rb * m.sqUnitMax!);
    for (const g of m.groups) {
      g.sumsqSlack = push({ measure: m.name, group: g.key, role: "slack" }, Rb * m.sqUnitMax!);
      identities.push({
        slack: g.sumsqSlack, constant: 0n, terms: [[g.count!, m.sqUnitMax!], [g.sumsq!, -1n]],
        guarantees: `${where(m, g)}: Σ(x − lo)² ≤ count · (hi − lo)², so the variance is at most (hi − lo)²`,
      });
    }
  }

  // ---- overflow under validation: every party may submit up to 2^bits − 1 at each entry
  const bits = maxPerParty.map((m) => Math.max(1, bitLength(m)));
  bits.forEach((b, i) => {
    if (BigInt(n) << BigInt(b) > half) {
      const e = entries[i]!;
      issues.push(
        `measures: "${e.measure}" (${e.role}) needs ${b}-bit entries; maxParties · 2^${b} ≥ p/2 (fixed-point overflow); ` +
          `lower limits.maxParties, limits.maxRowsPerParty, fracBits, or narrow the bounds`,
      );
    }
  });
  if (issues.length > 0) throw new StatsQueryError([...new Set(issues)]);

  // ---- predicates: one range predicate per run of equal bit width
  const predicates: RangePredicate[] = [];
  const predicateNotes: string[] = [];
  let start = 0;
  for (let i = 1; i <= entries.length; i++) {
    const b = bits[start]!;
    if (i < entries.length && bits[i] === b) continue;
    predicates.push({ kind: "range", bits: b, indices: [start, i] });
    const roles = [...new Set(entries.slice(start, i).map((e) => e.role))].join("/");
    predicateNotes.push(
      `entries [${start}, ${i}) (${roles}) lie in [0, 2^${b}) (largest honest value ${maxPerParty.slice(start, i).reduce((x, y) => (y > x ? y : x))} for ${R} rows): ` +
        `no party can wrap the field (maxParties · 2^${b} < p/2) or move any of these sums by more than 2^${b} − 1; ` +
        `slack entries being ≥ 0 is what makes layout.identities meaningful; consistency with real rows is not proven`,
    );
    start = i;
  }
  if (predicates.length > MAX_PREDICATES) {
    throw new StatsQueryError([`measures: the query needs ${predicates.length} range predicates (one per run of equal bit width); a job allows at most ${MAX_PREDICATES}: use fewer distinct bounds`]);
  }

  return {
    version: 1,
    length: entries.length,
    fracBits: f,
    minCount: query.minCount,
    suppressZeros: query.suppressZeros,
    maxParties: n,
    maxRowsPerParty: R,
    modulus: p,
    filters,
    measures,
    entries,
    maxPerParty,
    bits,
    identities,
    predicates,
    predicateNotes,
  };
}
