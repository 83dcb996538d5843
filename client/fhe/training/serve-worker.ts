/**
 * The compute thread of `2pm fhe serve` (serve.ts): loads SEAL once and runs {@link trainBlock}
 * on each block it is given — a request frame and the stored key-set frame (shared memory, not
 * copied). Answers `{ id, ok, response }` or `{ id, ok: false, code, message }`; an unexpected
 * error is logged here and answered as `internal` without detail.
 */
import { parentPort } from "node:worker_threads";
import { FheError } from "../errors.ts";
import { loadSealNode } from "../seal-node.ts";
import { trainBlock } from "./server.ts";

export interface WorkerJob {
  id: number;
  request: Uint8Array;
  keyId: string;
  keys: Uint8Array;
}

export type WorkerAnswer = { id: number; ok: true; response: Uint8Array } | { id: number; ok: false; code: string; message: string };

const port = parentPort;
if (!port) throw new Error("serve-worker.ts runs as a worker thread of serve.ts");

port.on("message", (job: WorkerJob) => {
  void (async () => {
    let answer: WorkerAnswer;
    let transfer: ArrayBuffer[] = [];
    try {
      const seal = await loadSealNode();
      const response = trainBlock(seal, job.request, { keyId: job.keyId, bytes: job.keys });
      answer = { id: job.id, ok: true, response };
      transfer = [response.buffer as ArrayBuffer];
    } catch (e) {
      if (e instanceof FheError) answer = { id: job.id, ok: false, code: e.code, message: e.message };
      else {
        console.error("fhe serve: internal error in a block:", e);
        answer = { id: job.id, ok: false, code: "internal", message: "internal error" };
      }
    }
    port.postMessage(answer, transfer);
  })();
});
