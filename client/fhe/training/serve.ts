/**
 * `2pm fhe serve`: the untrusted compute process of encrypted training (docs/fhe.md "Training on
 * encrypted data"): the training routes (routes.ts, the same the coordinator's Worker serves)
 * over node:http (node-http.ts). It holds public material only — key sets and ciphertexts — and
 * never a secret key: it imports neither owner.ts nor the querier.
 *
 *   GET    /v1/health                 {status, busy}                    (no token)
 *   POST   /v1/fhe/train/keys         key-set frame → {keyId}           201 new, 200 already stored
 *   DELETE /v1/fhe/train/keys/:id     204, or 404 unknown-key
 *   POST   /v1/fhe/train/block        block request frame → result frame
 *
 * Every route but health needs `Authorization: Bearer <token>` (compared in constant time).
 * Errors are problem-details JSON (RFC 9457) with a stable `code` (protocol/api/problem.ts); an
 * unexpected error is a bare 500 `internal`, logged, never a stack trace. One block at a time
 * per process: it runs in one worker thread (so health and key uploads stay responsive), and
 * a second block while one runs gets 503 `busy` (retry later). Key sets live in memory
 * (keys.ts): bounded per set (413), in total and in number (429).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Server } from "node:http";
import { Hono } from "hono";
import { ProblemError, problemFor } from "../../../protocol/api/problem.ts";
import { startThread } from "../../threads.ts";
import { FheThreadPool } from "../thread-pool.ts";
import { loadSealNode } from "../seal-node.ts";
import { TrainKeyStore, type KeyStoreLimits } from "./keys.ts";
import { serveFetch } from "./node-http.ts";
import { methodNotAllowed, trainRoutes, type TrainBackend } from "./routes.ts";
import type { StoredKeySet } from "./server.ts";
import type { WorkerJob } from "./serve-worker.ts";

/**
 * The compute thread (serve-worker.ts) as an FHE thread pool of one: blocks answered by id, an
 * FheError rebuilt from the thread's answer, every pending block failed when the thread fails.
 */
class BlockPool extends FheThreadPool<{ response: Uint8Array }, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }> {
  constructor() {
    // Sources run under tsx (serve-worker.ts); the built package ships dist/serve-worker.js beside this bundle.
    super([startThread(import.meta.url, "serve-worker")], "compute");
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Runs one block on the thread; rejects with its FheError, or an Error when the thread failed. */
  run(request: Uint8Array, keys: StoredKeySet): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    const job: WorkerJob = { id: this.next++, request, keyId: keys.keyId, keys: keys.bytes };
    return new Promise((resolve, reject) => {
      this.pending.set(job.id, { resolve, reject });
      // The request's buffer moves to the thread; the key set is in shared memory (not copied).
      this.workers[0]!.postMessage(job, request.buffer instanceof ArrayBuffer && request.byteOffset === 0 && request.byteLength === request.buffer.byteLength ? [request.buffer] : []);
    });
  }

  protected resolve(p: { resolve: (b: Uint8Array) => void }, a: { response: Uint8Array }): void {
    p.resolve(a.response);
  }
}

export interface TrainServeOptions {
  /** Bearer token every route but health requires (≥ 16 characters). */
  token: string;
  /** Key-store caps (keys.ts defaults: 512 MiB per set, 1 GiB total, 4 sets). */
  limits?: Partial<KeyStoreLimits>;
  /** Bytes of one block request (default 256 MiB). */
  maxBlockBytes?: number;
  /** One line per request (method, path, status, bytes, seconds); default none. */
  log?: (line: string) => void;
}

export interface TrainServe {
  server: Server;
  store: TrainKeyStore;
  /** Stops accepting connections, ends the compute thread. */
  close(): Promise<void>;
}

const MIN_TOKEN = 16;

/** Constant-time comparison of the presented bearer token with the configured one (both hashed first: no length leak). */
function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? "");
  if (!m) return false;
  const h = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(h(m[1]!), h(token));
}

/**
 * Builds the server (not yet listening: call `server.listen(port, host)`): the training routes
 * (routes.ts) on key sets in memory and one block at a time in a worker thread (a second
 * block while one runs: 503 `busy`), plus `GET /v1/health`. Throws RangeError on a short token
 * or a bad limit.
 */
export function createTrainServe(o: TrainServeOptions): TrainServe {
  if (typeof o.token !== "string" || o.token.length < MIN_TOKEN) throw new RangeError(`token must be at least ${MIN_TOKEN} characters`);
  const maxBlockBytes = o.maxBlockBytes ?? 2 ** 28;
  if (!Number.isInteger(maxBlockBytes) || maxBlockBytes < 1) throw new RangeError(`maxBlockBytes must be a positive integer, got ${maxBlockBytes}`);
  // Stored sets live in shared memory: the compute thread reads them without a copy per block.
  const store = new TrainKeyStore(o.limits, loadSealNode, (b) => {
    const out = new Uint8Array(new SharedArrayBuffer(b.length));
    out.set(b);
    return out;
  });
  // the compute thread: started on the first block, started anew after it failed
  let pool: BlockPool | undefined;
  let busy = false;

  const backend: TrainBackend = {
    maxKeySetBytes: store.limits.maxSetBytes,
    maxBlockBytes,
    authorize(header) {
      if (!tokenMatches(header, o.token)) throw new ProblemError(401, "unauthorized", "a valid bearer token is required");
    },
    async putKeys(frame) {
      const r = await store.put(frame);
      if (!r.ok) throw r.reason === "too-large" ? new ProblemError(413, "key-set-too-large", r.detail) : new ProblemError(429, "key-quota-exceeded", r.detail);
      return r;
    },
    deleteKeys: async (keyId) => store.delete(keyId),
    async runBlock(request, header) {
      if (busy) throw new ProblemError(503, "busy", "a block is running (one at a time per process); retry when it is done");
      const keys = store.get(header.keyId);
      if (!keys) throw new ProblemError(404, "unknown-key", "no key set with the id the request names: upload it first (POST /v1/fhe/train/keys)");
      busy = true;
      try {
        if (!pool || pool.failed) pool = new BlockPool();
        return await pool.run(request, keys);
      } finally {
        busy = false;
      }
    },
  };
  const app = new Hono()
    .get("/v1/health", (c) => c.json({ status: "ok", busy }))
    .all("/v1/health", methodNotAllowed("GET"))
    .route("/v1/fhe/train", trainRoutes(() => backend))
    .notFound((c) => {
      throw new ProblemError(404, "not-found", `no route ${c.req.path}`);
    })
    .onError((e) => problemFor(e, (err) => console.error("fhe serve: internal error:", err)));
  const server = serveFetch(app.fetch, { maxBodyBytes: Math.max(store.limits.maxSetBytes, maxBlockBytes), log: o.log });
  return {
    server,
    store,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await pool?.close();
    },
  };
}
