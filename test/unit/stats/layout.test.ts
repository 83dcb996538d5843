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
      "0:n/*/count", "1:n/*/slack",
      "2:age/F/count", "3:age/M/count", "4:age/*/slack",
      "5:edu/*/cell/lo", "6:edu/*/cell/mid", "7:edu/*/cell/hi", "8:edu/*/slack",
      "9:age_q/*/cell/[18, 40)", "10:age_q/*/cell/[40, 90]", "11:age_q/*/slack",
      "12:age/F/sum", "13:age/M/sum", "14:age/F/slack", "15:age/M/slack",
      "16:age/F/sumsq", "17:age/M/sumsq", "18:age/F/slack", "19:age/M/slack",
    ]);
    // counts ≤ 100 → 7 bits; Σ ≤ 100 · 72 · 16 = 115200 → 17 bits; Σ² ≤ 100 · 72² · 16 = 8294400 → 23 bits
    expect(l.predicates).toEqual([
      { kind: "range", bits: 7, indices: [0, 12] },
      { kind: "range", bits: 17, indices: [12, 16] },
      { kind: "range", bits: 23, indices: [16, 20] },
    ]);
    expect(l.identities.map((i) => [i.slack, i.constant, i.terms])).toEqual([
      [1, 100n, [[0, -1n]]],
      [4, 100n, [[2, -1n], [3, -1n]]],
      [8, 100n, [[5, -1n], [6, -1n], [7, -1n]]],
      [11, 100n, [[9, -1n], [10, -1n]]],
      [14, 0n, [[2, 1152n], [12, -1n]]], // U_max = 72 · 16
      [15, 0n, [[3, 1152n], [13, -1n]]],
      [18, 0n, [[2, 82944n], [16, -1n]]], // V_max = 72² · 16
      [19, 0n, [[3, 82944n], [17, -1n]]],
    ]);
    const c = encodeContribution(query, schema, rows);
    // F: age 20 → u = 2, U = 32, V = 4·16 = 64. M: 30 → u = 12 (U 192, V 2304); 95 → 90, u = 72 (U 1152, V 82944)
    // slacks: 100 − 4, 100 − 3, 100 − 3, 100 − 4; 1152 − 32, 2·1152 − 1344; 82944 − 64, 2·82944 − 85248
    expect(c.values).toEqual([4n, 96n, 1n, 2n, 97n, 1n, 1n, 1n, 97n, 2n, 2n, 96n, 32n, 1344n, 1120n, 960n, 64n, 85248n, 82880n, 80640n]);
    expect(c.rowsUsed).toBe(4);
  });
});
