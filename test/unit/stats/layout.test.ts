import { describe, expect, it } from "vitest";
import { compileQuery, encodeContribution, parseDatasetSchema, parseStatsQuery, type Row } from "../../../protocol/stats/index.ts";

// Nodes and the JobDO compute the layout independently: any change to it must be deliberate
// (bump StatsLayout.version). These pinned values catch accidental changes.
const schema = parseDatasetSchema({
  version: 1, name: "kat", missing: ["?"],
  columns: [
    { name: "age", type: "numeric", integer: true },
    { name: "sex", type: "categorical", levels: ["F", "M"] },
    { name: "edu", type: "categorical", levels: ["lo", "mid", "hi"] },
  ],
});
const query = parseStatsQuery({
  version: 1, minCount: 0, fracBits: 4, limits: { maxParties: 4, maxRowsPerParty: 100 },
  filters: [{ column: "age", op: "ge", value: 18 }],
  measures: [
    { name: "n", kind: "count" },
    { name: "age", kind: "variance", column: "age", bounds: [18, 90], groupBy: "sex" },
    { name: "edu", kind: "histogram", column: "edu" },
    { name: "age_q", kind: "quantiles", column: "age", probs: [0.5], bins: [18, 40, 90] },
  ],
});
const rows: Row[] = [
  [17, "F", "lo"], // filtered out
  [20, "F", "lo"],
  [30, "M", "mid"],
  [95, "M", "hi"], // clipped to 90
  [null, "F", "hi"], // fails the filter (missing)
  [45, null, null], // no sex: not in the age groups; edu missing
];

describe("layout known answer", () => {
  it("entries, predicates and encoded values", () => {
    const l = compileQuery(query, schema);
    expect(l.entries.map((e) => `${e.index}:${e.measure}/${e.group ?? "*"}/${e.role}${e.cell ? `/${e.cell}` : ""}`)).toEqual([
      "0:n/*/count",
      "1:age/F/count", "2:age/M/count",
      "3:edu/*/cell/lo", "4:edu/*/cell/mid", "5:edu/*/cell/hi",
      "6:age_q/*/cell/[18, 40)", "7:age_q/*/cell/[40, 90]",
      "8:age/F/sum", "9:age/M/sum",
      "10:age/F/sumsq", "11:age/M/sumsq",
    ]);
    // counts ≤ 100 → 7 bits; Σ ≤ 100 · 72 · 16 = 115200 → 17 bits; Σ² ≤ 100 · 72² · 16 = 8294400 → 23 bits
    expect(l.predicates).toEqual([
      { kind: "range", bits: 7, indices: [0, 8] },
      { kind: "range", bits: 17, indices: [8, 10] },
      { kind: "range", bits: 23, indices: [10, 12] },
    ]);
    const c = encodeContribution(query, schema, rows);
    // F: age 20 → u = 2, U = 32, V = 4·16 = 64. M: 30 → u = 12 (U 192, V 2304); 95 → 90, u = 72 (U 1152, V 82944)
    expect(c.values).toEqual([4n, 1n, 2n, 1n, 1n, 1n, 2n, 2n, 32n, 1344n, 64n, 85248n]);
    expect(c.rowsUsed).toBe(4);
  });
});
