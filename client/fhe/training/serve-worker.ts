/**
 * The compute thread of `2pm fhe serve` (serve.ts): loads SEAL once and runs {@link trainBlock}
 * on each block it is given — a request frame and the stored key-set frame (shared memory, not
 * copied). Answers through `answerJob` (thread-pool.ts): `{ id, ok, response }`, or the FheError's
 * code; anything else is `internal`, which the server answers as a bare 500.
 */
import { parentPort } from "node:worker_threads";
import { loadSealNode } from "../seal-node.ts";
import { answerJob } from "../thread-pool.ts";
import { trainBlock } from "./server.ts";

export interface WorkerJob {
  id: number;
  request: Uint8Array;
  keyId: string;
  keys: Uint8Array;
}

const port = parentPort;
if (!port) throw new Error("serve-worker.ts runs as a worker thread of serve.ts");

port.on("message", (job: WorkerJob | "close") => {
  if (job === "close") return port.close(); // no secret and no key set of its own to delete
  void answerJob(port, job.id, async () => ({ response: trainBlock(await loadSealNode(), job.request, { keyId: job.keyId, bytes: job.keys }) }), (r) => [r.response.buffer as ArrayBuffer]);
});
