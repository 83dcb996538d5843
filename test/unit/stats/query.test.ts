import { describe, expect, it } from "vitest";
import { compileQuery, encodeContribution, finalise, parseStatsQuery, StatsQueryError, type StatsQueryInput } from "../../../protocol/stats/index.ts";
import { schemaOf } from "./helpers.ts";

const schema = schemaOf("adult");
const ok: StatsQueryInput = { version: 1, minCount: 0, measures: [{ kind: "count" }] };

function issues(q: unknown): string[] {
  try {
    compileQuery(parseStatsQuery(q), schema);
  } catch (e) {
    if (e instanceof StatsQueryError) return e.issues;
    throw e;
  }
  throw new Error("expected a StatsQueryError");
}

describe("query spec: shape (zod, strict)", () => {
  it("accepts a minimal query and fills defaults", () => {
    const q = parseStatsQuery(ok);
    expect(q.fracBits).toBe(16);
    expect(q.filters).toEqual([]);
    expect(q.limits).toEqual({ maxParties: 64, maxRowsPerParty: 2 ** 20 });
  });
  it.each([
    [{ ...ok, extra: 1 }, /\(root\).*extra/i],
    [{ ...ok, measures: [{ kind: "count", colum: "age" }] }, /measures\.0.*colum/i],
    [{ ...ok, measures: [{ kind: "median", column: "age" }] }, /measures\.0\.kind: kind must be one of/],
    [{ ...ok, measures: [{ kind: "mean", column: "age" }] }, /measures\.0\.bounds: bounds must be \[lo, hi\]/],
    [{ ...ok, measures: [{ kind: "mean", column: "age", bounds: [90, 17] }] }, /measures\.0\.bounds: bounds must satisfy lo < hi/],
    [{ ...ok, measures: [] }, /measures: a query needs at least one measure/],
    [{ version: 1, measures: [{ kind: "count" }] }, /minCount: minCount is required/],
    [{ ...ok, version: 2 }, /version: version must be 1/],
    [{ ...ok, minCount: "5" }, /minCount: minCount must be a non-negative integer/],
    [{ ...ok, minCount: -1 }, /minCount: minCount must be a non-negative integer/],
    [{ ...ok, fracBits: 40 }, /fracBits/],
    [{ ...ok, measures: [{ kind: "histogram", column: "sex", levels: ["Male", "Male"] }] }, /levels must be distinct/],
    [{ ...ok, filters: [{ column: "age", op: "lt", value: [1, 2] }] }, /filters\.0\.value: op "lt" needs a single value/],
    [{ ...ok, filters: [{ column: "age", op: "in", value: 3 }] }, /filters\.0\.value: op "in" needs an array/],
    [{ ...ok, filters: [{ column: "age", op: "like", value: 3 }] }, /filters\.0\.op: op must be one of/],
    [{ ...ok, measures: [{ kind: "quantiles", column: "age", probs: [1.5], bins: [0, 1] }] }, /measures\.0\.probs\.0: probabilities must be in \[0, 1\]/],
    [{ ...ok, measures: [{ kind: "histogram", column: "age", bins: [0, 5, 5] }] }, /measures\.0\.bins: bin edges must be strictly increasing/],
  ])("rejects %j", (q, re) => {
    const all = issues(q).join("\n");
    expect(all).toMatch(re);
  });
});

describe("query spec: against the schema", () => {
  it.each([
    [{ ...ok, dataset: "wdbc" }, /query is for dataset "wdbc" but the schema is "adult"/],
    [{ ...ok, measures: [{ kind: "sum", column: "agee", bounds: [0, 1] }] }, /measures\.0\.column: unknown column "agee"/],
    [{ ...ok, measures: [{ kind: "mean", column: "sex", bounds: [0, 1] }] }, /mean needs a numeric column; "sex" is categorical/],
    [{ ...ok, measures: [{ kind: "count", groupBy: "age" }] }, /groupBy: column "age" is numeric/],
    [{ ...ok, measures: [{ kind: "histogram", column: "age" }] }, /needs bin edges/],
    [{ ...ok, measures: [{ kind: "histogram", column: "sex", bins: [0, 1] }] }, /is categorical; use levels/],
    [{ ...ok, measures: [{ kind: "histogram", column: "sex", levels: ["Other"] }] }, /"Other" is not a level of "sex"/],
    [{ ...ok, measures: [{ kind: "quantiles", column: "sex", probs: [0.5], bins: [0, 1] }] }, /quantiles need a numeric column/],
    [{ ...ok, measures: [{ kind: "count" }, { kind: "count" }] }, /duplicate measure name "count\(\*\)"/],
    [{ ...ok, filters: [{ column: "sex", op: "lt", value: "Male" }] }, /"lt" is not allowed on categorical column "sex"/],
    [{ ...ok, filters: [{ column: "sex", op: "eq", value: "male" }] }, /"male" is not a level of "sex"/],
    [{ ...ok, filters: [{ column: "age", op: "ge", value: "18" }] }, /"age" is numeric, so values must be numbers/],
    [{ ...ok, measures: [{ kind: "variance", column: "fnlwgt", bounds: [0, 1.5e6] }] }, /exceeds 2\^53/],
    [{ ...ok, limits: { maxParties: 1000, maxRowsPerParty: 2 ** 24 }, measures: [{ kind: "variance", column: "age", bounds: [17, 90] }] }, /fixed-point overflow/],
  ])("rejects %j", (q, re) => {
    expect(issues(q).join("\n")).toMatch(re);
  });

  it("reports every problem at once", () => {
    const found = issues({ ...ok, measures: [{ kind: "sum", column: "x", bounds: [0, 1] }, { kind: "mean", column: "sex", bounds: [0, 1] }] });
    expect(found.length).toBe(2);
  });

  it("overflow check: n · 2^bits < p/2 where 2^bits > rows · (hi − lo)² · 2^f", () => {
    // (90 − 17)² · 2^16 = 349 241 344 ≈ 2^28.4; p/2 ≈ 2^60 → n · rows must stay below ≈ 2^31.6
    const q = (maxParties: number, maxRowsPerParty: number) =>
      parseStatsQuery({ ...ok, limits: { maxParties, maxRowsPerParty }, measures: [{ kind: "variance", column: "age", bounds: [17, 90] }] });
    expect(() => compileQuery(q(64, 2 ** 24), schema)).not.toThrow(); // 53-bit entries: 64 · 2^53 < p/2
    expect(() => compileQuery(q(64, 2 ** 26), schema)).toThrow(/overflow/);
  });
});

describe("contribution and finalisation guards", () => {
  const q = parseStatsQuery({ ...ok, limits: { maxParties: 4, maxRowsPerParty: 3 }, measures: [{ kind: "mean", column: "age", bounds: [0, 100] }] });
  const row = [40, "Private", 1, "HS-grad", 9, "Divorced", "Sales", "Unmarried", "White", "Male", 0, 0, 40, "United-States", "<=50K"] as const;

  it("refuses more rows than the query allows", () => {
    expect(() => encodeContribution(q, schema, [row, row, row, row])).toThrow(/4 rows exceed the query's limits.maxRowsPerParty = 3/);
  });
  it("refuses rows that do not match the schema", () => {
    expect(() => encodeContribution(q, schema, [[1, 2]])).toThrow(/rows\[0\]: expected an array of 15 values/);
    expect(() => encodeContribution(q, schema, [row.map((v, i) => (i === 0 ? "40" : v))])).toThrow(/rows\[0\]: column "age" must hold finite numbers, found "40"/);
    const h = parseStatsQuery({ ...ok, measures: [{ kind: "histogram", column: "sex" }, { kind: "histogram", column: "age", bins: [0, 50, 100] }] });
    expect(() => encodeContribution(h, schema, [row.map((v, i) => (i === 9 ? 1 : v))])).toThrow(/column "sex" must hold one of its levels, found 1/);
    expect(() => encodeContribution(h, schema, [row.map((v, i) => (i === 9 ? "Mle" : v))])).toThrow(/column "sex" must hold one of its levels, found "Mle"/);
    expect(() => encodeContribution(h, schema, [row.map((v, i) => (i === 0 ? Number.NaN : v))])).toThrow(/column "age" must hold finite numbers/);
    const g = parseStatsQuery({ ...ok, measures: [{ kind: "count", groupBy: "sex" }] });
    expect(() => encodeContribution(g, schema, [row.map((v, i) => (i === 9 ? "male" : v))])).toThrow(/rows\[0\]: group column "sex" holds "male", which is not one of its levels/);
  });
  it("refuses an aggregate that no honest committee can produce", () => {
    const c = encodeContribution(q, schema, [row]);
    // layout: [count, row slack, Σ, Σ slack]; counts ≤ 3 → 2 bits
    expect(c.values).toEqual([1n, 2n, 40n * 65536n, 100n * 65536n - 40n * 65536n]);
    expect(() => finalise(q, c.layout, [...c.values, 0n], { parties: 1 })).toThrow(/expected 4 entries/);
    expect(() => finalise(q, c.layout, c.values, { parties: 5 })).toThrow(/parties: must be an integer in \[1, 4\]/);
    expect(() => finalise(q, c.layout, [4n, 0n, 0n, 0n], { parties: 1 })).toThrow(/summed\[0\].*outside/); // 2-bit count entry
    const M61 = (1n << 61n) - 1n;
    expect(() => finalise(q, c.layout, [1n, 2n, M61 - 5n, 0n], { parties: 1 })).toThrow(/summed\[2\]/);
    const r = finalise(q, c.layout, c.values, { parties: 1 });
    expect(r.measures[0]!.groups[0]!.mean).toBe(40);
    expect(r.anomalies).toEqual([]);
  });

  it("reports in-range but inconsistent aggregates as anomalies", () => {
    const v = parseStatsQuery({ ...ok, limits: { maxParties: 4, maxRowsPerParty: 3 }, measures: [{ kind: "variance", column: "age", bounds: [0, 100] }] });
    const c = encodeContribution(v, schema, [row]);
    const U = 100n * 65536n, V = 10000n * 65536n;
    // [count, row slack, Σ, Σ slack, Σ², Σ² slack]
    expect(c.values).toEqual([1n, 2n, 40n * 65536n, U - 40n * 65536n, 1600n * 65536n, V - 1600n * 65536n]);
    expect(finalise(v, c.layout, c.values, { parties: 1 }).anomalies).toEqual([]);
    // a party claiming a sum for zero rows, with a slack that hides it: the identity breaks
    const bad = finalise(v, c.layout, [0n, 3n, 5n, 0n, 0n, 0n], { parties: 1 }).anomalies;
    expect(bad).toContain('measure "variance(age)": Σ(x − lo) exceeds count · (hi − lo)');
    expect(bad.some((a) => a.startsWith("identity broken at entry 3"))).toBe(true);
    // consistent identities, but (Σu)² > c · Σu²: negative variance
    expect(finalise(v, c.layout, [2n, 1n, U, U, 0n, 2n * V], { parties: 1 }).anomalies).toEqual([
      'measure "variance(age)": (Σ(x − lo))² exceeds count · Σ(x − lo)² (negative variance)',
    ]);
    // rows beyond maxRowsPerParty within the 2-bit range: the row identity breaks
    expect(finalise(v, c.layout, [3n, 1n, 0n, 3n * U, 0n, 3n * V], { parties: 1 }).anomalies.some((a) => a.startsWith("identity broken at entry 1"))).toBe(true);
  });
});

describe("compareStatsResults", () => {
  it("names every difference beyond tolerance", async () => {
    const { compareStatsResults, computePlaintext } = await import("../../../protocol/stats/index.ts");
    const v = parseStatsQuery({ ...ok, fracBits: 8, measures: [{ kind: "count" }, { kind: "mean", column: "age", bounds: [0, 100] }] });
    const rows = [[40, "Private", 1, "HS-grad", 9, "Divorced", "Sales", "Unmarried", "White", "Male", 0, 0, 40, "United-States", "<=50K"]] as const;
    const p = computePlaintext(v, schema, rows);
    const layout = compileQuery(v, schema);
    expect(compareStatsResults(layout, p, p)).toEqual([]);
    const off = structuredClone(p);
    off.measures[0]!.groups[0]!.count = 2;
    off.measures[1]!.groups[0]!.mean = 40 + 2 ** -8;
    expect(compareStatsResults(layout, off, p)).toEqual([
      "count(*): count 2 ≠ 1",
      expect.stringMatching(/^mean\(age\): mean 40\.0039\d* vs 40 differs by 0\.0039\d* > tolerance 0\.00195/),
    ]);
  });
});
