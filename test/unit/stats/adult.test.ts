import { describe, expect, it } from "vitest";
import { compareStatsResults, compileQuery, computePlaintext, encodeContribution, finalise, parseStatsQuery, sumContributions, type StatsResult } from "../../../protocol/stats/index.ts";
import { splitIndices } from "../../../examples/split.ts";
import { queryJson, rowsOf, schemaOf } from "./helpers.ts";

const schema = schemaOf("adult");
const rows = rowsOf(schema, "adult-train.csv");
const query = parseStatsQuery(queryJson("adult-census"));

/** 5 node slices, IID (seeded shuffle) and non-IID (each race on one node), as examples/split.ts makes them. */
const splits = {
  iid: splitIndices(rows, schema, { k: 5, seed: "adult-e2e" }).map((ids) => ids.map((i) => rows[i]!)),
  "non-iid by race": splitIndices(rows, schema, { k: 5, seed: "adult-e2e", by: "race" }).map((ids) => ids.map((i) => rows[i]!)),
};

function measure(r: StatsResult, name: string) {
  const m = r.measures.find((x) => x.name === name);
  if (!m) throw new Error(`no measure ${name}`);
  return m;
}

describe.each(Object.entries(splits))("adult census query over 5 slices (%s)", (_, slices) => {
  const contributions = slices.map((s) => encodeContribution(query, schema, s));
  const summed = sumContributions(contributions.map((c) => c.values));
  const secure = finalise(query, contributions[0]!.layout, summed, { parties: 5 });
  const plain = computePlaintext(query, schema, rows);
  const f = query.fracBits;

  it("parses all 32561 rows and splits them", () => {
    expect(rows.length).toBe(32561);
    expect(slices.reduce((a, s) => a + s.length, 0)).toBe(32561);
  });

  it("every contribution passes its own range predicates", () => {
    for (const c of contributions) {
      for (const p of c.layout.predicates) {
        if (p.kind !== "range") throw new Error("unexpected predicate");
        const [s, e] = p.indices!;
        for (let i = s; i < e; i++) expect(c.values[i]! < 1n << BigInt(p.bits)).toBe(true);
      }
      expect(c.values.every((v) => v >= 0n)).toBe(true);
    }
  });

  it("counts, histograms and group-by counts are exact", () => {
    expect(measure(secure, "rows").groups[0]!.count).toBe(32561);
    expect(measure(secure, "rows")).toEqual(measure(plain, "rows"));
    expect(measure(secure, "education")).toEqual(measure(plain, "education"));
    expect(measure(secure, "income_by_sex")).toEqual(measure(plain, "income_by_sex"));
    expect(measure(secure, "count_by_sex")).toEqual(measure(plain, "count_by_sex"));
    const hs = measure(secure, "education").groups[0]!.histogram!;
    expect(hs.find((c) => c.label === "HS-grad")!.count).toBe(10501);
    expect(hs.find((c) => c.label === "Preschool")!.count).toBe(51);
    const bySex = measure(secure, "income_by_sex").groups;
    expect(bySex.map((g) => g.key)).toEqual(["Female", "Male"]);
    // independently counted with awk over adult-train.csv
    expect(bySex.map((g) => g.histogram!.map((c) => c.count))).toEqual([[9592, 1179], [15128, 6662]]);
    const tot = bySex.flatMap((g) => g.histogram!.map((c) => c.count!)).reduce((a, b) => a + b, 0);
    expect(tot).toBe(32561);
  });

  it("means and variances agree within the fixed-point tolerance", () => {
    const s = measure(secure, "age_variance").groups[0]!;
    const p = measure(plain, "age_variance").groups[0]!;
    const width = 90 - 17;
    expect(Math.abs(s.mean! - p.mean!)).toBeLessThanOrEqual(2 ** -(f + 1) + 1e-9);
    const varTol = (1 + 2 * width) * 2 ** -(f + 1) + 2 ** -(2 * f + 2) + 1e-9;
    expect(Math.abs(s.variancePopulation! - p.variancePopulation!)).toBeLessThanOrEqual(varTol);
    expect(Math.abs(s.varianceSample! - p.varianceSample!)).toBeLessThanOrEqual(varTol * 1.001);
    // age is integral, so the encoding is exact here
    expect(s.mean).toBeCloseTo(38.58164675532078, 9);
    const hm = measure(secure, "hours_mean_by_sex").groups;
    const hp = measure(plain, "hours_mean_by_sex").groups;
    hm.forEach((g, i) => expect(Math.abs(g.mean! - hp[i]!.mean!)).toBeLessThanOrEqual(2 ** -(f + 1) + 1e-9));
  });

  it("the whole result agrees with the plaintext reference (compareStatsResults)", () => {
    expect(compareStatsResults(contributions[0]!.layout, secure, plain)).toEqual([]);
    expect(secure.anomalies).toEqual([]);
  });

  it("quantiles come from the histogram and match the plaintext reference", () => {
    const q = measure(secure, "age_quantiles").groups[0]!.quantiles!;
    expect(q).toEqual(measure(plain, "age_quantiles").groups[0]!.quantiles);
    expect(q[1]!.value!).toBeGreaterThan(35);
    expect(q[1]!.value!).toBeLessThan(40);
  });

  it("the layout is deterministic and its predicates are few", () => {
    const a = compileQuery(query, schema), b = compileQuery(query, schema);
    expect(a).toEqual(b);
    expect(a.predicates.length).toBeLessThanOrEqual(8);
    expect(a.predicates.length).toBe(a.predicateNotes.length);
  });
});
