/**
 * Parallel batch evaluation for an evaluator in Node (worker_threads): a feature-major batch's
 * first layer — for an MLP, inputs × hidden plaintext-constant products at the most primes, most
 * of the evaluator's time (docs/fhe.md) — is cut by its outputs into one range per thread; each
 * thread evaluates its range through the first layer's rescale, bias and square
 * ({@link PlanEvaluator.evaluateFirstLayerPart}) and the calling thread finishes the later layers
 * ({@link PlanEvaluator.evaluateBatchFromFirstLayer}). The result is bit for bit what
 * `evaluateBatch` returns (the same operations on the same ciphertexts). Threads get the public
 * evaluation keys (each set once, by key id) and the ciphertexts, never a secret key. Node only,
 * like encrypt-pool.ts: imported lazily by client.ts's `localTransport` (`evalThreads`), never by
 * the Worker bundle; the thread module is `eval-worker.ts` beside this file (run through tsx) or
 * `eval-worker.js` beside a built copy.
 *
 *   const pool = await EvalPool.start(ctx.params, plan, 2);
 *   const out = await pool.evaluateBatch(evaluator, keys, keyBytes, keyId, cts, "none", "complex");
 *   await pool.close();
 */
import type { Worker } from "node:worker_threads";
import { startThread } from "../threads.ts";
import type { Compression, Packing } from "./context.ts";
import { FheError } from "./errors.ts";
import type { EvalJob, EvalMessage, EvalWorkerData } from "./eval-worker.ts";
import { FheThreadPool } from "./thread-pool.ts";
import type { EvaluationKeys, FirstLayerPart, PlanEvaluator } from "./evaluator.ts";
import type { Plan } from "./model.ts";
import type { CkksParams } from "./params.ts";
import type { EvaluationKeyBytes } from "./querier.ts";

export class EvalPool extends FheThreadPool<{ part: FirstLayerPart }, { resolve: (p: FirstLayerPart) => void; reject: (e: Error) => void }> {
  /** Key ids each thread holds. */
  private readonly loaded: Set<string>[];

  private constructor(
    private readonly plan: Plan,
    workers: Worker[],
  ) {
    super(workers, "evaluation");
    this.loaded = workers.map(() => new Set());
  }

  protected resolve(p: { resolve: (p: FirstLayerPart) => void }, a: { part: FirstLayerPart }): void {
    p.resolve(a.part);
  }

  /**
   * Starts `threads` (2 … 64, at most the first layer's output count) evaluation threads for
   * `plan` under `params` (each loads SEAL: tens of ms, once). Throws RangeError for a bad count.
   */
  static async start(params: CkksParams, plan: Plan, threads: number): Promise<EvalPool> {
    const outs = plan.layers[0]!.bias.length;
    if (!Number.isInteger(threads) || threads < 2 || threads > Math.min(64, outs)) throw new RangeError(`evaluation threads must be an integer in [2, ${Math.min(64, outs)}], got ${threads}`);
    const data: EvalWorkerData = { params, plan };
    return new EvalPool(plan, Array.from({ length: threads }, () => startThread(import.meta.url, "eval-worker", { workerData: data })));
  }

  /**
   * {@link PlanEvaluator.evaluateBatch} of `evaluator` (built for this pool's plan and
   * parameters) with the first layer shared by the threads. `keys` is `keyBytes` loaded on this
   * thread (the later layers use it); the threads load `keyBytes` once per `keyId`. Throws what
   * evaluateBatch throws (from a thread: the same FheError code and message), or the thread's
   * error once a thread has failed or exited.
   */
  async evaluateBatch(evaluator: PlanEvaluator, keys: EvaluationKeys, keyBytes: EvaluationKeyBytes, keyId: string, inputs: Uint8Array[], compression: Compression = "none", packing: Packing = "real"): Promise<Uint8Array[]> {
    if (this.failure) throw this.failure;
    if (evaluator.plan !== this.plan) throw new FheError("bad-model", "the evaluator is not for this pool's plan");
    if (inputs.length !== this.plan.inputDim) throw new FheError("shape-mismatch", `expected ${this.plan.inputDim} ciphertexts (one per feature), got ${inputs.length}`);
    const outs = this.plan.layers[0]!.bias.length;
    const n = this.workers.length;
    // the inputs (tens of MiB for an MLP batch) copied once into shared memory that every thread
    // reads, instead of one structured-clone copy per thread
    const shared = new Uint8Array(new SharedArrayBuffer(inputs.reduce((s, b) => s + b.length, 0)));
    let at = 0;
    const views = inputs.map((b) => {
      shared.set(b, at);
      at += b.length;
      return shared.subarray(at - b.length, at);
    });
    const parts = await Promise.all(
      this.workers.map((w, t) => {
        const from = Math.floor((t * outs) / n);
        const to = Math.floor(((t + 1) * outs) / n);
        const first = !this.loaded[t]!.has(keyId);
        const job: EvalJob = { id: this.next++, keyId, keys: first ? keyBytes : undefined, inputs: views, packing, from, to };
        if (first) this.loaded[t]!.add(keyId);
        return new Promise<FirstLayerPart>((resolve, reject) => {
          // a key set the thread refused is sent again with the next job
          this.pending.set(job.id, { resolve, reject: (e) => (first && this.loaded[t]!.delete(keyId), reject(e)) });
          w.postMessage(job satisfies EvalMessage); // the inputs' shared memory is not copied
        });
      }),
    );
    return evaluator.evaluateBatchFromFirstLayer(parts, keys, compression, packing);
  }

  /** Makes every thread forget the key set `keyId`. */
  dropKeys(keyId: string): void {
    this.workers.forEach((w, t) => {
      if (this.loaded[t]!.delete(keyId)) w.postMessage({ drop: keyId } satisfies EvalMessage);
    });
  }
}
