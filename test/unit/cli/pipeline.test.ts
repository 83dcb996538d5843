import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { featureMomentsQuery } from "../../../client/cli/pipeline.ts";
import { validateStatsTask } from "../../../protocol/jobs/stats.ts";
import { schemaOf } from "../stats/helpers.ts";

const schema = schemaOf("adult");
const pre = (numeric: string[]) => ({ numeric, categorical: [], standardize: true, label: { column: "income", classes: ["<=50K", ">50K"] } }) as never;

describe("feature-moments query for standardisation", () => {
  it("a misspelt feature is 'no such column', listing the schema's columns", () => {
    expect(() => featureMomentsQuery(schema, pre(["agee"]), { age: [17, 90] }, 1000)).toThrow(/no column "agee" in schema adult; its columns: age, workclass/);
  });
  it("a categorical column listed as numeric says so", () => {
    expect(() => featureMomentsQuery(schema, pre(["sex"]), {}, 1000)).toThrow(/"sex" is a categorical column/);
  });
  it("a real column without bounds names the bounds file", () => {
    expect(() => featureMomentsQuery(schema, pre(["age"]), {}, 1000)).toThrow(/no declared bounds for feature age \(add "age": \[min, max\]/);
    expect(featureMomentsQuery(schema, pre(["age"]), { age: [17, 90] }, 1000).measures).toHaveLength(1);
  });

  it("a private learning job's moments query is private: noised, and its noise fits the field at the chosen precision", () => {
    const bounds = JSON.parse(readFileSync(new URL("../../../examples/bounds/adult.json", import.meta.url), "utf8")).bounds as Record<string, [number, number]>;
    const numeric = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"];
    const plain = featureMomentsQuery(schema, pre(numeric), bounds, 8192);
    const priv = featureMomentsQuery(schema, pre(numeric), bounds, 8192, { rho: 0.01, field: "p128" });
    expect(plain.privacy).toBeUndefined();
    expect(priv.privacy).toEqual({ rho: 0.01 });
    // It passes the same check the coordinator and the nodes apply (validated mode only).
    // In the 61-bit field the noise of Σfnlwgt² does not fit at any precision: refused, not weakened.
    expect(() => featureMomentsQuery(schema, pre(numeric), bounds, 8192, { rho: 0.01, field: "m61" })).toThrow(/too wide/);
    expect(() => validateStatsTask({ query: priv, schema }, "p128", 5, "adult", "validated")).not.toThrow();
    expect(() => validateStatsTask({ query: priv, schema }, "p128", 5, "adult", "linear-only")).toThrow(/needs mode "validated"/);
  });
});
