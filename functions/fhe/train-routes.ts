/**
 * Encrypted training in the Worker: the training routes (client/fhe/training/routes.ts, the
 * same routes `2pm fhe serve` serves) mounted at /v1/fhe/train on this backend, so the owner's
 * `2pm fhe train --server https://<coordinator> --token T` works against either.
 *
 * Only the block size that fits an isolate (128 MB, docs/fhe.md "Training in the Worker"):
 * N ≤ {@link WORKER_TRAIN_LIMITS}.maxN (8192: the compact chain of three levels, degree 3 and an
 * owner refresh after every iteration; key set ≈ 16.3 MiB), a key set ≤ 24 MiB, a block request
 * ≤ 8 MiB (1579 × 18 rows: 6.8 MiB), one block at a time per isolate (another one waiting is
 * refused 409 `conflict`). Larger blocks: 413 (bytes) or 400 `bad-parameters` naming the
 * limit — run `2pm fhe serve` for them. Key sets live in R2 (`fhe-train-keys/<keyId>`, the
 * SHA-256 of the frame) for {@link WORKER_TRAIN_LIMITS}.keySetTtlS, at most `maxKeySets` at once
 * (429 `key-quota-exceeded`), and are loaded into SEAL per block.
 *
 * The route holds public material only: key uploads are checked by the training key store
 * (a part that loads as a secret key: 400 `secret-key-refused`), and `trainBlock` takes bytes
 * and refuses a secret key inside a request. Errors are problem-details JSON through the app's
 * one boundary (functions/errors.ts).
 */
import { Hono, type Context } from "hono";
import sealWasm from "../../node_modules/node-seal/dist/seal_throws.wasm";
import { FheError } from "../../client/fhe/errors.ts";
import { loadSeal } from "../../client/fhe/seal.ts";
import { TrainKeyStore } from "../../client/fhe/training/keys.ts";
import { trainRoutes as routes, type TrainBackend } from "../../client/fhe/training/routes.ts";
import { trainBlock } from "../../client/fhe/training/server.ts";
import { requireApiToken } from "../auth.ts";
import { ApiError, errorBoundary } from "../errors.ts";
import type { Env } from "../env.ts";
import { enforceR2Quota } from "./r2-quota.ts";

export type TrainBindings = Pick<Env, "MODELS" | "API_TOKEN">;
type TrainEnv = { Bindings: TrainBindings };

/** What one isolate accepts (module doc; measured in test/workers/fhe-train-route.test.ts). */
export const WORKER_TRAIN_LIMITS = {
  maxN: 8192,
  keySetBytes: 24 * 2 ** 20,
  blockBytes: 8 * 2 ** 20,
  maxKeySets: 8,
  keySetTtlS: 24 * 3600,
} as const;

/** R2 object of a training key set. */
export const trainKeyObject = (keyId: string): string => `fhe-train-keys/${keyId}`;
const PREFIX = "fhe-train-keys/";

/** A block running in this isolate (settles when it ends), and whether one is waiting for it. */
let running: Promise<void> | undefined;
let waiting = false;

function checkN(n: number): void {
  if (n > WORKER_TRAIN_LIMITS.maxN) throw new FheError("bad-parameters", `the Worker trains at N ≤ ${WORKER_TRAIN_LIMITS.maxN} (degree 3, a refresh after every iteration: --degree 3 --refresh-every 1); N = ${n} needs 2pm fhe serve`);
}

const expiry = (o: { customMetadata?: Record<string, string> }): number => Number(o.customMetadata?.expiresAt ?? 0);

/** Runs `f` when no other block runs in this isolate; a third block while one runs and one waits is refused 409. */
async function oneAtATime<T>(f: () => Promise<T>): Promise<T> {
  while (running) {
    if (waiting) throw new ApiError(409, "conflict", "a block is running in this Worker isolate and another is waiting; retry when they are done");
    waiting = true;
    try {
      await running;
    } finally {
      waiting = false;
    }
  }
  let release!: () => void;
  running = new Promise<void>((r) => (release = r)); // set synchronously after the check: no interleaving
  try {
    return await f();
  } finally {
    running = undefined;
    release();
  }
}

/** The Worker's backend of the training routes: key sets in R2 with a TTL and a quota, one block per isolate. */
function workerBackend(c: Context<TrainEnv>): TrainBackend {
  const env = c.env;
  return {
    maxKeySetBytes: WORKER_TRAIN_LIMITS.keySetBytes,
    maxBlockBytes: WORKER_TRAIN_LIMITS.blockBytes,
    tooLargeHint: " (the Worker's limit); run 2pm fhe serve for larger blocks",
    authorize: () => requireApiToken(c),
    async putKeys(frame) {
      const seal = await loadSeal({ wasmModule: sealWasm });
      // the store's checks (frame, strict header, a part loading as a secret key), nothing kept in it
      const r = await new TrainKeyStore({ maxSetBytes: WORKER_TRAIN_LIMITS.keySetBytes, maxTotalBytes: WORKER_TRAIN_LIMITS.keySetBytes, maxSets: 1 }, async () => seal).put(frame);
      if (!r.ok) throw new ApiError(413, "key-set-too-large", r.detail);
      checkN(r.header.ckks.polyModulusDegree);
      const now = Date.now();
      const name = trainKeyObject(r.keyId);
      const stored = await env.MODELS.head(name);
      const alive = !!stored && expiry(stored) > now;
      if (!alive) {
        await enforceR2Quota(env.MODELS, PREFIX, now, expiry, WORKER_TRAIN_LIMITS.maxKeySets, (live) =>
          `the Worker holds ${live} training key sets (limit ${WORKER_TRAIN_LIMITS.maxKeySets}); delete one (DELETE /v1/fhe/train/keys/<keyId>) or wait until they expire`);
      }
      await env.MODELS.put(name, frame, { customMetadata: { expiresAt: String(now + WORKER_TRAIN_LIMITS.keySetTtlS * 1000) } });
      return { keyId: r.keyId, created: !alive };
    },
    async deleteKeys(keyId) {
      const name = trainKeyObject(keyId);
      if (!(await env.MODELS.head(name))) return false;
      await env.MODELS.delete(name);
      return true;
    },
    async runBlock(request, header) {
      checkN(header.ckks.polyModulusDegree);
      const obj = await env.MODELS.get(trainKeyObject(header.keyId));
      if (!obj || expiry(obj) <= Date.now()) throw new ApiError(404, "unknown-key", "no training key set with the id the request names: upload it first (POST /v1/fhe/train/keys)");
      // one block per isolate: a second one waits for it, a third is refused (memory, not CPU, is the limit)
      return oneAtATime(async () => {
        const keys = new Uint8Array(await obj.arrayBuffer());
        const seal = await loadSeal({ wasmModule: sealWasm });
        return trainBlock(seal, request, { keyId: header.keyId, bytes: keys }, { maxKeyBytes: WORKER_TRAIN_LIMITS.keySetBytes });
      });
    },
  };
}

/** The training routes (client/fhe/training/routes.ts) on the Worker's backend, with the app's one error boundary. */
export const trainRoutes = new Hono<TrainEnv>().route("/", routes<TrainEnv>(workerBackend)).onError(errorBoundary);
