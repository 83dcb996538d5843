/**
 * Shared memory-flatness probe (fast suite: 60 requests; slow suite: 1000). Cycles through LR
 * batch (4096 rows), LR single-sample and MLP batch requests on the in-process evaluator; the
 * ciphertexts are encrypted once and re-sent, so every request loads, evaluates and
 * serialises fresh SEAL objects.
 */
import { CkksContext } from "../../../client/fhe/context.ts";
import { EvaluationKeys, PlanEvaluator } from "../../../client/fhe/evaluator.ts";
import { compilePlan, type DenseModel } from "../../../client/fhe/model.ts";
import { paramsForDepth } from "../../../client/fhe/params.ts";
import { Querier } from "../../../client/fhe/querier.ts";
import { wasmMemoryBytes } from "../../../client/fhe/seal.ts";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import { seededRng } from "../../../protocol/rng.ts";

function randomModel(seed: string, dims: number[], hiddenAct: "square" | "poly2"): DenseModel {
  const b = seededRng(seed).bytes(4 * 100000);
  let i = 0;
  const r = () => ((b[i++ % b.length]! / 255) - 0.5) * 0.5;
  const layers = dims.slice(1).map((out, li) => ({
    weights: Array.from({ length: dims[li]! }, () => Array.from({ length: out }, r)),
    bias: Array.from({ length: out }, r),
    activation: li === dims.length - 2 ? ("linear" as const) : hiddenAct,
    ...(hiddenAct === "poly2" && li < dims.length - 2 ? { poly: [0.1, 0.5, 0.25] } : {}),
  }));
  return { format: "2pm-dense/v1", inputDim: dims[0]!, preprocessing: null, layers };
}

export interface MemoryReport {
  requests: number;
  wasmStartBytes: number;
  wasmEndBytes: number;
  wasmGrowthBytes: number;
  heapStartBytes: number;
  heapEndBytes: number;
  heapGrowthBytes: number;
  msPerRequest: number;
}

export async function measureMemory(requests: number): Promise<MemoryReport> {
  const seal = await loadSealNode();
  const lr = compilePlan(randomModel("mem-lr", [30, 1], "square"));
  const mlp = compilePlan(randomModel("mem-mlp", [16, 8, 4], "poly2"));
  const lrCtx = CkksContext.get(seal, paramsForDepth(lr.depth));
  const mlpCtx = CkksContext.get(seal, paramsForDepth(mlp.depth));
  const lrEv = new PlanEvaluator(lrCtx, lr);
  const mlpEv = new PlanEvaluator(mlpCtx, mlp);
  const q1 = Querier.create(lrCtx, { relin: false, galoisSteps: lrEv.needs("single").galoisSteps });
  const q2 = Querier.create(mlpCtx, mlpEv.needs("batch"));
  const k1 = EvaluationKeys.load(lrCtx, q1.evaluationKeys());
  const k2 = EvaluationKeys.load(mlpCtx, q2.evaluationKeys());
  const rows = Array.from({ length: lrCtx.slots }, (_, i) => Array.from({ length: 30 }, (_, j) => Math.sin(i + j)));
  const lrBatch = q1.encryptBatch(rows, 30);
  const lrSingle = q1.encryptSingle(rows[0]!);
  const mlpBatch = q2.encryptBatch(rows.slice(0, 256).map((r) => r.slice(0, 16)), 16);
  const step = (i: number) => {
    const out = i % 3 === 0 ? lrEv.evaluateBatch(lrBatch, k1) : i % 3 === 1 ? lrEv.evaluateSingle(lrSingle, k1) : mlpEv.evaluateBatch(mlpBatch, k2);
    if (i % 3 === 0 && i % 10 === 0) q1.decrypt(out[0]!, 1); // keep decryption in the loop too
    if (i % 3 === 2 && i % 10 === 0) q2.decrypt(out[0]!, 1);
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  const warm = Math.min(30, Math.floor(requests / 4));
  for (let i = 0; i < warm; i++) step(i);
  gc?.();
  const wasmStart = wasmMemoryBytes();
  const heapStart = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = warm; i < warm + requests; i++) step(i);
  const ms = (performance.now() - t0) / requests;
  gc?.();
  const r: MemoryReport = {
    requests,
    wasmStartBytes: wasmStart,
    wasmEndBytes: wasmMemoryBytes(),
    wasmGrowthBytes: wasmMemoryBytes() - wasmStart,
    heapStartBytes: heapStart,
    heapEndBytes: process.memoryUsage().heapUsed,
    heapGrowthBytes: process.memoryUsage().heapUsed - heapStart,
    msPerRequest: ms,
  };
  for (const o of [lrEv, mlpEv, k1, k2, q1, q2]) o.dispose();
  return r;
}
