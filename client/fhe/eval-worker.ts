/**
 * An evaluation thread of eval-pool.ts (Node worker_threads): loads SEAL once, builds the
 * plan's evaluator, loads each public evaluation key set the first time its pool sends it (kept
 * by key id until the pool says to drop it), and evaluates its share of a batch's first layer
 * ({@link PlanEvaluator.evaluateFirstLayerPart}). Never sees a secret key: the pool sends public
 * keys and ciphertexts only. Answers `{ id, ok, part }` (buffers transferred) or
 * `{ id, ok: false, code, message }`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { CkksContext, type Packing } from "./context.ts";
import { FheError } from "./errors.ts";
import { EvaluationKeys, PlanEvaluator } from "./evaluator.ts";
import type { Plan } from "./model.ts";
import type { CkksParams } from "./params.ts";
import type { EvaluationKeyBytes } from "./querier.ts";
import { loadSealNode } from "./seal-node.ts";
import { answerJob } from "./thread-pool.ts";

export interface EvalWorkerData {
  params: CkksParams;
  plan: Plan;
}

export interface EvalJob {
  id: number;
  keyId: string;
  /** The key set, sent with the first job under `keyId` for this thread. */
  keys?: EvaluationKeyBytes;
  inputs: Uint8Array[];
  packing: Packing;
  from: number;
  to: number;
}

export type EvalMessage = EvalJob | { drop: string } | "close";

const port = parentPort;
if (!port) throw new Error("eval-worker.ts runs as a worker thread of eval-pool.ts");
const init = workerData as EvalWorkerData;
const ready = loadSealNode().then((seal) => {
  const ctx = CkksContext.get(seal, init.params);
  return { ctx, evaluator: new PlanEvaluator(ctx, init.plan) };
});
const keySets = new Map<string, EvaluationKeys>();

port.on("message", (msg: EvalMessage) => {
  if (msg === "close") {
    void ready
      .then(({ evaluator }) => {
        evaluator.dispose();
        for (const k of keySets.values()) k.dispose();
      })
      .finally(() => port.close());
    return;
  }
  if ("drop" in msg) {
    keySets.get(msg.drop)?.dispose();
    keySets.delete(msg.drop);
    return;
  }
  void answerJob(port, msg.id, async () => {
    const { ctx, evaluator } = await ready;
    let keys = keySets.get(msg.keyId);
    if (!keys) {
      if (!msg.keys) throw new FheError("bad-keys", "unknown key id");
      keys = EvaluationKeys.load(ctx, msg.keys);
      keySets.set(msg.keyId, keys);
    }
    return { part: evaluator.evaluateFirstLayerPart(msg.inputs, keys, msg.packing, msg.from, msg.to) };
  }, (r) => r.part.cts.map((c) => c.buffer as ArrayBuffer));
});
