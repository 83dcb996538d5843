/**
 * What the FHE thread pools (encrypt-pool.ts, eval-pool.ts, the training server's compute thread in training/serve.ts) share: worker threads that answer
 * jobs by id, an answer's error rebuilt as the FheError the thread threw (or an Error for an
 * internal failure), every pending call failed once a thread fails or exits (and every later
 * call refused with that error: no job waits on a dead thread), and a close that asks each
 * thread to clean up before it is terminated. Node only.
 */
import type { MessagePort, Worker } from "node:worker_threads";
import { FheError } from "./errors.ts";

/** A thread's answer to job `id`: ok with its result, or the error it threw. */
export type PoolAnswer<R> = ({ ok: true } & R) | { ok: false; code: string; message: string };

/**
 * The thread side of job `id`: posts `{ id, ok: true, ...result }` moving the buffers
 * `transfer(result)` names, or `{ id, ok: false, code, message }` for what `run` threw (an
 * FheError's code, else "internal").
 */
export async function answerJob<R extends object>(port: MessagePort, id: number, run: () => Promise<R>, transfer: (r: R) => ArrayBuffer[]): Promise<void> {
  let answer: PoolAnswer<R> & { id: number };
  let moved: ArrayBuffer[] = [];
  try {
    const r = await run();
    answer = { id, ok: true, ...r };
    moved = transfer(r);
  } catch (e) {
    answer = e instanceof FheError ? { id, ok: false, code: e.code, message: e.message } : { id, ok: false, code: "internal", message: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(answer, moved);
}

/** A call waiting for its answer. */
export interface PoolPending { reject(e: Error): void }

export abstract class FheThreadPool<R, P extends PoolPending> {
  protected next = 0;
  /** Calls on a thread, by job id. */
  protected readonly pending = new Map<number, P>();
  /** Set when a thread failed or exited. */
  protected failure: Error | undefined;

  /** Wires each of `workers` (`what` names them in errors: "encryption", "evaluation"). */
  protected constructor(protected readonly workers: Worker[], what: string) {
    for (const w of workers) {
      w.on("message", (a: PoolAnswer<R> & { id: number }) => {
        const p = this.pending.get(a.id);
        if (!p) return;
        this.pending.delete(a.id);
        if (a.ok) this.resolve(p, a);
        else p.reject(a.code === "internal" ? new Error(`${what} thread: ${a.message}`) : new FheError(a.code as FheError["code"], a.message));
        this.answered(p);
      });
      w.on("error", (e) => this.failAll(e));
      w.on("exit", (code) => this.failAll(new Error(`${what} thread exited (code ${code})`)));
    }
  }

  /** Completes `p` with a thread's successful answer. */
  protected abstract resolve(p: P, a: R): void;

  /** Called after each answer (success or error), once `p` is settled. */
  protected answered(_p: P): void {}

  get threads(): number {
    return this.workers.length;
  }

  /** Fails every pending call with `e` (the first failure is kept for later calls). */
  protected failAll(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Stops the threads: each is sent "close" (it deletes its keys) and terminated after 2 s at the latest. */
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
