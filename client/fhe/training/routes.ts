/**
 * The HTTP routes of encrypted training (docs/fhe.md "Training on encrypted data"), one hono
 * sub-app served by both untrusted compute servers: the coordinator's Worker
 * (functions/fhe/train-routes.ts, key sets in R2, blocks that fit an isolate) and
 * `2pm fhe serve` (serve.ts, key sets in memory, blocks in a worker thread). Mounted at
 * `/v1/fhe/train`, so the owner's `2pm fhe train --server <url> --token T` (http.ts) works
 * against either:
 *
 *   POST   /keys          key-set frame → {keyId}: 201 stored, 200 already stored
 *   DELETE /keys/:keyId   204, or 404 unknown-key
 *   POST   /block         block request frame → result frame (the encrypted β)
 *
 * Every route needs the server's bearer token. What differs between the servers — where key
 * sets live, their quotas, how many blocks run at once — is the {@link TrainBackend}. Errors
 * are {@link ProblemError}s (FheError included), answered as problem details by the server's
 * one boundary. The routes hold public material only: a key set that contains a secret key is
 * refused by the backend's key store, a request naming one by `trainBlock`.
 */
import { Hono, type Context, type Env } from "hono";
import { ProblemError } from "../../../protocol/api/problem.ts";
import { readBody } from "../http-body.ts";
import { FRAME_CONTENT_TYPE } from "../wire.ts";
import { decodeTrainRequest, keyIdSchema, type TrainRequestHeader } from "./wire.ts";

/** Media types of a frame body. */
const FRAME_TYPES = [FRAME_CONTENT_TYPE, "application/octet-stream"] as const;

/** What one server does with the requests the routes have checked. */
export interface TrainBackend {
  /** Bytes of one key-set frame and of one block request. */
  readonly maxKeySetBytes: number;
  readonly maxBlockBytes: number;
  /** Appended to a 413's detail (where larger uploads are served). */
  readonly tooLargeHint?: string;
  /** Throws ProblemError 401 `unauthorized` unless the Authorization header carries the server's token. */
  authorize(header: string | undefined): void;
  /** Stores a key-set frame (idempotent by its id); throws ProblemError / FheError for a set it refuses. */
  putKeys(frame: Uint8Array): Promise<{ keyId: string; created: boolean }>;
  /** Forgets a key set; false if it was not stored. */
  deleteKeys(keyId: string): Promise<boolean>;
  /** Runs one block whose frame and header were checked; throws 404 `unknown-key` when its key set is not stored. */
  runBlock(request: Uint8Array, header: TrainRequestHeader): Promise<Uint8Array>;
}

/** A handler that refuses the request with 405 `method-not-allowed`, naming the `allowed` method. */
export const methodNotAllowed = (allowed: string) => (): never => {
  throw new ProblemError(405, "method-not-allowed", `${allowed} only`);
};

/**
 * The training sub-app over `backend(c)` (called once per request). Throws nothing itself:
 * refusals are thrown as ProblemError for the mounting app's onError.
 */
export function trainRoutes<E extends Env>(backend: (c: Context<E>) => TrainBackend): Hono<E> {
  const checked = (c: Context<E>): TrainBackend => {
    const b = backend(c);
    b.authorize(c.req.header("authorization"));
    return b;
  };
  return new Hono<E>()
    .post("/keys", async (c) => {
      const b = checked(c);
      const frame = await readBody(c.req, { types: FRAME_TYPES, max: b.maxKeySetBytes, code: "key-set-too-large", what: "key set", hint: b.tooLargeHint });
      const { keyId, created } = await b.putKeys(frame);
      return c.json({ keyId }, created ? 201 : 200);
    })
    .delete("/keys/:keyId", async (c) => {
      const b = checked(c);
      const id = keyIdSchema.safeParse(c.req.param("keyId"));
      if (!id.success) throw new ProblemError(400, "bad-request", "a key id is 64 lowercase hex digits");
      if (!(await b.deleteKeys(id.data))) throw new ProblemError(404, "unknown-key", "no training key set with this id");
      return c.body(null, 204);
    })
    .post("/block", async (c) => {
      const b = checked(c);
      const body = await readBody(c.req, { types: FRAME_TYPES, max: b.maxBlockBytes, code: "oversized", what: "block request", hint: b.tooLargeHint });
      const { header } = decodeTrainRequest(body); // frame, strict header and digest: refused here, before any SEAL work
      const out = await b.runBlock(body, header);
      return new Response(out as Uint8Array<ArrayBuffer>, { headers: { "content-type": FRAME_CONTENT_TYPE, "cache-control": "no-store" } });
    })
    .all("/keys", methodNotAllowed("POST"))
    .all("/keys/:keyId", methodNotAllowed("DELETE"))
    .all("/block", methodNotAllowed("POST"));
}
