/**
 * `2pm fhe serve`: the untrusted compute process of encrypted training (docs/fhe.md "Training on
 * encrypted data"), a node:http server. It holds public material only — key sets and
 * ciphertexts — and never a secret key: it imports neither owner.ts nor the querier.
 *
 *   GET    /v1/health                 {status, busy}                    (no token)
 *   POST   /v1/fhe/train/keys         key-set frame → {keyId}           201 new, 200 already stored
 *   DELETE /v1/fhe/train/keys/:id     204, or 404 unknown-key
 *   POST   /v1/fhe/train/block        block request frame → result frame
 *
 * Every route but health needs `Authorization: Bearer <token>` (compared in constant time).
 * Errors are problem-details JSON (RFC 9457) with a stable `code` from {@link ServeCode}; an
 * unexpected error is a bare 500 `internal`, logged, never a stack trace. One block at a time
 * per process: it runs in one worker thread (so health and key uploads stay responsive), and
 * a second block while one runs gets 503 `busy` (retry later). Key sets live in memory
 * (keys.ts): bounded per set (413), in total and in number (429).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Worker } from "node:worker_threads";
import { startThread } from "../../threads.ts";
import { FheError } from "../errors.ts";
import { loadSealNode } from "../seal-node.ts";
import { FRAME_CONTENT_TYPE } from "../wire.ts";
import { TrainKeyStore, type KeyStoreLimits } from "./keys.ts";
import type { StoredKeySet } from "./server.ts";
import type { WorkerAnswer, WorkerJob } from "./serve-worker.ts";
import { decodeTrainRequest, keyIdSchema } from "./wire.ts";

/** Stable problem codes of the training server (closed set): route codes, then the FHE module's. */
export type ServeCode =
  | "unauthorized" | "not-found" | "method-not-allowed" | "unsupported-media-type" | "bad-request"
  | "unknown-key" | "key-set-too-large" | "key-quota-exceeded" | "busy" | "internal"
  | FheError["code"];

const TITLES: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable" };

/** A caller fault (or `internal`) with its HTTP status. */
export class ServeError extends Error {
  constructor(
    readonly status: number,
    readonly code: ServeCode,
    detail: string,
  ) {
    super(detail);
    this.name = "ServeError";
  }
}

/** HTTP status of an FHE module error: 413 for oversized, 503 when SEAL cannot load, else 400. */
function fheStatus(code: string): number {
  return code === "oversized" ? 413 : code === "not-initialized" ? 503 : code === "internal" ? 500 : 400;
}

/** Runs one block (request frame + stored key set) → result frame; rejects with FheError or ServeError. */
export interface BlockRunner {
  run(request: Uint8Array, keys: StoredKeySet): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** The default runner: one worker thread (serve-worker.ts), started on the first block and restarted if it dies. */
export function workerRunner(): BlockRunner {
  let worker: Worker | undefined;
  let next = 0;
  const pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  const failAll = (why: string) => {
    for (const p of pending.values()) p.reject(new ServeError(500, "internal", why));
    pending.clear();
  };
  const start = (): Worker => {
    // Sources run under tsx (serve-worker.ts); the built package ships dist/serve-worker.js beside this bundle.
    const w = startThread(import.meta.url, "serve-worker");
    w.on("message", (a: WorkerAnswer) => {
      const p = pending.get(a.id);
      if (!p) return;
      pending.delete(a.id);
      if (a.ok) p.resolve(a.response);
      else if (a.code === "internal") p.reject(new ServeError(500, "internal", "internal error"));
      else p.reject(new FheError(a.code as FheError["code"], a.message));
    });
    w.on("error", (e) => {
      console.error("fhe serve: compute thread failed:", e);
      worker = undefined;
      failAll("the compute thread failed");
    });
    w.on("exit", () => {
      if (worker === w) worker = undefined;
      failAll("the compute thread exited");
    });
    return w;
  };
  return {
    run(request, keys) {
      worker ??= start();
      const id = next++;
      const job: WorkerJob = { id, request, keyId: keys.keyId, keys: keys.bytes };
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        // The request's buffer moves to the thread; the key set is in shared memory (not copied).
        worker!.postMessage(job, request.buffer instanceof ArrayBuffer && request.byteOffset === 0 && request.byteLength === request.buffer.byteLength ? [request.buffer] : []);
      });
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}

export interface TrainServeOptions {
  /** Bearer token every route but health requires (≥ 16 characters). */
  token: string;
  /** Key-store caps (keys.ts defaults: 512 MiB per set, 1 GiB total, 4 sets). */
  limits?: Partial<KeyStoreLimits>;
  /** Bytes of one block request (default 256 MiB). */
  maxBlockBytes?: number;
  /** Default: {@link workerRunner}. */
  runner?: BlockRunner;
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
const DRAIN_LIMIT = 2 ** 30;

/** Constant-time comparison of the presented bearer token with the configured one (both hashed first: no length leak). */
function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? "");
  if (!m) return false;
  const h = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(h(m[1]!), h(token));
}

/** Reads the body into one fresh buffer (transferable), or throws ServeError 413 after draining the rest. */
function readBody(req: IncomingMessage, max: number, tooLarge: { code: ServeCode; what: string }): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let over = Number.isFinite(declared) && declared > max;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > max) over = true;
      if (over) {
        chunks.length = 0;
        if (n > DRAIN_LIMIT) req.destroy();
      } else chunks.push(c);
    });
    req.on("error", reject);
    req.on("end", () => {
      if (over) return reject(new ServeError(413, tooLarge.code, `${tooLarge.what} of ${Number.isFinite(declared) ? declared : n} bytes exceeds ${max}`));
      const out = new Uint8Array(n);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      resolve(out);
    });
  });
}

/** Discards the request body (so the client reads our answer), destroying the socket past a limit. */
function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > DRAIN_LIMIT) req.destroy();
    });
    req.on("end", resolve);
    req.on("close", resolve);
    req.on("error", () => resolve());
  });
}

function send(res: ServerResponse, status: number, body: Uint8Array | string, type: string): void {
  res.writeHead(status, { "content-type": type, "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.length, "cache-control": "no-store" });
  res.end(body);
}

function problem(res: ServerResponse, status: number, code: ServeCode, detail?: string): void {
  const body: Record<string, unknown> = { type: `https://2pm.dev/problems/${code}`, title: TITLES[status] ?? "Error", status, code };
  if (detail !== undefined) body.detail = detail;
  send(res, status, JSON.stringify(body), "application/problem+json");
}

function json(res: ServerResponse, status: number, v: unknown): void {
  send(res, status, JSON.stringify(v), "application/json");
}

/**
 * Builds the server (not yet listening: call `server.listen(port, host)`). Throws RangeError on
 * a short token or a bad limit.
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
  const runner = o.runner ?? workerRunner();
  let busy = false;

  const binary = (req: IncomingMessage) => {
    const t = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (t !== FRAME_CONTENT_TYPE && t !== "application/octet-stream") throw new ServeError(415, "unsupported-media-type", `content-type must be ${FRAME_CONTENT_TYPE}`);
  };

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? "GET";
    if (path === "/v1/health") {
      if (method !== "GET") throw new ServeError(405, "method-not-allowed", "GET only");
      return json(res, 200, { status: "ok", busy });
    }
    const keyMatch = /^\/v1\/fhe\/train\/keys\/([^/]*)$/.exec(path);
    const known = path === "/v1/fhe/train/keys" || path === "/v1/fhe/train/block" || keyMatch;
    if (!known) throw new ServeError(404, "not-found", `no route ${path}`);
    if (!tokenMatches(req.headers.authorization, o.token)) throw new ServeError(401, "unauthorized", "a valid bearer token is required");

    if (keyMatch) {
      if (method !== "DELETE") throw new ServeError(405, "method-not-allowed", "DELETE only");
      const id = keyIdSchema.safeParse(decodeURIComponent(keyMatch[1]!));
      if (!id.success) throw new ServeError(400, "bad-request", "a key id is 64 lowercase hex digits");
      if (!store.delete(id.data)) throw new ServeError(404, "unknown-key", "no key set with this id");
      res.writeHead(204).end();
      return;
    }
    if (method !== "POST") throw new ServeError(405, "method-not-allowed", "POST only");
    binary(req);

    if (path === "/v1/fhe/train/keys") {
      const body = await readBody(req, store.limits.maxSetBytes, { code: "key-set-too-large", what: "key set" });
      const r = await store.put(body);
      if (!r.ok) throw r.reason === "too-large" ? new ServeError(413, "key-set-too-large", r.detail) : new ServeError(429, "key-quota-exceeded", r.detail);
      return json(res, r.created ? 201 : 200, { keyId: r.keyId });
    }

    // POST /v1/fhe/train/block
    if (busy) throw new ServeError(503, "busy", "a block is running (one at a time per process); retry when it is done");
    busy = true;
    try {
      const body = await readBody(req, maxBlockBytes, { code: "oversized", what: "block request" });
      const { header } = decodeTrainRequest(body); // frame, header and digest: refused here, before the compute thread
      const keys = store.get(header.keyId);
      if (!keys) throw new ServeError(404, "unknown-key", "no key set with the id the request names: upload it first (POST /v1/fhe/train/keys)");
      const out = await runner.run(body, keys);
      return send(res, 200, out, FRAME_CONTENT_TYPE);
    } finally {
      busy = false;
    }
  }

  const server = createServer((req, res) => {
    const t0 = performance.now();
    let path = "/";
    try {
      path = new URL(req.url ?? "/", "http://x").pathname;
    } catch {
      /* keep "/" */
    }
    route(req, res, path)
      .catch(async (e: unknown) => {
        await drain(req);
        if (e instanceof ServeError) return problem(res, e.status, e.code, e.code === "internal" ? undefined : e.message);
        if (e instanceof FheError) return problem(res, fheStatus(e.code), e.code, e.message);
        console.error("fhe serve: internal error:", e);
        problem(res, 500, "internal");
      })
      .catch(() => res.destroy())
      .finally(() => o.log?.(`${req.method} ${path} ${res.statusCode} ${req.headers["content-length"] ?? 0} B ${((performance.now() - t0) / 1000).toFixed(2)} s`));
  });
  server.requestTimeout = 0; // a 500 MB upload on a slow link may take more than Node's default 300 s
  return {
    server,
    store,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await runner.close();
    },
  };
}
