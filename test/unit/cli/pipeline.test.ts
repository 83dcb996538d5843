import { describe, expect, it } from "vitest";
import { featureMomentsQuery } from "../../../client/cli/pipeline.ts";
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
});
