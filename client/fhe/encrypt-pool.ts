/**
 * Parallel batch encryption for a querier in Node (worker_threads): the client's encode +
 * encrypt is the largest cost of a feature-major batch (docs/fhe.md "Measured"), and columns are
 * independent, so `threads` threads each encrypt every `threads`-th column. Each thread loads
 * SEAL and rebuilds the querier from the secret key posted at start (same process, over the
 * worker's startup data; the pool keeps no copy); the ciphertexts are the same as
 * {@link Querier.encryptBatch}'s. Node only: never imported by the Worker bundle or at module
 * top level of shared code (client.ts imports it lazily). The thread module is
 * `encrypt-worker.ts` beside this file (run through tsx) or `encrypt-worker.js` beside a built
 * copy; the bundled client package (scripts/build-client.ts) does not ship one yet, so there a
 * pool fails on its first call with the thread's error.
 *
 *   const pool = await EncryptPool.start(querier, 2);
 *   const cts = await pool.encryptBatch(rows, inputDim, "none", "complex");
 *   await pool.close();
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Compression, Packing } from "./context.ts";
import { FheError } from "./errors.ts";
import { batchColumns, type Querier } from "./querier.ts";
import type { EncryptAnswer, EncryptJob, EncryptWorkerData } from "./encrypt-worker.ts";

export class EncryptPool {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (c: Uint8Array[]) => void; reject: (e: Error) => void }>();
  /** Set when a thread failed or exited: every later call is refused with it (no job waits on a dead thread). */
  private failure: Error | undefined;

  private constructor(
    private readonly querier: Querier,
    private readonly workers: Worker[],
  ) {
    for (const w of workers) {
      w.on("message", (a: EncryptAnswer) => {
        const p = this.pending.get(a.id);
        if (!p) return;
        this.pending.delete(a.id);
        if (a.ok) p.resolve(a.cts);
        else p.reject(a.code === "internal" ? new Error(`encryption thread: ${a.message}`) : new FheError(a.code as FheError["code"], a.message));
      });
      w.on("error", (e) => this.failAll(e));
      w.on("exit", (code) => this.failAll(new Error(`encryption thread exited (code ${code})`)));
    }
  }

  /**
   * Starts `threads` (≥ 1) encryption threads for `querier`'s key and parameters (each loads SEAL:
   * tens of ms, once). Throws RangeError for a bad thread count.
   */
  static async start(querier: Querier, threads: number): Promise<EncryptPool> {
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new RangeError(`threads must be an integer in [1, 64], got ${threads}`);
    // Sources run under tsx (which may add a ?query to the URL); the built package ships dist/encrypt-worker.js.
    const here = import.meta.url, ts = new URL(here).pathname.endsWith(".ts");
    const url = new URL(ts ? "./encrypt-worker.ts" : "./encrypt-worker.js", here);
    const execArgv = ts ? ["--import", pathToFileURL(createRequire(here).resolve("tsx")).href] : [];
    const workers = Array.from({ length: threads }, () => {
      const data: EncryptWorkerData = { params: querier.ctx.params, secretKey: querier.secretKeyForThreads() };
      try {
        return new Worker(url, { workerData: data, execArgv }); // workerData is cloned here
      } finally {
        data.secretKey.fill(0);
      }
    });
    return new EncryptPool(querier, workers);
  }

  get threads(): number {
    return this.workers.length;
  }

  private failAll(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /**
   * {@link Querier.encryptBatch} with the columns spread over the threads (column j on thread
   * j mod threads); the ciphertexts in column order. Throws FheError("shape-mismatch" | "oversized"),
   * or the thread's error once a thread has failed or exited (then or before).
   */
  async encryptBatch(rows: ArrayLike<number>[], inputDim: number, compression: Compression = "none", packing: Packing = "real"): Promise<Uint8Array[]> {
    if (this.failure) throw this.failure;
    const { real, imag } = batchColumns(rows, inputDim, this.querier.ctx.slots, packing);
    const t = this.workers.length;
    const parts = await Promise.all(
      this.workers.map((w, k) => {
        const idx = real.map((_, j) => j).filter((j) => j % t === k);
        if (idx.length === 0) return Promise.resolve<Uint8Array[]>([]);
        const id = this.next++;
        const job: EncryptJob = { id, real: idx.map((j) => real[j]!), imag: imag && idx.map((j) => imag[j]!), compression };
        return new Promise<Uint8Array[]>((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
          w.postMessage(job, [...job.real, ...(job.imag ?? [])].map((v) => v.buffer as ArrayBuffer));
        });
      }),
    );
    return real.map((_, j) => parts[j % t]![Math.floor(j / t)]!);
  }

  /** Stops the threads (each deletes its copy of the secret key). */
  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once("exit", () => resolve());
            w.postMessage("close");
            setTimeout(() => void w.terminate().then(() => resolve()), 2000).unref();
          }),
      ),
    );
  }
}
