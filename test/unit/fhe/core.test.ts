import { describe, expect, it, beforeAll } from "vitest";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import { CkksContext } from "../../../client/fhe/context.ts";
import { paramsForDepth } from "../../../client/fhe/params.ts";
import { Querier } from "../../../client/fhe/querier.ts";
import { EvaluationKeys, PlanEvaluator } from "../../../client/fhe/evaluator.ts";
import { compilePlan, plainScores, type DenseModel } from "../../../client/fhe/model.ts";
import { FheSession, localTransport } from "../../../client/fhe/client.ts";
import { FheError } from "../../../client/fhe/errors.ts";
import { fastLinearParams } from "../../../client/fhe/params.ts";
import { buildPackage, publicInfo } from "../../../client/fhe/package.ts";
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

describe("two rows per slot (complex packing, a + J·b with J = X^(N/2))", () => {
  const lr: DenseModel = {
    format: "2pm-dense/v1", inputDim: 4, preprocessing: null,
    layers: [{ weights: [[1.5, -0.5], [-2, 0.25], [0.5, 1], [3, 0]], bias: [0.25, -1.5], activation: "softmax" }],
  };
  const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => [Math.sin(i), Math.cos(3 * i) * 2, (i % 17) / 4 - 2, i % 2 ? 0.5 : -1]);

  it("J is X^(N/2): J² = −1, and both halves of a packed batch decrypt to their rows", () => {
    const ctx = CkksContext.get(seal, paramsForDepth(1));
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const rows = rowsOf(2 * ctx.slots); // full: the J-parts hold rows N/2 … N − 1
    const cts = q.encryptBatch(rows, 4, "none", "complex");
    expect(cts).toHaveLength(4);
    for (let j = 0; j < 4; j++) {
      const got = q.decryptPacked(cts[j]!, rows.length, "complex");
      rows.forEach((r, i) => expect(Math.abs(got[i]! - r[j]!)).toBeLessThan(1e-6));
    }
    expect(() => q.encryptBatch(rowsOf(2 * ctx.slots + 1), 4, "none", "complex")).toThrow(/exceed/);
    q.dispose();
  });

  it("J is X^(N/2) in every RNS prime: a packed ciphertext survives key switching (rotation) at 2, 4 and 6 primes", () => {
    for (const params of [paramsForDepth(1), paramsForDepth(3), paramsForDepth(5)]) {
      const ctx = CkksContext.get(seal, params);
      const q = Querier.create(ctx, { relin: false, galoisSteps: [1] });
      const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
      const rows = rowsOf(2 * ctx.slots);
      const [ct] = q.encryptBatch(rows.map((r) => [r[0]!]), 1, "none", "complex");
      const x = ctx.loadCiphertext(ct!, (o) => o);
      const r = new seal.Ciphertext();
      // both halves rotate by one slot; the automorphism X → X^3 maps J to X^(3N/2) = −J
      ctx.evaluator.rotateVector(x, 1, keys.galois!, r);
      const got = q.decryptPacked(ctx.saveCiphertext(r, "none"), rows.length, "complex");
      for (const i of [0, 1, 77, ctx.slots - 2]) {
        expect(Math.abs(got[i]! - rows[i + 1]![0]!)).toBeLessThan(1e-3); // 2^33 scale at depth 3
        expect(Math.abs(got[ctx.slots + i]! + rows[ctx.slots + i + 1]![0]!)).toBeLessThan(1e-3);
      }
      x.delete(); r.delete(); keys.dispose(); q.dispose();
    }
  });

  for (const [name, params] of [["precise", paramsForDepth(1)], ["fast-linear", fastLinearParams()]] as const) {
    it(`${name}: the scores equal one row per slot and the plaintext (odd count, biases in both halves)`, () => {
      const plan = compilePlan(lr);
      const ctx = CkksContext.get(seal, params);
      const ev = new PlanEvaluator(ctx, plan);
      const q = Querier.create(ctx, ev.needs("batch"));
      const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
      const rows = rowsOf(ctx.slots + 7);
      const tol = name === "precise" ? 1e-5 : 1e-2;
      const outC = ev.evaluateBatch(q.encryptBatch(rows, 4, "none", "complex"), keys, "none", "complex");
      const outR = ev.evaluateBatch(q.encryptBatch(rows.slice(0, ctx.slots), 4, "none", "real"), keys, "none", "real");
      for (let k = 0; k < 2; k++) {
        const c = q.decryptPacked(outC[k]!, rows.length, "complex");
        const r = q.decryptPacked(outR[k]!, ctx.slots, "real");
        rows.forEach((x, i) => {
          expect(Math.abs(c[i]! - plainScores(lr, x)[k]!)).toBeLessThan(tol);
          if (i < ctx.slots) expect(Math.abs(c[i]! - r[i]!)).toBeLessThan(tol);
        });
      }
      ev.dispose(); keys.dispose(); q.dispose();
    });
  }

  it("encryption threads (EncryptPool) produce ciphertexts of the same rows; a session with threads scores like one without", async () => {
    const { EncryptPool } = await import("../../../client/fhe/encrypt-pool.ts");
    const pkg = await buildPackage(lr, { modelId: "m" });
    const ctx = CkksContext.get(seal, pkg.ckks);
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const pool = await EncryptPool.start(q, 2);
    try {
      const rows = rowsOf(ctx.slots + 9);
      const cts = await pool.encryptBatch(rows, 4, "none", "complex");
      expect(cts).toHaveLength(4);
      for (let j = 0; j < 4; j++) {
        const got = q.decryptPacked(cts[j]!, rows.length, "complex");
        rows.forEach((r, i) => expect(Math.abs(got[i]! - r[j]!)).toBeLessThan(1e-6));
      }
      await expect(pool.encryptBatch([[1, 2]], 4)).rejects.toThrow(/features/);
      // two batches at once share the queue: each gets its own columns back, in order
      const other = rowsOf(7).map((r) => r.map((v) => -3 * v));
      const [a, b] = await Promise.all([pool.encryptBatch(rows, 4, "none", "complex"), pool.encryptBatch(other, 4)]);
      for (let j = 0; j < 4; j++) {
        const ga = q.decryptPacked(a[j]!, rows.length, "complex");
        rows.forEach((r, i) => expect(Math.abs(ga[i]! - r[j]!)).toBeLessThan(1e-6));
        const gb = q.decrypt(b[j]!, other.length);
        other.forEach((r, i) => expect(Math.abs(gb[i]! - r[j]!)).toBeLessThan(1e-6));
      }
    } finally {
      await pool.close();
      q.dispose();
    }
    const s = await FheSession.open(seal, publicInfo(pkg), localTransport(ctx, compilePlan(pkg.model)), { single: false, threads: 2 });
    const rows = rowsOf(4 * 2 * ctx.slots + 5); // five requests: the next two are encrypted while one is evaluated
    const r = await s.infer(rows, "batch");
    rows.forEach((x, i) => plainScores(lr, x).forEach((v, k) => expect(Math.abs(r.scores[i]![k]! - v)).toBeLessThan(1e-5)));
    s.close();
  });

  it("FheSession packs two rows per slot by default for a model without squares", async () => {
    const pkg = await buildPackage(lr, { modelId: "m" });
    const ctx = CkksContext.get(seal, pkg.ckks);
    const s = await FheSession.open(seal, publicInfo(pkg), localTransport(ctx, compilePlan(pkg.model)), { single: false });
    expect(s.packing).toBe("complex");
    expect(s.querier.needs.galoisSteps).toEqual([]); // no square: no conjugation key
    const rows = rowsOf(2 * ctx.slots + 3); // two requests
    const r = await s.infer(rows, "batch");
    rows.forEach((x, i) => plainScores(lr, x).forEach((v, k) => expect(Math.abs(r.scores[i]![k]! - v)).toBeLessThan(1e-5)));
    s.close();
  });

  it("a square / poly2 MLP (two hidden layers) with two rows per slot equals one row per slot and the plaintext; without the conjugation key: bad-keys", async () => {
    const mlp: DenseModel = {
      format: "2pm-dense/v1", inputDim: 4, preprocessing: null,
      layers: [
        { weights: [[0.5, -1, 0.2], [1, 0.25, -0.5], [-0.75, 1, 0.1], [0.3, -0.2, 0.6]], bias: [0.1, -0.2, 0.05], activation: "square" },
        { weights: [[1, -0.5], [-1, 0.25], [0.5, 0.5]], bias: [0.2, -0.1], activation: "poly2", poly: [0.1, 0.4, 0.3] },
        { weights: [[0.7, -0.3], [0.2, 0.9]], bias: [0.05, -0.05], activation: "softmax" },
      ],
    };
    const plan = compilePlan(mlp);
    const ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
    const ev = new PlanEvaluator(ctx, plan);
    expect(ev.needs("batch", "complex")).toEqual({ relin: true, galoisSteps: [0] });
    const q = Querier.create(ctx, ev.needs("batch", "complex"));
    const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
    const rows = rowsOf(ctx.slots + 11).map((r) => r.map((v) => v / 2));
    const outC = ev.evaluateBatch(q.encryptBatch(rows, 4, "none", "complex"), keys, "none", "complex");
    const outR = ev.evaluateBatch(q.encryptBatch(rows.slice(0, 300), 4, "none", "real"), keys, "none", "real");
    let maxErr = 0;
    for (let k = 0; k < 2; k++) {
      const c = q.decryptPacked(outC[k]!, rows.length, "complex");
      const r = q.decryptPacked(outR[k]!, 300, "real");
      rows.forEach((x, i) => {
        maxErr = Math.max(maxErr, Math.abs(c[i]! - plainScores(mlp, x)[k]!));
        if (i < 300) expect(Math.abs(c[i]! - r[i]!)).toBeLessThan(1e-3);
      });
    }
    expect(maxErr).toBeLessThan(1e-3);
    const q2 = Querier.create(ctx, ev.needs("batch", "real"));
    const keys2 = EvaluationKeys.load(ctx, q2.evaluationKeys());
    const err = (() => { try { ev.evaluateBatch(q2.encryptBatch([[1, 2, 3, 4]], 4, "none", "complex"), keys2, "none", "complex"); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(FheError);
    expect((err as FheError).code).toBe("bad-keys");
    expect((err as FheError).message).toMatch(/conjugation/);
    ev.dispose(); keys.dispose(); q.dispose(); keys2.dispose(); q2.dispose();
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
