import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { LearningJob, planForJob, encodeGlobalModel, decodeGlobalModel, globalModelHash, type LearningJobInput } from "../../../protocol/learning/index.ts";
import { toHex } from "../../../protocol/encoding.ts";

const M61 = (1n << 61n) - 1n;
const job: LearningJobInput = {
  model: {
    inputDim: 30, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" },
    optimizer: { kind: "adam", learningRate: 0.05 }, epochs: 2, batchSize: 16, seed: 1, strategy: { kind: "fedavg" }, clipNorm: 10,
  },
  stopping: { maxRounds: 20, target: { metric: "accuracy", value: 0.97 }, patience: 5 },
  aggregation: { maxSamplesPerNode: 100 },
};

describe("learning job", () => {
  it("parses with defaults and plans the encoding", () => {
    const j = LearningJob.parse(job);
    expect(j.aggregation.mode).toBe("validated");
    expect(j.evaluation.heldOutFraction).toBe(0.1);
    const plan = planForJob(j, 5, M61);
    expect(plan.length).toBe(32);
    expect(plan.fracBits).toBe(16);
  });
  it("validated mode requires clipNorm", () => {
    const { clipNorm: _c, ...model } = job.model;
    expect(() => LearningJob.parse({ ...job, model })).toThrow(/clipNorm/);
    const lin = LearningJob.parse({ ...job, model, aggregation: { mode: "linear-only", maxSamplesPerNode: 100 } });
    expect(() => planForJob(lin, 5, M61)).toThrow(/clipNorm/);
  });
  it("rejects an explicit fracBits that overflows", () => {
    const j = LearningJob.parse({ ...job, aggregation: { maxSamplesPerNode: 100, fracBits: 30 } });
    expect(() => planForJob(j, 5, M61)).toThrow(RangeError);
  });
});

describe("global model codec", () => {
  it("round-trips (property) and hashes deterministically", () => {
    fc.assert(fc.property(fc.nat({ max: 2 ** 32 - 1 }), fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 50 }), (round, ws) => {
      const bytes = encodeGlobalModel(round, ws);
      const back = decodeGlobalModel(bytes);
      expect(back.round).toBe(round);
      expect(Array.from(back.weights)).toEqual(ws.map((w) => (Object.is(w, -0) ? -0 : w)));
      expect(toHex(globalModelHash(bytes))).toBe(toHex(globalModelHash(encodeGlobalModel(round, ws))));
    }));
  });
  it("known answer: header layout", () => {
    const b = encodeGlobalModel(3, [1]);
    expect(toHex(b)).toBe("32504d5701" + "03000000" + "01000000" + "000000000000f03f");
  });
  it("a changed weight or round changes the hash", () => {
    const h = toHex(globalModelHash(encodeGlobalModel(1, [1, 2])));
    expect(toHex(globalModelHash(encodeGlobalModel(1, [1, 2.0000001])))).not.toBe(h);
    expect(toHex(globalModelHash(encodeGlobalModel(2, [1, 2])))).not.toBe(h);
  });
  it("rejects malformed bytes", () => {
    const b = encodeGlobalModel(1, [1, 2]);
    expect(() => decodeGlobalModel(b.subarray(0, b.length - 1))).toThrow(RangeError);
    const bad = b.slice(); bad[0] = 0;
    expect(() => decodeGlobalModel(bad)).toThrow(/2PMW/);
    const v2 = b.slice(); v2[4] = 2;
    expect(() => decodeGlobalModel(v2)).toThrow(/version/);
    const nan = b.slice(); new DataView(nan.buffer).setFloat64(13, NaN, true);
    expect(() => decodeGlobalModel(nan)).toThrow(/non-finite/);
    expect(() => encodeGlobalModel(-1, [])).toThrow(RangeError);
    expect(() => encodeGlobalModel(0, [Infinity])).toThrow(RangeError);
  });
});
