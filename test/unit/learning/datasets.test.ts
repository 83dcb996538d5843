import { describe, expect, it } from "vitest";
import { ADULT_PREPROCESSING, parseAdult, parseOptdigits, parsePima, parseWdbc, splitIndices, subset, concatDatasets } from "../../../client/learning/index.ts";
import { loadReferenceDataset } from "../../../client/learning/reference-data.ts";
import { encodedDim, parseModelSpec } from "../../../protocol/learning/index.ts";

describe("reference datasets", () => {
  it("wdbc: 569 rows, 30 features, deterministic 456/113 split (every 5th row to test)", () => {
    const { train, test } = loadReferenceDataset("wdbc");
    expect([train.n, test.n, train.d]).toEqual([456, 113, 30]);
    const all = concatDatasets([train, test]);
    expect(Array.from(all.y).filter((v) => v === 1).length).toBe(212); // malignant, per wdbc.names
    expect(train.x[0]).toBeCloseTo(17.99, 4);
  });
  it("optdigits: 3823/1797 rows, 64 features, 10 classes", () => {
    const { train, test } = loadReferenceDataset("optdigits");
    expect([train.n, test.n, train.d, train.classes]).toEqual([3823, 1797, 64, 10]);
    expect(new Set(train.y).size).toBe(10);
  });
  it("adult: one-hot over adult.names levels, test labels with a trailing dot", () => {
    const { train, test } = loadReferenceDataset("adult");
    expect(train.n).toBe(32561);
    expect(test.n).toBe(16281);
    expect(train.d).toBe(encodedDim(ADULT_PREPROCESSING));
    expect(train.d).toBe(6 + 8 + 16 + 7 + 14 + 6 + 5 + 2 + 41);
    const pos = Array.from(train.y).filter((v) => v === 1).length / train.n;
    expect(pos).toBeCloseTo(0.2408, 3); // adult.names: 23.93% / 24.78% without unknowns
    // row 1: 39, State-gov, ... → age 39, workclass one-hot at State-gov
    expect(train.x[0]).toBe(39);
    expect(Array.from(train.x.subarray(6, 14))).toEqual([0, 0, 0, 0, 0, 1, 0, 0]);
    // the spec the examples use validates against the encoding
    expect(parseModelSpec({ inputDim: train.d, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" }, optimizer: { kind: "adam", learningRate: 0.01 }, epochs: 1, batchSize: 64, seed: 1, strategy: { kind: "fedavg" }, preprocessing: ADULT_PREPROCESSING }).inputDim).toBe(105);
  });
  it("pima: 768 rows, 8 features, 615/153 split", () => {
    const { train, test } = loadReferenceDataset("pima");
    expect([train.n, test.n, train.d]).toEqual([615, 153, 8]);
    expect(Array.from(concatDatasets([train, test]).y).filter((v) => v === 1).length).toBe(268); // per the .names file
  });
  it("rejects malformed rows", () => {
    expect(() => parsePima("1,2,3,4,5,6,7,8,2")).toThrow(RangeError);
    expect(() => parseWdbc("1,X,1,2")).toThrow(RangeError);
    expect(() => parseOptdigits("1,2,3")).toThrow(RangeError);
    expect(() => parseAdult("39, State-gov")).toThrow(RangeError);
    expect(() => parseAdult("39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, maybe")).toThrow(/label/);
  });
  it("splits IID and by class into disjoint covering slices", () => {
    const { train } = loadReferenceDataset("wdbc");
    for (const mode of ["iid", "by-class"] as const) {
      const parts = splitIndices(train, 5, mode, 1);
      expect(parts.length).toBe(5);
      expect(parts.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: train.n }, (_, i) => i));
    }
    const byClass = splitIndices(train, 5, "by-class", 1).map((p) => new Set(subset(train, p).y).size);
    expect(byClass.filter((k) => k === 1).length).toBeGreaterThanOrEqual(3);
    expect(() => splitIndices(train, 0, "iid", 1)).toThrow(RangeError);
  });
});
