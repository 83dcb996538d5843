import { beforeAll, describe, expect, it } from "vitest";
import type { Worker } from "node:worker_threads";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import { CkksContext } from "../../../client/fhe/context.ts";
import { paramsForDepth } from "../../../client/fhe/params.ts";
import { Querier } from "../../../client/fhe/querier.ts";
import { compilePlan, type DenseModel } from "../../../client/fhe/model.ts";
import type { Seal } from "../../../client/fhe/seal.ts";

// client/fhe/thread-pool.ts through both pools: a thread that dies fails what waits on it and refuses later calls.
const mlp: DenseModel = {
  format: "2pm-dense/v1", inputDim: 4, preprocessing: null,
  layers: [
    { weights: [[0.5, -1], [1, 0.25], [-0.75, 1], [0.3, -0.2]], bias: [0.1, -0.2], activation: "square" },
    { weights: [[0.7, -0.3], [0.2, 0.9]], bias: [0.05, -0.05], activation: "softmax" },
  ],
};
const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => [Math.sin(i), Math.cos(i), i % 3, -1]);
/** The pool's threads (private): the test plays a thread crash. */
const threadsOf = (pool: object): Worker[] => (pool as { workers: Worker[] }).workers;

let seal: Seal;
beforeAll(async () => { seal = await loadSealNode(); });

describe("FHE thread pools when a thread dies (thread-pool.ts)", () => {
  it("EncryptPool: the call on the thread and the calls queued behind it fail with the exit, and every later call is refused", async () => {
    const { EncryptPool } = await import("../../../client/fhe/encrypt-pool.ts");
    const ctx = CkksContext.get(seal, paramsForDepth(compilePlan(mlp).depth));
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const pool = await EncryptPool.start(q, 1);
    try {
      expect(pool.threads).toBe(1);
      expect(await pool.encryptBatch(rowsOf(5), 4)).toHaveLength(4); // working before the crash
      const onThread = pool.encryptBatch(rowsOf(5).map((r) => r.slice(0, 1)), 1); // one column: one group, on the thread
      const queued = pool.encryptBatch(rowsOf(5), 4); // waits for the thread
      threadsOf(pool)[0]!.emit("exit", 1); // the thread's exit, as Node reports it (deterministic: before any answer)
      await expect(onThread).rejects.toThrow("encryption thread exited (code 1)");
      await expect(queued).rejects.toThrow("encryption thread exited (code 1)");
      await expect(pool.encryptBatch(rowsOf(2), 4)).rejects.toThrow("encryption thread exited (code 1)");
    } finally {
      await pool.close();
      q.dispose();
    }
  });

  it("EvalPool: a call in flight fails with the exit and later calls are refused with the same error", async () => {
    const { EvalPool } = await import("../../../client/fhe/eval-pool.ts");
    const { EvaluationKeys, PlanEvaluator } = await import("../../../client/fhe/evaluator.ts");
    const plan = compilePlan(mlp);
    const ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
    const q = Querier.create(ctx, { relin: true, galoisSteps: [] });
    const keyBytes = q.evaluationKeys();
    const keys = EvaluationKeys.load(ctx, keyBytes);
    const ev = new PlanEvaluator(ctx, plan);
    const pool = await EvalPool.start(ctx.params, plan, 2);
    try {
      const cts = q.encryptBatch(rowsOf(3), 4);
      const call = pool.evaluateBatch(ev, keys, keyBytes, "k", cts);
      threadsOf(pool)[1]!.emit("exit", 1); // the thread's exit, as Node reports it (deterministic: before its answer)
      const first = await call.then(() => undefined, (e: Error) => e);
      expect(first?.message).toBe("evaluation thread exited (code 1)");
      await expect(pool.evaluateBatch(ev, keys, keyBytes, "k", cts)).rejects.toBe(first);
    } finally {
      await pool.close();
      ev.dispose(); keys.dispose(); q.dispose();
    }
  });
});
