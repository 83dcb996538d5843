/**
 * Encrypted training in the Worker, a hono sub-app mounted at /v1/fhe/train — the same wire
 * protocol as `2pm fhe serve` (client/fhe/training/serve.ts), so the owner's
 * `2pm fhe train --server https://<coordinator> --token T` works against either:
 *
 *   POST   /keys          (token) key-set frame → {keyId}: 201 stored, 200 already stored
 *   DELETE /keys/:keyId   (token) 204, or 404 unknown-key
 *   POST   /block         (token) block request frame → result frame (the encrypted β)
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
import { FRAME_CONTENT_TYPE } from "../../client/fhe/wire.ts";
import { TrainKeyStore } from "../../client/fhe/training/keys.ts";
import { trainBlock } from "../../client/fhe/training/server.ts";
import { decodeTrainRequest, keyIdSchema } from "../../client/fhe/training/wire.ts";
import { requireApiToken } from "../auth.ts";
import { ApiError, errorBoundary, type ApiErrorCode } from "../errors.ts";
import type { Env } from "../env.ts";

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

async function readFrame(c: Context<TrainEnv>, max: number, code: ApiErrorCode, what: string): Promise<Uint8Array> {
  const ct = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (ct !== FRAME_CONTENT_TYPE && ct !== "application/octet-stream") throw new ApiError(415, "unsupported-media-type", `content-type must be ${FRAME_CONTENT_TYPE}`);
  const len = Number(c.req.header("content-length") ?? "0");
  if (len > max) throw new ApiError(413, code, `${what} of ${len} bytes exceeds the Worker's ${max}; run 2pm fhe serve for larger blocks`);
  const body = new Uint8Array(await c.req.arrayBuffer());
  if (body.length > max) throw new ApiError(413, code, `${what} of ${body.length} bytes exceeds the Worker's ${max}; run 2pm fhe serve for larger blocks`);
  return body;
}

function checkN(n: number): void {
  if (n > WORKER_TRAIN_LIMITS.maxN) throw new FheError("bad-parameters", `the Worker trains at N ≤ ${WORKER_TRAIN_LIMITS.maxN} (degree 3, a refresh after every iteration: --degree 3 --refresh-every 1); N = ${n} needs 2pm fhe serve`);
}

/** Deletes expired key sets and throws 429 if `maxKeySets` live ones remain. */
async function enforceQuota(env: TrainBindings, now: number): Promise<void> {
  const page = await env.MODELS.list({ prefix: PREFIX, limit: 1000, include: ["customMetadata"] });
  const dead = page.objects.filter((o) => Number(o.customMetadata?.expiresAt ?? 0) <= now).map((o) => o.key);
  if (dead.length) await env.MODELS.delete(dead);
  const live = page.objects.length - dead.length;
  if (live >= WORKER_TRAIN_LIMITS.maxKeySets) throw new ApiError(429, "key-quota-exceeded", `the Worker holds ${live} training key sets (limit ${WORKER_TRAIN_LIMITS.maxKeySets}); delete one (DELETE /v1/fhe/train/keys/<keyId>) or wait until they expire`);
}

export const trainRoutes = new Hono<TrainEnv>()
  .post("/keys", async (c) => {
    requireApiToken(c);
    const body = await readFrame(c, WORKER_TRAIN_LIMITS.keySetBytes, "key-set-too-large", "key set");
    const seal = await loadSeal({ wasmModule: sealWasm });
    // the store's checks (frame, strict header, a part loading as a secret key), nothing kept in it
    const r = await new TrainKeyStore({ maxSetBytes: WORKER_TRAIN_LIMITS.keySetBytes, maxTotalBytes: WORKER_TRAIN_LIMITS.keySetBytes, maxSets: 1 }, async () => seal).put(body);
    if (!r.ok) throw new ApiError(413, "key-set-too-large", r.detail);
    checkN(r.header.ckks.polyModulusDegree);
    const now = Date.now();
    const name = trainKeyObject(r.keyId);
    const stored = await c.env.MODELS.head(name);
    const alive = !!stored && Number(stored.customMetadata?.expiresAt ?? 0) > now;
    if (!alive) await enforceQuota(c.env, now);
    await c.env.MODELS.put(name, body, { customMetadata: { expiresAt: String(now + WORKER_TRAIN_LIMITS.keySetTtlS * 1000) } });
    return c.json({ keyId: r.keyId }, alive ? 200 : 201);
  })
  .delete("/keys/:keyId", async (c) => {
    requireApiToken(c);
    const id = keyIdSchema.safeParse(c.req.param("keyId"));
    if (!id.success) throw new ApiError(400, "bad-request", "a key id is 64 lowercase hex digits");
    const name = trainKeyObject(id.data);
    if (!(await c.env.MODELS.head(name))) throw new ApiError(404, "unknown-key", "no training key set with this id");
    await c.env.MODELS.delete(name);
    return c.body(null, 204);
  })
  .post("/block", async (c) => {
    requireApiToken(c);
    const body = await readFrame(c, WORKER_TRAIN_LIMITS.blockBytes, "oversized", "block request");
    const { header } = decodeTrainRequest(body); // frame, strict header and digest, before any SEAL work
    checkN(header.ckks.polyModulusDegree);
    const obj = await c.env.MODELS.get(trainKeyObject(header.keyId));
    if (!obj || Number(obj.customMetadata?.expiresAt ?? 0) <= Date.now()) throw new ApiError(404, "unknown-key", "no training key set with the id the request names: upload it first (POST /v1/fhe/train/keys)");
    // one block per isolate: a second one waits for it, a third is refused (memory, not CPU, is the limit)
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
      const keys = new Uint8Array(await obj.arrayBuffer());
      const seal = await loadSeal({ wasmModule: sealWasm });
      const out = trainBlock(seal, body, { keyId: header.keyId, bytes: keys }, { maxKeyBytes: WORKER_TRAIN_LIMITS.keySetBytes });
      return new Response(out as Uint8Array<ArrayBuffer>, { headers: { "content-type": FRAME_CONTENT_TYPE, "cache-control": "no-store" } });
    } finally {
      running = undefined;
      release();
    }
  })
  .onError(errorBoundary);

