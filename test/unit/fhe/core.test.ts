import { describe, expect, it, beforeAll } from "vitest";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import { CkksContext } from "../../../client/fhe/context.ts";
import { paramsForDepth } from "../../../client/fhe/params.ts";
import { Querier } from "../../../client/fhe/querier.ts";
import { EvaluationKeys, PlanEvaluator } from "../../../client/fhe/evaluator.ts";
import { compilePlan, plainScores, type DenseModel } from "../../../client/fhe/model.ts";
import type { Seal } from "../../../client/fhe/seal.ts";

let seal: Seal;
beforeAll(async () => { seal = await loadSealNode(); });

describe("params", () => {
  it("sizes the chain by depth", () => {
    expect(paramsForDepth(1)).toEqual({ polyModulusDegree: 8192, coeffModulusBits: [60, 40, 60], scaleBits: 40, securityLevel: 128 });
    expect(paramsForDepth(2).polyModulusDegree).toBe(8192);
    expect(paramsForDepth(3)).toMatchObject({ polyModulusDegree: 8192, scaleBits: 33 });
    expect(paramsForDepth(6).polyModulusDegree).toBe(16384);
  });
});

describe("round trip", () => {
  const model: DenseModel = {
    format: "2pm-dense/v1", inputDim: 3, preprocessing: null,
    layers: [
      { weights: [[0.5, -1], [2, 0.25], [-0.75, 1]], bias: [0.1, -0.2], activation: "poly2", poly: [0.3, 0.5, 0.2] },
      { weights: [[1], [-2]], bias: [0.05], activation: "sigmoid" },
    ],
  };
  it("evaluates a poly2 MLP in batch mode within 1e-3", () => {
    const plan = compilePlan(model);
    const ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
    const q = Querier.create(ctx, { relin: true, galoisSteps: [] });
    const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
    const ev = new PlanEvaluator(ctx, plan);
    const rows = [[1, 2, 3], [-1, 0.5, 0], [0, 0, 0], [3, -2, 1]];
    const out = ev.evaluateBatch(q.encryptBatch(rows, 3), keys);
    const got = q.decrypt(out[0]!, rows.length);
    rows.forEach((r, i) => expect(Math.abs(got[i]! - plainScores(model, r)[0]!)).toBeLessThan(1e-3));
    ev.dispose(); keys.dispose(); q.dispose();
  });
  it("evaluates a linear model in single-sample mode", () => {
    const lr: DenseModel = { format: "2pm-dense/v1", inputDim: 5, preprocessing: null, layers: [{ weights: [[1], [-2], [0.5], [3], [-1]], bias: [0.25], activation: "sigmoid" }] };
    const plan = compilePlan(lr);
    const ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
    const ev = new PlanEvaluator(ctx, plan);
    const q = Querier.create(ctx, ev.needs("single"));
    const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
    const row = [0.1, 0.2, -0.3, 0.4, 2];
    const out = ev.evaluateSingle(q.encryptSingle(row), keys);
    const got = q.decrypt(out[0]!, ctx.slots);
    const want = plainScores(lr, row)[0]!;
    expect(Math.abs(got[0]! - want)).toBeLessThan(1e-4);
    expect(Math.abs(got[1234]! - want)).toBeLessThan(1e-4); // every slot holds the full score
    ev.dispose(); keys.dispose(); q.dispose();
  });
});

describe("zero weights", () => {
  it("a zero weight or an all-zero output does not make a transparent ciphertext", () => {
    const m: DenseModel = { format: "2pm-dense/v1", inputDim: 2, preprocessing: null, layers: [{ weights: [[0, 0], [1, 0]], bias: [0.5, -0.25], activation: "linear" }] };
    const plan = compilePlan(m);
    const ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
    const ev = new PlanEvaluator(ctx, plan);
    const q = Querier.create(ctx, ev.needs("single"));
    const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
    const out = ev.evaluateBatch(q.encryptBatch([[3, 2]], 2), keys);
    expect(q.decrypt(out[0]!, 1)[0]).toBeCloseTo(2.5, 4);
    expect(q.decrypt(out[1]!, 1)[0]).toBeCloseTo(-0.25, 4);
    const s = ev.evaluateSingle(q.encryptSingle([3, 2]), keys);
    expect(q.decrypt(s[1]!, 1)[0]).toBeCloseTo(-0.25, 4);
    ev.dispose(); keys.dispose(); q.dispose();
  });
});

describe("depth needing N = 16384", () => {
  it("a two-hidden-layer square/poly2 MLP (depth 5) runs at N = 16384 within 1e-3", () => {
    const m: DenseModel = {
      format: "2pm-dense/v1", inputDim: 2, preprocessing: { mean: [1, -1], std: [2, 0.5] },
      layers: [
        { weights: [[0.5, -0.25], [0.75, 0.5]], bias: [0.1, 0], activation: "square" },
        { weights: [[0.3, -0.2], [0.1, 0.4]], bias: [0, 0.05], activation: "poly2", poly: [0.2, 0.5, 0.1] },
        { weights: [[1, -1], [0.5, 2]], bias: [0, 0.1], activation: "softmax" },
      ],
    };
    const plan = compilePlan(m);
    expect(plan.depth).toBe(5);
    const params = paramsForDepth(plan.depth);
    expect(params.polyModulusDegree).toBe(16384);
    const ctx = CkksContext.get(seal, params);
    const ev = new PlanEvaluator(ctx, plan);
    const q = Querier.create(ctx, ev.needs("batch"));
    const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
    const rows = [[1, 2], [-2, 0.5], [3, -1]];
    const out = ev.evaluateBatch(q.encryptBatch(rows, 2), keys);
    for (let k = 0; k < 2; k++) {
      const got = q.decrypt(out[k]!, rows.length);
      rows.forEach((r, i) => expect(Math.abs(got[i]! - plainScores(m, r)[k]!)).toBeLessThan(1e-3));
    }
    ev.dispose(); keys.dispose(); q.dispose();
  });
});

describe("loader", () => {
  it("is memoised and reports WASM memory", async () => {
    expect(await loadSealNode()).toBe(seal);
    const { wasmMemoryBytes } = await import("../../../client/fhe/seal.ts");
    expect(wasmMemoryBytes()).toBeGreaterThan(0);
  });
});
