/**
 * Encrypted inference routes, a hono sub-app mounted at /v1/models:
 *
 *   PUT  /:id/package  (bearer API_TOKEN) store a model package (JSON) in R2 `fhe-packages/<id>`
 *   GET  /:id/package  public model info (parameters, dims, output, hash; no weights, no
 *                      preprocessing statistics); the full package with the bearer token
 *   POST /:id/keys     upload public evaluation keys (binary frame) → {keyId}; R2 `fhe-keys/<keyId>`
 *   POST /:id/infer    ciphertexts in (binary frame, with keyId) → ciphertexts out
 *
 * The endpoint never receives a secret key: the key frame's schema admits only `relin` and
 * `galois` parts, each must load as that SEAL key type under the model's parameters.
 * Every error is problem-details JSON with a stable code; unknown errors are a bare 500.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import sealWasm from "../../node_modules/node-seal/dist/seal_throws.wasm";
import { CkksContext } from "../../client/fhe/context.ts";
import { FheError, type FheErrorCode } from "../../client/fhe/errors.ts";
import { EvaluationKeys, PlanEvaluator } from "../../client/fhe/evaluator.ts";
import { compilePlan } from "../../client/fhe/model.ts";
import { modelIdSchema, publicInfo, verifyPackage, type ModelPackage } from "../../client/fhe/package.ts";
import { paramsKey } from "../../client/fhe/params.ts";
import { loadSeal } from "../../client/fhe/seal.ts";
import { decodeFrame, encodeFrame, FRAME_CONTENT_TYPE } from "../../client/fhe/wire.ts";
import { keyFrameHeaderSchema, inferFrameHeaderSchema, keyIdOf, fheKeysObject, fhePackageObject } from "../../client/fhe/protocol.ts";

export interface FheBindings {
  MODELS: R2Bucket;
  API_TOKEN?: string;
}
type FheEnv = { Bindings: FheBindings };

/** Route-level problem codes (in addition to {@link FheErrorCode}). */
export type InferProblemCode = FheErrorCode | "unauthorized" | "unknown-model" | "unknown-key" | "unsupported-media-type" | "bad-request" | "model-id-mismatch" | "internal";

const STATUS: Partial<Record<InferProblemCode, number>> = {
  oversized: 413, unauthorized: 401, "unknown-model": 404, "unknown-key": 404, "unsupported-media-type": 415,
  "not-initialized": 503, "seal-error": 400, "model-id-mismatch": 400, internal: 500,
};

class RouteError extends Error {
  constructor(readonly code: InferProblemCode, detail: string) {
    super(detail);
  }
}

function problem(code: InferProblemCode, detail: string): Response {
  const status = STATUS[code] ?? 400;
  const title = status === 404 ? "Not Found" : status === 413 ? "Payload Too Large" : status === 401 ? "Unauthorized" : status === 415 ? "Unsupported Media Type" : status >= 500 ? "Server Error" : "Bad Request";
  return new Response(JSON.stringify({ type: `https://2pm.dev/problems/${code}`, title, status, code, detail }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
}

const MAX_PACKAGE_BYTES = 8 * 2 ** 20;
const MAX_KEY_BYTES = 48 * 2 ** 20;
const PACKAGE_TTL_MS = 30_000;

// Per-isolate caches (bounded).
const packages = new Map<string, { pkg: ModelPackage; evaluator: PlanEvaluator; at: number }>();
const keyCache = new Map<string, EvaluationKeys>();
const MAX_CACHED_KEYS = 4;
const MAX_CACHED_MODELS = 4;

// Requests interleave at awaits: a cache entry evicted by one request may still be in use
// by another. Evicted SEAL objects are retired and deleted only when no request is in flight.
let inflight = 0;
const graveyard: Array<{ dispose(): void }> = [];
function retire(x: { dispose(): void } | undefined): void {
  if (x) graveyard.push(x);
}
function reap(): void {
  if (inflight === 0) for (const x of graveyard.splice(0)) x.dispose();
}

/** Test hook: drop this isolate's caches (as after an eviction). */
export function clearInferCaches(): void {
  for (const v of packages.values()) retire(v.evaluator);
  packages.clear();
  for (const k of keyCache.values()) retire(k);
  keyCache.clear();
  reap();
}

/** Number of cached key sets and models (for tests). */
export function inferCacheSizes(): { keys: number; models: number } {
  return { keys: keyCache.size, models: packages.size };
}

function modelId(c: Context<FheEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!modelIdSchema.safeParse(id).success) throw new RouteError("bad-request", "invalid model id");
  return id;
}

/** Constant-time bearer-token check (lengths hashed first so they do not leak). */
async function authorised(env: FheBindings, header: string | undefined): Promise<boolean> {
  const token = env.API_TOKEN;
  if (!token || !header?.startsWith("Bearer ")) return false;
  const enc = new TextEncoder();
  const [a, b] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(header.slice(7))), crypto.subtle.digest("SHA-256", enc.encode(token))]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let d = 0;
  for (let i = 0; i < x.length; i++) d |= x[i]! ^ y[i]!;
  return d === 0;
}

async function readBody(c: Context<FheEnv>, max: number, type: string): Promise<Uint8Array> {
  const ct = c.req.header("content-type") ?? "";
  if (!ct.startsWith(type)) throw new RouteError("unsupported-media-type", `content-type must be ${type}`);
  const len = Number(c.req.header("content-length") ?? "0");
  if (len > max) throw new RouteError("oversized", `body of ${len} bytes exceeds ${max}`);
  const body = new Uint8Array(await c.req.arrayBuffer());
  if (body.length > max) throw new RouteError("oversized", `body of ${body.length} bytes exceeds ${max}`);
  return body;
}

async function loadModel(env: FheBindings, id: string): Promise<{ pkg: ModelPackage; evaluator: PlanEvaluator; ctx: CkksContext }> {
  const seal = await loadSeal({ wasmModule: sealWasm });
  const hit = packages.get(id);
  if (hit && Date.now() - hit.at < PACKAGE_TTL_MS) return { ...hit, ctx: hit.evaluator.ctx };
  const obj = await env.MODELS.get(fhePackageObject(id));
  if (!obj) throw new RouteError("unknown-model", `no FHE package for model ${id}`);
  const pkg = await verifyPackage(await obj.json());
  if (hit && hit.pkg.hash === pkg.hash) {
    hit.at = Date.now();
    return { ...hit, ctx: hit.evaluator.ctx };
  }
  retire(hit?.evaluator);
  const ctx = CkksContext.get(seal, pkg.ckks);
  const evaluator = new PlanEvaluator(ctx, compilePlan(pkg.model));
  packages.delete(id);
  if (packages.size >= MAX_CACHED_MODELS) {
    const [k, v] = packages.entries().next().value!;
    retire(v.evaluator);
    packages.delete(k);
  }
  packages.set(id, { pkg, evaluator, at: Date.now() });
  return { pkg, evaluator, ctx };
}

function cacheKeys(keyId: string, keys: EvaluationKeys): void {
  if (keyCache.size >= MAX_CACHED_KEYS) {
    const [k, v] = keyCache.entries().next().value!;
    retire(v);
    keyCache.delete(k);
  }
  keyCache.set(keyId, keys);
}

function keyParts(frameParts: Uint8Array[], kinds: Array<"relin" | "galois">): { relin?: Uint8Array; galois?: Uint8Array } {
  const out: { relin?: Uint8Array; galois?: Uint8Array } = {};
  kinds.forEach((k, i) => {
    if (out[k]) throw new RouteError("bad-keys", `duplicate ${k} part`);
    out[k] = frameParts[i]!;
  });
  return out;
}

export const inferRoutes = new Hono<FheEnv>()
  .use(async (_c, next) => {
    inflight++;
    try {
      await next();
    } finally {
      inflight--;
      reap();
    }
  })
  .put("/:id/package", async (c) => {
    if (!(await authorised(c.env, c.req.header("authorization")))) throw new RouteError("unauthorized", "missing or invalid API token");
    const id = modelId(c);
    const body = await readBody(c, MAX_PACKAGE_BYTES, "application/json");
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new RouteError("bad-request", "body is not JSON");
    }
    const pkg = await verifyPackage(json);
    if (pkg.modelId !== id) throw new RouteError("model-id-mismatch", `package is for model ${pkg.modelId}, not ${id}`);
    await c.env.MODELS.put(fhePackageObject(id), JSON.stringify(pkg), { httpMetadata: { contentType: "application/json" }, customMetadata: { hash: pkg.hash } });
    retire(packages.get(id)?.evaluator);
    packages.delete(id);
    return c.json({ modelId: id, version: pkg.version, hash: pkg.hash, depth: pkg.depth }, 201);
  })
  .get("/:id/package", async (c) => {
    const id = modelId(c);
    const full = c.req.header("authorization") !== undefined;
    if (full && !(await authorised(c.env, c.req.header("authorization")))) throw new RouteError("unauthorized", "invalid API token");
    if (full) {
      const obj = await c.env.MODELS.get(fhePackageObject(id));
      if (!obj) throw new RouteError("unknown-model", `no FHE package for model ${id}`);
      return new Response(obj.body, { headers: { "content-type": "application/json", etag: obj.httpEtag } });
    }
    const { pkg } = await loadModel(c.env, id);
    return c.json(publicInfo(pkg));
  })
  .post("/:id/keys", async (c) => {
    const id = modelId(c);
    const { ctx } = await loadModel(c.env, id);
    const frame = decodeFrame(await readBody(c, MAX_KEY_BYTES + 8192, FRAME_CONTENT_TYPE), { maxParts: 2, maxPartBytes: MAX_KEY_BYTES });
    const h = frame.header as { kinds?: unknown };
    if (JSON.stringify(frame.header).toLowerCase().includes("secret")) throw new RouteError("secret-key-refused", "the endpoint accepts only public evaluation keys (relin, galois)");
    const r = keyFrameHeaderSchema.safeParse(h);
    if (!r.success) throw new RouteError("bad-keys", `key frame header: ${r.error.issues[0]?.message ?? "invalid"}`);
    if (r.data.kinds.length !== frame.parts.length) throw new RouteError("bad-keys", "kinds and parts disagree");
    const parts = keyParts(frame.parts, r.data.kinds);
    const keys = EvaluationKeys.load(ctx, parts, MAX_KEY_BYTES); // validates before anything is stored
    let keyId: string;
    try {
      keyId = await keyIdOf(paramsKey(ctx.params), parts);
      const stored = await c.env.MODELS.head(fheKeysObject(keyId));
      if (!stored) {
        await c.env.MODELS.put(fheKeysObject(keyId), encodeFrame({ v: 1, kinds: r.data.kinds, paramsKey: paramsKey(ctx.params) }, r.data.kinds.map((k) => parts[k]!)), {
          customMetadata: { paramsKey: paramsKey(ctx.params) },
        });
      }
    } catch (e) {
      retire(keys);
      throw e;
    }
    retire(keyCache.get(keyId));
    keyCache.delete(keyId);
    cacheKeys(keyId, keys);
    return c.json({ keyId, paramsKey: paramsKey(ctx.params) }, 201);
  })
  .post("/:id/infer", async (c) => {
    const id = modelId(c);
    const { pkg, evaluator, ctx } = await loadModel(c.env, id);
    const maxCt = ctx.maxCiphertextBytes();
    const frame = decodeFrame(await readBody(c, pkg.model.inputDim * (maxCt + 4) + 8192, FRAME_CONTENT_TYPE), { maxParts: pkg.model.inputDim, maxPartBytes: maxCt });
    const r = inferFrameHeaderSchema.safeParse(frame.header);
    if (!r.success) throw new RouteError("bad-request", `infer frame header: ${r.error.issues[0]?.path.join(".")}: ${r.error.issues[0]?.message}`);
    const { keyId, mode } = r.data;
    let keys = keyCache.get(keyId);
    if (keys) {
      keyCache.delete(keyId); // LRU: re-insert at the end
      keyCache.set(keyId, keys);
    } else {
      const obj = await c.env.MODELS.get(fheKeysObject(keyId));
      if (!obj) throw new RouteError("unknown-key", `no evaluation keys with id ${keyId}; upload them first`);
      const kf = decodeFrame(new Uint8Array(await obj.arrayBuffer()), { maxParts: 2, maxPartBytes: MAX_KEY_BYTES });
      const kh = keyFrameHeaderSchema.extend({ paramsKey: z.string() }).parse(kf.header);
      if (kh.paramsKey !== paramsKey(ctx.params)) throw new RouteError("bad-keys", "these evaluation keys were made for other CKKS parameters");
      keys = EvaluationKeys.load(ctx, keyParts(kf.parts, kh.kinds), MAX_KEY_BYTES);
      cacheKeys(keyId, keys);
    }
    const out = mode === "single" ? (frame.parts.length === 1 ? evaluator.evaluateSingle(frame.parts[0]!, keys, r.data.compression) : (() => { throw new FheError("shape-mismatch", "single mode takes one ciphertext"); })()) : evaluator.evaluateBatch(frame.parts, keys, r.data.compression);
    return new Response(encodeFrame({ v: 1, mode, modelHash: pkg.hash, outputs: out.length }, out), { headers: { "content-type": FRAME_CONTENT_TYPE } });
  })
  .onError((err) => {
    if (err instanceof RouteError) return problem(err.code, err.message);
    if (err instanceof FheError) return problem(err.code, err.message);
    if (err instanceof z.ZodError) return problem("bad-request", "request does not match the schema");
    console.error("fhe: unhandled error", err);
    return new Response(JSON.stringify({ type: "about:blank", title: "Internal Server Error", status: 500, code: "internal" }), {
      status: 500,
      headers: { "content-type": "application/problem+json" },
    });
  });

export type InferRoutes = typeof inferRoutes;
