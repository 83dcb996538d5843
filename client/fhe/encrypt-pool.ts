/**
 * Parallel batch encryption for a querier in Node (worker_threads): the client's encode +
 * encrypt is the largest cost of a feature-major batch (docs/fhe.md "Measured"), and columns are
 * independent, so `threads` threads encrypt groups of columns from one queue. Each thread loads
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
import type { Worker } from "node:worker_threads";
import { startThread } from "../threads.ts";
import type { Compression, Packing } from "./context.ts";
import { FheError } from "./errors.ts";
import { batchColumns, type Querier } from "./querier.ts";
import type { EncryptAnswer, EncryptJob, EncryptWorkerData } from "./encrypt-worker.ts";

/** One group of columns waiting for, or on, a thread. */
interface Task {
  job: Omit<EncryptJob, "id">;
  resolve: (c: Uint8Array[]) => void;
  reject: (e: Error) => void;
}

export class EncryptPool {
  private next = 0;
  /** Tasks on a thread, by job id, with the thread they run on. */
  private readonly pending = new Map<number, Task & { worker: Worker }>();
  /** Tasks waiting for a free thread (first in, first out, across calls: a batch queued behind another starts as threads free up). */
  private readonly queue: Task[] = [];
  private readonly idle: Worker[];
  /** Set when a thread failed or exited: every later call is refused with it (no job waits on a dead thread). */
  private failure: Error | undefined;

  private constructor(
    private readonly querier: Querier,
    private readonly workers: Worker[],
  ) {
    this.idle = [...workers];
    for (const w of workers) {
      w.on("message", (a: EncryptAnswer) => {
        const p = this.pending.get(a.id);
        if (!p) return;
        this.pending.delete(a.id);
        this.idle.push(p.worker);
        if (a.ok) p.resolve(a.cts);
        else p.reject(a.code === "internal" ? new Error(`encryption thread: ${a.message}`) : new FheError(a.code as FheError["code"], a.message));
        this.dispatch();
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
    const workers = Array.from({ length: threads }, () => {
      const data: EncryptWorkerData = { params: querier.ctx.params, secretKey: querier.secretKeyForThreads() };
      try {
        return startThread(import.meta.url, "encrypt-worker", { workerData: data }); // workerData is cloned here
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
    for (const t of this.queue.splice(0)) t.reject(e);
  }

  /** Hands queued tasks to idle threads. */
  private dispatch(): void {
    while (this.idle.length && this.queue.length && !this.failure) {
      const w = this.idle.shift()!;
      const t = this.queue.shift()!;
      const id = this.next++;
      this.pending.set(id, { ...t, worker: w });
      const job: EncryptJob = { id, ...t.job };
      w.postMessage(job, [...job.real, ...(job.imag ?? [])].map((v) => v.buffer as ArrayBuffer));
    }
  }

  /**
   * {@link Querier.encryptBatch} with the columns spread over the threads: in groups of
   * ⌈columns / (3·threads)⌉ (rounded up to even with two rows per slot), each taken by the next free thread (a thread slowed by other work
   * on the cores takes fewer; a batch queued behind another starts as threads free up, so a
   * caller can keep the threads busy by asking for the next batch early); the ciphertexts in
   * column order. Throws FheError("shape-mismatch" | "oversized"), or the thread's error once a
   * thread has failed or exited (then or before).
   */
  async encryptBatch(rows: ArrayLike<number>[], inputDim: number, compression: Compression = "none", packing: Packing = "real"): Promise<Uint8Array[]> {
    if (this.failure) throw this.failure;
    const { real, imag } = batchColumns(rows, inputDim, this.querier.ctx.slots, packing);
    // an even group size under complex packing: the slot encoder NTTs its polynomials two at a time
    const raw = Math.max(1, Math.ceil(real.length / (3 * this.workers.length)));
    const size = imag && raw % 2 === 1 && raw < real.length ? raw + 1 : raw;
    const groups: Promise<Uint8Array[]>[] = [];
    for (let j = 0; j < real.length; j += size) {
      groups.push(
        new Promise<Uint8Array[]>((resolve, reject) => {
          this.queue.push({ job: { real: real.slice(j, j + size), imag: imag?.slice(j, j + size), compression }, resolve, reject });
        }),
      );
    }
    this.dispatch();
    return (await Promise.all(groups)).flat();
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
