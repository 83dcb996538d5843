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
import { batchColumns, type Querier } from "./querier.ts";
import type { EncryptJob, EncryptWorkerData } from "./encrypt-worker.ts";
import { FheThreadPool } from "./thread-pool.ts";

/** One group of columns waiting for, or on, a thread. */
interface Task {
  job: Omit<EncryptJob, "id">;
  resolve: (c: Uint8Array[]) => void;
  reject: (e: Error) => void;
}

export class EncryptPool extends FheThreadPool<{ cts: Uint8Array[] }, Task & { worker: Worker }> {
  /** Tasks waiting for a free thread (first in, first out, across calls: a batch queued behind another starts as threads free up). */
  private readonly queue: Task[] = [];
  private readonly idle: Worker[];

  private constructor(
    private readonly querier: Querier,
    workers: Worker[],
  ) {
    super(workers, "encryption");
    this.idle = [...workers];
  }

  protected resolve(p: Task, a: { cts: Uint8Array[] }): void {
    p.resolve(a.cts);
  }

  /** The thread is free again: it takes the next queued task. */
  protected answered(p: Task & { worker: Worker }): void {
    this.idle.push(p.worker);
    this.dispatch();
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

  /** Fails the calls on the threads and the queued ones. */
  protected failAll(e: Error): void {
    super.failAll(e);
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
}
