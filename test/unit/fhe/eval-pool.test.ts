import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import { CkksContext } from "../../../client/fhe/context.ts";
import { paramsForDepth } from "../../../client/fhe/params.ts";
import { Querier } from "../../../client/fhe/querier.ts";
import { EvaluationKeys, PlanEvaluator } from "../../../client/fhe/evaluator.ts";
import { compilePlan, plainScores, type DenseModel } from "../../../client/fhe/model.ts";
import { FheSession, localTransport } from "../../../client/fhe/client.ts";
import { FheError } from "../../../client/fhe/errors.ts";
import { buildPackage, publicInfo } from "../../../client/fhe/package.ts";
import type { EvalPool } from "../../../client/fhe/eval-pool.ts";
import type { Seal } from "../../../client/fhe/seal.ts";

// A square MLP with a second hidden layer, so the calling thread's later layers include a split square.
const mlp: DenseModel = {
  format: "2pm-dense/v1", inputDim: 4, preprocessing: null,
  layers: [
    { weights: [[0.5, -1, 0.2, 0.3, -0.1], [1, 0.25, -0.5, 0.1, 0.2], [-0.75, 1, 0.1, -0.2, 0.4], [0.3, -0.2, 0.6, 0.5, -0.3]], bias: [0.1, -0.2, 0.05, 0, 0.3], activation: "square" },
    { weights: [[1, -0.5], [-1, 0.25], [0.5, 0.5], [0.2, -0.1], [-0.3, 0.6]], bias: [0.2, -0.1], activation: "square" },
    { weights: [[0.7, -0.3, 0.1], [0.2, 0.9, -0.4]], bias: [0.05, -0.05, 0], activation: "softmax" },
  ],
};
const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => [Math.sin(i) / 2, Math.cos(3 * i), (i % 17) / 16 - 0.5, i % 2 ? 0.25 : -0.5]);

let seal: Seal;
let ctx: CkksContext;
let pool: EvalPool;
const plan = compilePlan(mlp);
beforeAll(async () => {
  seal = await loadSealNode();
  ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
  const { EvalPool } = await import("../../../client/fhe/eval-pool.ts");
  pool = await EvalPool.start(ctx.params, plan, 2);
});
afterAll(async () => {
  await pool?.close();
});

describe("EvalPool: the first layer shared by evaluation threads", () => {
  it("returns exactly evaluateBatch's ciphertexts, one and two rows per slot, and they decrypt to the plaintext MLP", async () => {
    const ev = new PlanEvaluator(ctx, plan);
    for (const packing of ["real", "complex"] as const) {
      const q = Querier.create(ctx, ev.needs("batch", packing));
      const bytes = q.evaluationKeys();
      const keys = EvaluationKeys.load(ctx, bytes);
      const rows = rowsOf(packing === "complex" ? ctx.slots + 7 : 300);
      const cts = q.encryptBatch(rows, 4, "none", packing);
      const want = ev.evaluateBatch(cts, keys, "none", packing);
      const got = await pool.evaluateBatch(ev, keys, bytes, `k-${packing}`, cts, "none", packing);
      expect(got).toHaveLength(3);
      got.forEach((c, k) => expect(Buffer.from(c).equals(Buffer.from(want[k]!))).toBe(true));
      const cols = got.map((c) => q.decryptPacked(c, rows.length, packing));
      rows.forEach((x, i) => plainScores(mlp, x).forEach((v, k) => expect(Math.abs(cols[k]![i]! - v)).toBeLessThan(1e-3)));
      keys.dispose();
      q.dispose();
    }
    ev.dispose();
  });

  it("a thread's refusal reaches the caller with its code (missing conjugation key: bad-keys), and the pool keeps working", async () => {
    const ev = new PlanEvaluator(ctx, plan);
    const q = Querier.create(ctx, ev.needs("batch", "real")); // no Galois step 0
    const bytes = q.evaluationKeys();
    const keys = EvaluationKeys.load(ctx, bytes);
    const cts = q.encryptBatch(rowsOf(10), 4, "none", "complex");
    const err = await pool.evaluateBatch(ev, keys, bytes, "k-no-conj", cts, "none", "complex").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FheError);
    expect((err as FheError).code).toBe("bad-keys");
    expect((err as FheError).message).toMatch(/conjugation/);
    const ok = await pool.evaluateBatch(ev, keys, bytes, "k-no-conj", q.encryptBatch(rowsOf(10), 4), "none", "real");
    expect(ok).toHaveLength(3);
    const bad = await pool.evaluateBatch(ev, keys, bytes, "k-no-conj", cts.slice(1), "none", "real").catch((e: unknown) => e);
    expect((bad as FheError).code).toBe("shape-mismatch");
    keys.dispose(); q.dispose(); ev.dispose();
  });

  it("the calling thread refuses parts that do not cover the first layer, or a ciphertext at the wrong level", () => {
    const ev = new PlanEvaluator(ctx, plan);
    const q = Querier.create(ctx, ev.needs("batch", "real"));
    const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
    const cts = q.encryptBatch(rowsOf(10), 4);
    expect(() => ev.evaluateFirstLayerPart(cts, keys, "real", 3, 3)).toThrow(RangeError);
    expect(() => ev.evaluateFirstLayerPart(cts, keys, "real", 0, 6)).toThrow(RangeError);
    const a = ev.evaluateFirstLayerPart(cts, keys, "real", 0, 2);
    const b = ev.evaluateFirstLayerPart(cts, keys, "real", 2, 5);
    expect(ev.evaluateBatchFromFirstLayer([a, b], keys).length).toBe(3);
    const missing = (() => { try { ev.evaluateBatchFromFirstLayer([a], keys); } catch (e) { return e; } })();
    expect((missing as FheError).code).toBe("shape-mismatch");
    // a fresh input (level 0) where the first layer's outputs (level 2, after the square) belong
    const wrongLevel = (() => { try { ev.evaluateBatchFromFirstLayer([a, { cts: [...b.cts.slice(0, 2), cts[0]!], complex: false }], keys); } catch (e) { return e; } })();
    expect((wrongLevel as FheError).code).toBe("bad-ciphertext");
    keys.dispose(); q.dispose(); ev.dispose();
  });

  it("localTransport with evalThreads scores a session's batch like the plaintext MLP; close stops the threads", async () => {
    const pkg = await buildPackage(mlp, { modelId: "m" });
    const t = localTransport(CkksContext.get(seal, pkg.ckks), compilePlan(pkg.model), { evalThreads: 2 });
    const s = await FheSession.open(seal, publicInfo(pkg), t, { single: false, packing: "complex" });
    try {
      const rows = rowsOf(40);
      const r = await s.infer(rows, "batch");
      rows.forEach((x, i) => plainScores(mlp, x).forEach((v, k) => expect(Math.abs(r.scores[i]![k]! - v)).toBeLessThan(1e-3)));
    } finally {
      s.close();
      await t.close();
    }
  });
});
