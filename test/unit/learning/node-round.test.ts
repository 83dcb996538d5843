import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalModel, runNodeRound, splitHeldOut, ModelRejected, type LocalModel, type Dataset } from "../../../client/learning/index.ts";
import { LearningJob, planForJob, planEvalEncoding, encodeGlobalModel, globalModelHash, dequantize, finishWeightedMean, finishEval, type UpdateEncodingPlan } from "../../../protocol/learning/index.ts";

const M61 = (1n << 61n) - 1n;
const job = LearningJob.parse({
  model: { inputDim: 2, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" }, optimizer: { kind: "sgd", learningRate: 0.5 }, epochs: 1, batchSize: 4, seed: 5, strategy: { kind: "fedavg" }, clipNorm: 1 },
  stopping: { maxRounds: 5 },
  aggregation: { maxSamplesPerNode: 50 },
});
const rows: Dataset = (() => {
  const n = 40;
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) { y[i] = i % 2; x[2 * i] = y[i]! ? 1 : -1; x[2 * i + 1] = Math.cos(i); }
  return { x, y, n, d: 2, classes: 2, featureNames: ["a", "b"] };
})();

describe("node round (agent map step)", () => {
  let m: LocalModel;
  let plan: UpdateEncodingPlan;
  beforeAll(async () => { m = await createLocalModel(job.model); plan = planForJob(job, 3, M61); });
  afterAll(() => m.dispose());

  it("verifies, evaluates, trains and encodes [n·Δ ‖ n]", () => {
    const w = m.getWeights();
    const bytes = encodeGlobalModel(4, w);
    const { train, heldOut } = splitHeldOut(rows, 0.25);
    expect([train.n, heldOut.n]).toEqual([30, 10]);
    const out = runNodeRound({ model: m, globalModel: bytes, expectedHash: globalModelHash(bytes), round: 4, train, heldOut, plan, salt: 1 });
    expect(out.contribution.length).toBe(plan.length);
    expect(out.contribution.every((v) => Number.isSafeInteger(v))).toBe(true);
    const { meanDelta, totalSamples } = finishWeightedMean(dequantize(out.contribution, plan.fracBits));
    expect(totalSamples).toBe(30);
    for (let i = 0; i < meanDelta.length; i++) expect(meanDelta[i]).toBeCloseTo(out.update.delta[i]!, 4);
    expect(finishEval(out.evaluation).count).toBe(10);
    const evalPlan = planEvalEncoding({ p: M61, parties: 3, maxSamples: 50 });
    const q = runNodeRound({ model: m, globalModel: bytes, expectedHash: globalModelHash(bytes), round: 4, train, heldOut, plan, evalPlan, salt: 1 });
    expect(q.evaluation.every((v) => Number.isSafeInteger(v) && v >= 0)).toBe(true);
    expect(finishEval(dequantize(q.evaluation, evalPlan.fracBits)).accuracy).toBeCloseTo(finishEval(out.evaluation).accuracy, 12);
  });

  it("refuses a model whose hash does not match the log, or of another round", () => {
    const w = m.getWeights();
    const bytes = encodeGlobalModel(4, w);
    const tampered = encodeGlobalModel(4, w.map((v, i) => (i === 0 ? v + 1e-3 : v)));
    const base = { model: m, round: 4, ...splitHeldOut(rows, 0.25), plan, salt: 0 };
    expect(() => runNodeRound({ ...base, globalModel: tampered, expectedHash: globalModelHash(bytes) })).toThrow(ModelRejected);
    const other = encodeGlobalModel(5, w);
    expect(() => runNodeRound({ ...base, globalModel: other, expectedHash: globalModelHash(other) })).toThrow(/wrong-round/);
    const short = encodeGlobalModel(4, w.subarray(1));
    expect(() => runNodeRound({ ...base, globalModel: short, expectedHash: globalModelHash(short) })).toThrow(/wrong-size/);
    expect(() => splitHeldOut(rows, 1)).toThrow(RangeError);
  });
});
