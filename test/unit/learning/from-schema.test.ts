import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseCsv, parseDatasetSchema } from "../../../client/data/index.ts";
import { datasetFromRows, parseWdbc, preprocessingFromSchema } from "../../../client/learning/index.ts";
import { encodedDim, parseModelSpec } from "../../../protocol/learning/index.ts";

const root = path.join(import.meta.dirname, "..", "..", "..", "examples");
const schema = (n: string) => parseDatasetSchema(JSON.parse(readFileSync(path.join(root, "schemas", `${n}.json`), "utf8")));

describe("client/data → learning", () => {
  it("wdbc: schema rows give the same matrix as the direct parser", () => {
    const s = schema("wdbc");
    const pre = preprocessingFromSchema(s, { exclude: ["id"] });
    expect(pre.numeric.length).toBe(30);
    expect(pre.label).toEqual({ column: "diagnosis", classes: ["B", "M"] });
    const text = readFileSync(path.join(root, "data", "wdbc.data"), "utf8");
    const ds = datasetFromRows(s, parseCsv(text, s), pre);
    const ref = parseWdbc(text);
    expect([ds.n, ds.d, ds.skipped]).toEqual([569, 30, 0]);
    expect(Array.from(ds.y)).toEqual(Array.from(ref.y));
    expect(Array.from(ds.x)).toEqual(Array.from(ref.x));
  });
  it("adult: one-hot from the schema's levels, missing categorical → zeros, label suffix stripped", () => {
    const s = schema("adult");
    const pre = preprocessingFromSchema(s);
    expect(pre.numeric).toEqual(["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]);
    expect(encodedDim(pre)).toBe(105);
    const text = readFileSync(path.join(root, "data", "adult-test.csv"), "utf8").split("\n").slice(0, 200).join("\n");
    const ds = datasetFromRows(s, parseCsv(text, s), pre);
    expect(ds.n).toBe(200);
    expect(ds.d).toBe(105);
    const firstRowOneHot = Array.from(ds.x.subarray(6, 105)).reduce((a, b) => a + b, 0);
    expect(firstRowOneHot).toBe(8); // 8 categorical columns, none missing in row 1
    expect(ds.y[2]).toBe(1); // row 3: ">50K."
    expect(parseModelSpec({ inputDim: ds.d, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" }, optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 32, seed: 1, strategy: { kind: "fedavg" }, preprocessing: pre }).inputDim).toBe(105);
  });
  it("rejects unknown columns and schemas without a label", () => {
    const s = schema("wdbc");
    expect(() => preprocessingFromSchema(s, { exclude: ["nope"] })).toThrow(/nope/);
    const noLabel = { ...s, columns: s.columns.filter((c) => c.type !== "label") };
    expect(() => preprocessingFromSchema(noLabel)).toThrow(/label/);
    const pre = preprocessingFromSchema(s, { exclude: ["id"] });
    expect(() => datasetFromRows(s, [], { ...pre, numeric: ["zzz"] })).toThrow(/zzz/);
  });
});
