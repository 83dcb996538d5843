import { describe, expect, it } from "vitest";
import { computePlaintext, formatStatsResult, parseStatsQuery } from "../../../protocol/stats/index.ts";
import { queryJson, rowsOf, schemaOf } from "./helpers.ts";

describe("formatStatsResult", () => {
  it("renders the adult census result, one line per group, suppressed cells marked", () => {
    const schema = schemaOf("adult");
    const q = parseStatsQuery({ ...(queryJson("adult-census") as object), minCount: 60 });
    const text = formatStatsResult(computePlaintext(q, schema, rowsOf(schema, "adult-train.csv")));
    expect(text).toContain("rows (count): n=32561");
    expect(text).toContain("age_variance (variance of age): n=32561  mean=38.5816");
    expect(text).toContain("income_by_sex (histogram of income) by sex:");
    expect(text).toMatch(/ {2}sex=Female: total=10771 {2}<=50K: 9592 {2}>50K: 1179/);
    expect(text).toContain("Preschool: <min"); // 51 rows < 60
    expect(text).toMatch(/education \(histogram of education\): total=— /);
  });
});
