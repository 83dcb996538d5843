import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  parseModelSpec, weightShapes, outputLayer, flatten, unflatten, totalSize, clipToNorm, l2Norm,
  weightedContribution, sumVectors, finishWeightedMean, evalVector, finishEval,
  serverInit, serverStep, applyAggregate, shouldStop, StoppingRule, planUpdateEncoding, quantize, dequantize, squaredNormInt, validateContribution, planEvalEncoding, MAX_ROW_LOSS,
  encodeRow, encodedDim, featureNames, localMoments, standardizationFromMoments, standardizeInPlace,
  toDenseModel, denseForward, Strategy, type ModelSpecInput,
} from "../../../protocol/learning/index.ts";

const M61 = (1n << 61n) - 1n;
const base: ModelSpecInput = {
  inputDim: 4, classes: 3, architecture: { kind: "mlp", hidden: [{ units: 5, activation: "relu" }] },
  loss: "categorical-crossentropy", optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 8, seed: 7,
  strategy: { kind: "fedavg" },
};

describe("model spec", () => {
  it("parses a valid spec with defaults", () => {
    const s = parseModelSpec(base);
    expect(s.version).toBe(1);
    expect(s.metrics).toEqual(["accuracy"]);
    expect(s.strategy).toEqual({ kind: "fedavg", serverLearningRate: 1 });
    expect(outputLayer(s)).toEqual({ units: 3, activation: "softmax" });
    expect(weightShapes(s)).toEqual([[4, 5], [5], [5, 3], [3]]);
  });
  it("binary logistic regression: one sigmoid unit", () => {
    const s = parseModelSpec({ ...base, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" } });
    expect(outputLayer(s)).toEqual({ units: 1, activation: "sigmoid" });
    expect(weightShapes(s)).toEqual([[4, 1], [1]]);
  });
  it("rejects unknown keys (strict)", () => {
    expect(() => parseModelSpec({ ...base, extra: 1 })).toThrow();
    expect(() => parseModelSpec({ ...base, optimizer: { kind: "sgd", learningRate: 0.1, momentum: 0.9 } })).toThrow();
  });
  it("rejects a loss that does not match the class count", () => {
    expect(() => parseModelSpec({ ...base, loss: "binary-crossentropy" })).toThrow(/categorical-crossentropy/);
  });
  it("requires poly coefficients exactly for poly2", () => {
    expect(() => parseModelSpec({ ...base, architecture: { kind: "mlp", hidden: [{ units: 2, activation: "poly2" }] } })).toThrow(/poly/);
    expect(() => parseModelSpec({ ...base, architecture: { kind: "mlp", hidden: [{ units: 2, activation: "relu", poly: [0, 1, 0] }] } })).toThrow(/poly/);
    expect(parseModelSpec({ ...base, architecture: { kind: "mlp", hidden: [{ units: 2, activation: "poly2", poly: [0.5, 0.5, 0.1] }] } }).architecture.kind).toBe("mlp");
  });
  it("rejects bad hyper-parameters", () => {
    expect(() => parseModelSpec({ ...base, epochs: 0 })).toThrow();
    expect(() => parseModelSpec({ ...base, batchSize: 1.5 })).toThrow();
    expect(() => parseModelSpec({ ...base, clipNorm: -1 })).toThrow();
    expect(() => parseModelSpec({ ...base, strategy: { kind: "fedprox", mu: -0.1 } })).toThrow();
    expect(() => parseModelSpec({ ...base, strategy: { kind: "fedadam", eta: 0.1, beta1: 1 } })).toThrow();
  });
  it("checks preprocessing against inputDim and classes", () => {
    const pre = { numeric: ["a", "b"], categorical: [{ column: "c", levels: ["x", "y"] }], label: { column: "l", classes: ["p", "q", "r"] } };
    expect(parseModelSpec({ ...base, preprocessing: pre }).preprocessing?.standardize).toBe(true);
    expect(() => parseModelSpec({ ...base, inputDim: 5, preprocessing: pre })).toThrow(/encodes 4 features/);
    expect(() => parseModelSpec({ ...base, preprocessing: { ...pre, label: { column: "l", classes: ["p", "q"] } } })).toThrow(/classes/);
  });
});

describe("flatten / clip", () => {
  it("round-trips (property)", () => {
    fc.assert(fc.property(fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }), { minLength: 1, maxLength: 4 }), (shapes) => {
      const arrays = shapes.map((s, i) => Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, j) => i * 100 + j));
      const flat = flatten(arrays, shapes);
      expect(flat.length).toBe(totalSize(shapes));
      expect(unflatten(flat, shapes)).toEqual(arrays);
    }));
  });
  it("rejects mismatched lengths", () => {
    expect(() => flatten([new Float64Array(3)], [[2, 2]])).toThrow(RangeError);
    expect(() => unflatten(new Float64Array(5), [[2, 2]])).toThrow(RangeError);
    expect(() => flatten([], [[1]])).toThrow(RangeError);
  });
  it("clips to the norm and leaves short vectors alone", () => {
    const c = clipToNorm([3, 4], 1);
    expect(c.norm).toBe(5);
    expect(c.scaled).toBe(true);
    expect(l2Norm(c.clipped)).toBeCloseTo(1, 12);
    expect(Array.from(c.clipped)).toEqual([0.6000000000000001, 0.8]);
    expect(clipToNorm([0.3, 0.4], 1)).toMatchObject({ scaled: false, norm: 0.5 });
    expect(() => clipToNorm([1], 0)).toThrow(RangeError);
    expect(() => clipToNorm([NaN], 1)).toThrow(RangeError);
  });
});

describe("weighted aggregation", () => {
  it("Σ n_k·Δ_k / Σ n_k", () => {
    const a = weightedContribution([1, 2], 10);
    const b = weightedContribution([3, -2], 30);
    expect(Array.from(a)).toEqual([10, 20, 10]);
    const { meanDelta, totalSamples } = finishWeightedMean(sumVectors([a, b]));
    expect(totalSamples).toBe(40);
    expect(Array.from(meanDelta)).toEqual([2.5, -1]);
  });
  it("rejects bad counts", () => {
    expect(() => weightedContribution([1], 0)).toThrow(RangeError);
    expect(() => weightedContribution([1], 1.5)).toThrow(RangeError);
    expect(() => finishWeightedMean([1, 0])).toThrow(RangeError);
    expect(() => sumVectors([[1], [1, 2]])).toThrow(RangeError);
  });
  it("evaluation sums", () => {
    const s = sumVectors([evalVector({ lossSum: 2, correct: 8, count: 10 }), evalVector({ lossSum: 1, correct: 2, count: 5 })]);
    expect(finishEval(s)).toEqual({ loss: 0.2, accuracy: 10 / 15, count: 15 });
    expect(() => finishEval([0, 0, 0])).toThrow(RangeError);
  });
});

describe("server optimisers (Reddi et al. 2021, Alg. 2)", () => {
  const w0 = [1, 1];
  const d1 = [0.5, -0.2];
  const d2 = [0.1, 0.3];
  it("FedAvg adds the mean update (scaled by the server learning rate)", () => {
    const s = Strategy.parse({ kind: "fedavg" });
    const st = serverInit(s, 2);
    expect(Array.from(serverStep(s, st, w0, d1).weights)).toEqual([1.5, 0.8]);
    const s2 = Strategy.parse({ kind: "fedprox", mu: 0.1, serverLearningRate: 0.5 });
    expect(Array.from(serverStep(s2, serverInit(s2, 2), w0, d1).weights)).toEqual([1.25, 0.9]);
  });
  it("FedAdam matches hand-computed values over two rounds", () => {
    const s = Strategy.parse({ kind: "fedadam", eta: 0.1 });
    const r1 = serverStep(s, serverInit(s, 2), w0, d1);
    expect(r1.weights[0]).toBeCloseTo(1.0980201901209485, 12);
    expect(r1.weights[1]).toBeCloseTo(0.9048739483244113, 12);
    expect(r1.state.v![0]).toBeCloseTo(0.00250099, 15);
    const r2 = serverStep(s, r1.state, r1.weights, d2);
    expect(r2.weights[0]).toBeCloseTo(1.204291934766376, 12);
    expect(r2.weights[1]).toBeCloseTo(0.9372944553312945, 12);
    expect(r2.state.round).toBe(2);
  });
  it("FedYogi matches hand-computed values over two rounds", () => {
    const s = Strategy.parse({ kind: "fedyogi", eta: 0.1 });
    const r1 = serverStep(s, serverInit(s, 2), w0, d1);
    expect(r1.weights[0]).toBeCloseTo(1.0980199980004, 12);
    expect(r1.weights[1]).toBeCloseTo(0.9048750780274961, 12);
    const r2 = serverStep(s, r1.state, r1.weights, d2);
    expect(r2.weights[0]).toBeCloseTo(1.2037892287696306, 12);
    expect(r2.weights[1]).toBeCloseTo(0.9372468111909511, 12);
    expect(r2.state.v![1]).toBeCloseTo(0.001301, 15);
  });
  it("applyAggregate: decoded [Σ n·Δ ‖ Σ n] → next global weights", () => {
    const s = Strategy.parse({ kind: "fedavg" });
    const sum = sumVectors([weightedContribution([1, 2], 10), weightedContribution([3, -2], 30)]);
    const r = applyAggregate(s, serverInit(s, 2), [0, 0], sum);
    expect(Array.from(r.weights)).toEqual([2.5, -1]);
    expect(r.totalSamples).toBe(40);
    expect(r.state.round).toBe(1);
    expect(() => applyAggregate(s, serverInit(s, 2), [0, 0], [1, 1, 0])).toThrow(RangeError);
  });
  it("does not modify its inputs and rejects mismatches", () => {
    const s = Strategy.parse({ kind: "fedadam", eta: 0.1 });
    const st = serverInit(s, 2);
    const w = Float64Array.from(w0);
    serverStep(s, st, w, d1);
    expect(Array.from(w)).toEqual(w0);
    expect(Array.from(st.m!)).toEqual([0, 0]);
    expect(() => serverStep(s, st, w, [1])).toThrow(RangeError);
    expect(() => serverStep(s, st, w, [NaN, 1])).toThrow(RangeError);
    expect(() => serverStep(Strategy.parse({ kind: "fedavg" }), st, w, d1)).toThrow(RangeError);
    expect(() => serverInit(s, 0)).toThrow(RangeError);
  });
});

describe("stopping rules", () => {
  const h = (accs: number[]) => accs.map((a, i) => ({ round: i + 1, accuracy: a, loss: 1 - a }));
  it("target metric", () => {
    const rule = StoppingRule.parse({ maxRounds: 10, target: { metric: "accuracy", value: 0.9 } });
    expect(shouldStop(h([0.5, 0.8]), rule)).toEqual({ stop: false });
    expect(shouldStop(h([0.5, 0.91]), rule)).toEqual({ stop: true, reason: "target", bestRound: 2 });
    expect(shouldStop(h([0.5, 0.6]), StoppingRule.parse({ maxRounds: 10, target: { metric: "loss", value: 0.4 } }))).toMatchObject({ stop: true, reason: "target" });
  });
  it("no improvement for k rounds", () => {
    const rule = StoppingRule.parse({ maxRounds: 10, patience: 2, monitor: "accuracy" });
    expect(shouldStop(h([0.5, 0.7, 0.69]), rule)).toEqual({ stop: false });
    expect(shouldStop(h([0.5, 0.7, 0.69, 0.7]), rule)).toEqual({ stop: true, reason: "no-improvement", bestRound: 2 });
    const withDelta = StoppingRule.parse({ maxRounds: 10, patience: 2, monitor: "accuracy", minDelta: 0.05 });
    expect(shouldStop(h([0.5, 0.52, 0.54]), withDelta)).toMatchObject({ stop: true, reason: "no-improvement", bestRound: 1 });
  });
  it("max rounds, and never on an empty history", () => {
    const rule = StoppingRule.parse({ maxRounds: 3 });
    expect(shouldStop([], rule)).toEqual({ stop: false });
    expect(shouldStop(h([0.1, 0.2, 0.3]), rule)).toEqual({ stop: true, reason: "max-rounds", bestRound: 3 });
  });
});

describe("fixed-point bounds", () => {
  it("picks the largest fracBits that satisfies every bound", () => {
    const p = planUpdateEncoding({ p: M61, parties: 5, dim: 31, clipNorm: 10, maxSamples: 100 });
    expect(p.length).toBe(32);
    expect(p.bound).toBe(1000);
    // the no-wrap condition of the L2 check binds: B = 1000·2^f, rangeBits = ⌈log2(2B+1)⌉ = 11 + f,
    // (d+1)·2^(2·rangeBits) = 2^(5 + 22 + 2f) plus 2^L (L = 52 at f = 16) must stay below 2^61 − 1 → f = 16
    expect(p.fracBits).toBe(16);
    expect(p.intBound).toBe(1000 * 2 ** 16);
    expect(p.rangeBits).toBe(27);
    expect(p.l2Bound.toString(2).length).toBe(52);
    expect(2 ** p.rangeBits).toBeGreaterThanOrEqual(2 * p.intBound + 1);
  });
  it("without validation only the sum bound applies", () => {
    expect(planUpdateEncoding({ p: M61, parties: 5, dim: 1_000_000, clipNorm: 1, maxSamples: 1000, validated: false }).fracBits).toBe(24);
  });
  it("rejects parameters that overflow", () => {
    expect(() => planUpdateEncoding({ p: M61, parties: 5, dim: 10, clipNorm: 1, maxSamples: 1000, fracBits: 40 })).toThrow(/overflow|2\^53|wrap/);
    expect(() => planUpdateEncoding({ p: M61, parties: 5, dim: 1e7, clipNorm: 100, maxSamples: 1e5 })).toThrow(RangeError);
    expect(() => planUpdateEncoding({ p: M61, parties: 0, dim: 10, clipNorm: 1, maxSamples: 1 })).toThrow(/parties/);
    expect(() => planUpdateEncoding({ p: M61, parties: 2, dim: 10, clipNorm: 0, maxSamples: 1 })).toThrow(/clipNorm/);
  });
  it("clipped contributions always pass the L2 bound and decode within 2^-f (property)", () => {
    const plan = planUpdateEncoding({ p: M61, parties: 5, dim: 8, clipNorm: 2, maxSamples: 50 });
    fc.assert(fc.property(
      fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 8, maxLength: 8 }),
      fc.integer({ min: 1, max: 50 }),
      (raw, n) => {
        const c = weightedContribution(clipToNorm(raw, 2).clipped, n);
        const q = quantize(c, plan.fracBits, plan.bound);
        expect(squaredNormInt(q) <= plan.l2Bound).toBe(true);
        for (const x of q) expect(Math.abs(x)).toBeLessThanOrEqual(plan.intBound);
        const back = dequantize(q, plan.fracBits);
        for (let i = 0; i < c.length; i++) expect(Math.abs(back[i]! - c[i]!)).toBeLessThanOrEqual(2 ** -(plan.fracBits + 1));
      },
    ));
  });
  it("an unclipped update can exceed the L2 bound (what validation catches)", () => {
    const plan = planUpdateEncoding({ p: M61, parties: 5, dim: 2, clipNorm: 1, maxSamples: 10 });
    const q = quantize(weightedContribution([1, 1], 10), plan.fracBits, plan.bound);
    expect(squaredNormInt(q) > plan.l2Bound).toBe(true);
  });
  it("validateContribution: range and L2 predicates", () => {
    const plan = planUpdateEncoding({ p: M61, parties: 3, dim: 3, clipNorm: 1, maxSamples: 10 });
    const honest = quantize(weightedContribution(clipToNorm([5, -5, 5], 1).clipped, 10), plan.fracBits, plan.bound);
    expect(validateContribution(honest, plan)).toEqual({ ok: true });
    // every entry within range, but the norm is too large
    const wide = quantize(weightedContribution([1, 1, 1], 10), plan.fracBits, plan.bound);
    expect(validateContribution(wide, plan)).toEqual({ ok: false, reason: "l2-norm" });
    const big = Float64Array.from(honest); big[0] = plan.intBound + 1;
    expect(validateContribution(big, plan)).toEqual({ ok: false, reason: "range" });
    expect(validateContribution(honest.subarray(1), plan)).toEqual({ ok: false, reason: "length" });
  });
  it("evaluation vector plan: non-negative entries within maxSamples·MAX_ROW_LOSS", () => {
    const e = planEvalEncoding({ p: M61, parties: 5, maxSamples: 1000 });
    expect(e.fracBits).toBe(16);
    expect(MAX_ROW_LOSS).toBeCloseTo(16.118, 3);
    const q = quantize(evalVector({ lossSum: 1000 * MAX_ROW_LOSS, correct: 1000, count: 1000 }), e.fracBits, e.bound);
    for (const x of q) expect(x >= 0 && x < 2 ** e.rangeBits).toBe(true);
    expect(finishEval(dequantize(q, e.fracBits)).accuracy).toBe(1);
    expect(() => planEvalEncoding({ p: M61, parties: 5, maxSamples: 1e9, fracBits: 40 })).toThrow(RangeError);
    expect(() => planEvalEncoding({ p: M61, parties: 0, maxSamples: 10 })).toThrow(/parties/);
  });
  it("quantize clamps and rejects non-finite input", () => {
    expect(Array.from(quantize([5, -5, 0.25], 2, 1))).toEqual([4, -4, 1]);
    expect(() => quantize([Infinity], 2, 1)).toThrow(RangeError);
  });
});

describe("features", () => {
  const pre = { numeric: ["a", "b"], categorical: [{ column: "c", levels: ["x", "y", "z"] }], standardize: true };
  it("encodes numeric then one-hot; unknown → zeros, missing → NaN", () => {
    expect(encodedDim(pre)).toBe(5);
    expect(featureNames(pre)).toEqual(["a", "b", "c=x", "c=y", "c=z"]);
    expect(Array.from(encodeRow(pre, { a: "1.5", b: 2, c: " y" }))).toEqual([1.5, 2, 0, 1, 0]);
    const m = encodeRow(pre, { a: "?", b: "", c: "w" });
    expect(Number.isNaN(m[0])).toBe(true);
    expect(Array.from(m.subarray(2))).toEqual([0, 0, 0]);
  });
  it("federated standardisation equals the pooled one", () => {
    const rows = [[1, 10, 1, 0, 0], [3, 20, 0, 1, 0], [5, NaN, 0, 0, 1], [7, 40, 1, 0, 0]];
    const flat = (rs: number[][]) => Float64Array.from(rs.flat());
    const s1 = localMoments(flat(rows.slice(0, 1)), 1, 5, 2);
    const s2 = localMoments(flat(rows.slice(1)), 3, 5, 2);
    const st = standardizationFromMoments(sumVectors([s1, s2]), 5);
    expect(st.mean).toEqual([4, 70 / 3, 0, 0, 0]);
    expect(st.std[0]).toBeCloseTo(Math.sqrt(5), 12);
    expect(st.std.slice(2)).toEqual([1, 1, 1]);
    const x = flat(rows);
    standardizeInPlace(x, 4, 5, st);
    expect(x[0]).toBeCloseTo(-3 / Math.sqrt(5), 12);
    expect(x[2 * 5 + 1]).toBe(0); // missing → mean
    expect(x[2]).toBe(1); // one-hot untouched
  });
});

describe("dense export (pure)", () => {
  it("lays out [in][out] weights and evaluates a tiny MLP", () => {
    const spec = parseModelSpec({ ...base, inputDim: 2, classes: 2, loss: "binary-crossentropy", architecture: { kind: "mlp", hidden: [{ units: 2, activation: "poly2", poly: [1, 0, 1] }] } });
    // kernel0 [[1,2],[3,4]] bias0 [0, 1]; kernel1 [[1],[-1]] bias1 [0.5]
    const w = [1, 2, 3, 4, 0, 1, 1, -1, 0.5];
    const m = toDenseModel(spec, w, { mean: [1, 0], std: [2, 1] });
    expect(m.layers[0]).toEqual({ weights: [[1, 2], [3, 4]], bias: [0, 1], activation: "poly2", poly: [1, 0, 1] });
    expect(m.layers[1]!.activation).toBe("sigmoid");
    // x = [3, 1] → standardised [1, 1] → h = [4, 7] → poly: [17, 50] → z = 17 − 50 + 0.5 = −32.5
    expect(denseForward(m, [3, 1])[0]).toBeCloseTo(1 / (1 + Math.exp(32.5)), 20);
    expect(() => denseForward(m, [1])).toThrow(RangeError);
  });
  it("refuses tanh", () => {
    const spec = parseModelSpec({ ...base, architecture: { kind: "mlp", hidden: [{ units: 5, activation: "tanh" }] } });
    expect(() => toDenseModel(spec, new Float64Array(totalSize(weightShapes(spec))))).toThrow(/tanh/);
  });
});
