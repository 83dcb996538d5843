import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { initLearning, initialGlobalWeights, learningLayout, parseLearningTask, reduceLearning } from "../../../protocol/jobs/learning.ts";
import { planEvalEncoding } from "../../../protocol/learning/bounds.ts";
import { quantize } from "../../../protocol/learning/bounds.ts";
import { weightedContribution } from "../../../protocol/learning/aggregate.ts";
import { decodeGlobalModel } from "../../../protocol/learning/codec.ts";

const { job: task } = parseLearningTask({
  model: {
    inputDim: 4, classes: 2, architecture: { kind: "logistic" }, loss: "binary-crossentropy",
    optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 8, seed: 7,
    strategy: { kind: "fedavg", serverLearningRate: 1 }, clipNorm: 4,
  },
  stopping: { maxRounds: 3, target: { metric: "accuracy", value: 0.9 } },
  aggregation: { mode: "validated", maxSamplesPerNode: 1000 },
});

function aggregateOf(contribs: Array<{ delta: number[]; n: number; loss: number; correct: number; count: number }>, fracBits: number, bound: number): Uint8Array {
  const sum = m61.zeros(contribs[0]!.delta.length + 1 + 3);
  for (const c of contribs) {
    const q = Array.from(quantize(weightedContribution(c.delta, c.n), fracBits, bound));
    const ep = planEvalEncoding({ p: m61.p, parties: 3, maxSamples: 1000 });
    const ev = Array.from(quantize([c.loss, c.correct, c.count], ep.fracBits, ep.bound));
    m61.addInPlace(sum, m61.fromInts([...q, ...ev]));
  }
  return m61.encode(sum);
}

describe("learning round protocol", () => {
  it("initial weights are deterministic in the seed, Glorot-bounded, biases zero", () => {
    const a = initialGlobalWeights(task.model), b = initialGlobalWeights(task.model);
    expect(a).toEqual(b);
    expect(a.length).toBe(5);
    const limit = Math.sqrt(6 / (4 + 1));
    for (let i = 0; i < 4; i++) expect(Math.abs(a[i]!)).toBeLessThanOrEqual(limit);
    expect(a[4]).toBe(0);
    expect(initialGlobalWeights({ ...task.model, seed: 8 })).not.toEqual(a);
  });

  it("reduce computes the sample-weighted mean update, applies FedAvg and records the evaluation", () => {
    const { state, model } = initLearning(task);
    expect(decodeGlobalModel(model).round).toBe(0);
    const layout = learningLayout(task, 3, "m61");
    expect(layout.length).toBe(5 + 1 + 3);
    const contribs = [
      { delta: [0.1, -0.2, 0.3, 0, 0.05], n: 100, loss: 60, correct: 70, count: 100 },
      { delta: [0.2, 0.1, -0.1, 0.4, -0.05], n: 300, loss: 150, correct: 240, count: 300 },
      { delta: [-0.3, 0, 0, 0.1, 0], n: 100, loss: 40, correct: 90, count: 100 },
    ];
    const agg = aggregateOf(contribs, layout.plan.fracBits, layout.plan.bound);
    const out = reduceLearning(task, state, "m61", agg, 3, 3);
    for (let i = 0; i < 5; i++) {
      const want = contribs.reduce((s, c) => s + c.n * c.delta[i]!, 0) / 500;
      expect(out.state.weights[i]! - state.weights[i]!).toBeCloseTo(want, 4);
    }
    expect(out.result.history[0]).toMatchObject({ round: 0, samples: 500, parties: 3 });
    expect(out.result.history[0]!.loss).toBeCloseTo(250 / 500, 4);
    expect(out.result.history[0]!.accuracy).toBeCloseTo(400 / 500, 10);
    expect(out.done).toBe(false);
    expect(decodeGlobalModel(out.model)).toMatchObject({ round: 1 });
  });

  it("stops when the target metric is reached and names the round whose model hit it", () => {
    const { state } = initLearning(task);
    const layout = learningLayout(task, 2, "m61");
    const agg = aggregateOf([{ delta: [0, 0, 0, 0, 0], n: 10, loss: 1, correct: 10, count: 10 }, { delta: [0, 0, 0, 0, 0], n: 10, loss: 1, correct: 9, count: 10 }], layout.plan.fracBits, layout.plan.bound);
    const out = reduceLearning(task, state, "m61", agg, 2, 2);
    expect(out.done).toBe(true);
    expect(out.result).toMatchObject({ stopReason: "target", bestRound: 0 });
  });

  it("requires a standardisation of the right length when the model standardises", () => {
    const base = { model: { inputDim: 2, classes: 2, architecture: { kind: "logistic" }, loss: "binary-crossentropy", optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 8, seed: 1, strategy: { kind: "fedavg", serverLearningRate: 1 }, clipNorm: 1, preprocessing: { numeric: ["a", "b"], standardize: true, label: { column: "y", classes: ["0", "1"] } } }, stopping: { maxRounds: 2 }, aggregation: { mode: "validated", maxSamplesPerNode: 10 } };
    expect(() => parseLearningTask(base)).toThrow(/standardization is required/);
    expect(() => parseLearningTask({ ...base, standardization: { mean: [0], std: [1] } })).toThrow(/inputDim/);
    expect(parseLearningTask({ ...base, standardization: { mean: [0, 1], std: [1, 2] } }).standardization).toEqual({ mean: [0, 1], std: [1, 2] });
  });

  it("refuses an aggregate of the wrong length", () => {
    const { state } = initLearning(task);
    expect(() => reduceLearning(task, state, "m61", m61.encode(m61.zeros(4)), 2, 2)).toThrow(RangeError);
  });
});
