/**
 * An encryption thread of encrypt-pool.ts (Node worker_threads): loads SEAL once, rebuilds the
 * querier from the secret key its pool posts at start (same process; never stored), and encrypts
 * the columns of each job. Answers `{ id, ok, cts }` (buffers transferred, not copied) or
 * `{ id, ok: false, code, message }`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { CkksContext, type Compression } from "./context.ts";
import type { CkksParams } from "./params.ts";
import { Querier } from "./querier.ts";
import { loadSealNode } from "./seal-node.ts";
import { answerJob } from "./thread-pool.ts";

export interface EncryptWorkerData {
  params: CkksParams;
  secretKey: Uint8Array;
}

export interface EncryptJob {
  id: number;
  real: Float64Array[];
  imag?: Float64Array[];
  compression: Compression;
}

const port = parentPort;
if (!port) throw new Error("encrypt-worker.ts runs as a worker thread of encrypt-pool.ts");
const init = workerData as EncryptWorkerData;
const querier = loadSealNode().then((seal) => {
  try {
    return Querier.fromSecretKey(CkksContext.get(seal, init.params), { relin: false, galoisSteps: [] }, init.secretKey);
  } finally {
    init.secretKey.fill(0); // the querier holds its own copy in SEAL memory
  }
});

port.on("message", (job: EncryptJob | "close") => {
  if (job === "close") {
    void querier.then((q) => q.dispose()).finally(() => port.close());
    return;
  }
  void answerJob(port, job.id, async () => ({ cts: (await querier).encryptColumns(job.real, job.imag, job.compression) }), (r) => r.cts.map((c) => c.buffer as ArrayBuffer));
});
