import { describe, expect, it } from "vitest";
import { computePlaintext, formatStatsResult, parseStatsQuery } from "../../../protocol/stats/index.ts";
import { queryJson, rowsOf, schemaOf } from "./helpers.ts";

describe("formatStatsResult", () => {
  it("renders the adult census result, one block per measure, suppressed cells marked", () => {
    const schema = schemaOf("adult");
    const q = parseStatsQuery({ ...(queryJson("adult-census") as object), minCount: 60 });
    const text = formatStatsResult(computePlaintext(q, schema, rowsOf(schema, "adult-train.csv")));
    expect(text).toMatch(/^rows — count\n {2}count 32561$/m);
    expect(text).toMatch(/^age_variance — variance\(age\)\n {2}count 32561, mean 38\.5816, variance /m);
    expect(text).toMatch(/^income_by_sex — histogram\(income\) by sex\n {2}Female: total 10771\n {4}<=50K +9592\n {4}>50K +1179$/m);
    expect(text).toMatch(/^ {4}Preschool +suppressed$/m); // 51 rows < 60
    expect(text).toMatch(/^education — histogram\(education\)\n {2}total withheld/m);
  });

  it("quantiles name their bin", () => {
    const schema = schemaOf("adult");
    const q = parseStatsQuery({ version: 1, minCount: 1, measures: [{ name: "age_q", kind: "quantiles", column: "age", probs: [0.5], bins: [17, 30, 40, 50, 91] }] });
    const text = formatStatsResult(computePlaintext(q, schema, rowsOf(schema, "adult-test.csv")));
    expect(text).toMatch(/^ {2}p50 ≈ \d+\.\d\d in \[30, 40\)$/m);
  });
});
