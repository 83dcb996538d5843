/**
 * Encrypted inference routes, a hono sub-app mounted at /v1/models:
 *
 *   PUT    /:id/package        (token) store a model package (JSON) in R2 `fhe-packages/<id>`
 *   GET    /:id/package        public model info (parameters, dims, output, hash; no weights, no
 *                              preprocessing statistics); the full package with the bearer token
 *   POST   /:id/keys           (token) upload public evaluation keys (binary frame) → {keyId};
 *                              R2 `fhe-keys/<id>/<keyId>`, within the quotas below
 *   DELETE /:id/keys/:keyId    (token) drop an uploaded key set (frees its quota slot)
 *   POST   /:id/infer          (token) ciphertexts in (binary frame, with keyId) → ciphertexts out;
 *                              `mode: "single"` with `single: "constant-term"` or "masked-sum"
 *                              (single-layer models) uses no evaluation key, but the key id must
 *                              still name a stored set; the response carries a Server-Timing
 *                              header (model, body, keys, eval, frame; ms)
 *
 * Keys and inference need the bearer API token: both cost the coordinator storage (keys) or
 * CPU (evaluation). Quotas on stored evaluation keys (defaults; Worker vars override them):
 *   - one key set (relin + galois parts together) ≤ FHE_MAX_KEY_SET_BYTES = 48 MiB, else
 *     413 `key-set-too-large` (largest real set: 34.6 MB, relinearisation keys at N = 32768
 *     and depth 10; a single-sample logistic model at N = 8192 needs 4.8 MB; docs/fhe.md);
 *   - ≤ FHE_MAX_KEY_SETS_PER_MODEL = 32 live key sets per model, else 429 `key-quota-exceeded`
 *     (re-uploading a stored set is free; `DELETE` frees a slot; concurrent first uploads may
 *     overshoot by their number);
 *   - a key set lives FHE_KEY_SET_TTL_S = 7 days after its last upload; then inference answers
 *     404 `unknown-key` and the next upload to the model deletes it.
 * So one model stores at most 32 × 48 MiB = 1.5 GiB of keys.
 *
 * The endpoint never receives a secret key: the key frame's schema admits only `relin` and
 * `galois` parts, each must load as that SEAL key type under the model's parameters. Errors
 * go through the app's one boundary (functions/errors.ts): problem-details JSON with a stable
 * code, FheError codes included; unknown errors are a bare 500.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import sealWasm from "../../node_modules/node-seal/dist/seal_throws.wasm";
import { CkksContext } from "../../client/fhe/context.ts";
import { FheError } from "../../client/fhe/errors.ts";
import { EvaluationKeys, PlanEvaluator } from "../../client/fhe/evaluator.ts";
import { compilePlan } from "../../client/fhe/model.ts";
import { modelIdSchema, publicInfo, verifyPackage, type ModelPackage } from "../../client/fhe/package.ts";
import { paramsKey } from "../../client/fhe/params.ts";
import { loadSeal } from "../../client/fhe/seal.ts";
import { decodeFrame, encodeFrame, FRAME_CONTENT_TYPE } from "../../client/fhe/wire.ts";
import { keyFrameHeaderSchema, inferFrameHeaderSchema, keyIdOf, fhePackageObject } from "../../client/fhe/protocol.ts";
import { requireApiToken } from "../auth.ts";
import { readBody } from "../../client/fhe/http-body.ts";
import { ApiError, errorBoundary } from "../errors.ts";
import type { Env } from "../env.ts";
import { enforceR2Quota } from "./r2-quota.ts";

export type FheBindings = Pick<Env, "MODELS" | "API_TOKEN" | "FHE_MAX_KEY_SET_BYTES" | "FHE_MAX_KEY_SETS_PER_MODEL" | "FHE_KEY_SET_TTL_S">;
type FheEnv = { Bindings: FheBindings };

const MAX_PACKAGE_BYTES = 8 * 2 ** 20;
/** Frame overhead beyond the key parts: magic, version, ≤ 4096-byte header, counts, lengths. */
const FRAME_SLACK = 8192;
const PACKAGE_TTL_MS = 30_000;

/** Default quotas (see the module comment). */
export const FHE_KEY_LIMITS = { keySetBytes: 48 * 2 ** 20, keySetsPerModel: 32, keySetTtlS: 7 * 24 * 3600 } as const;

function positiveInt(v: string | undefined, fallback: number): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** The effective quotas: Worker vars when set to a positive integer, else the defaults. */
export function keyLimits(env: FheBindings): { keySetBytes: number; keySetsPerModel: number; keySetTtlMs: number } {
  return {
    keySetBytes: positiveInt(env.FHE_MAX_KEY_SET_BYTES, FHE_KEY_LIMITS.keySetBytes),
    keySetsPerModel: positiveInt(env.FHE_MAX_KEY_SETS_PER_MODEL, FHE_KEY_LIMITS.keySetsPerModel),
    keySetTtlMs: positiveInt(env.FHE_KEY_SET_TTL_S, FHE_KEY_LIMITS.keySetTtlS) * 1000,
  };
}

/** R2 object of an evaluation-key set: scoped to the model it was uploaded for (quota unit). */
export const fheModelKeysPrefix = (modelId: string): string => `fhe-keys/${modelId}/`;
const keyObject = (modelId: string, keyId: string): string => `${fheModelKeysPrefix(modelId)}${keyId}`;

/** When a stored key set expires: its `expiresAt` metadata, else upload time + TTL. */
function expiresAt(o: { customMetadata?: Record<string, string>; uploaded: Date }, ttlMs: number): number {
  const t = Number(o.customMetadata?.expiresAt);
  return Number.isFinite(t) ? t : o.uploaded.getTime() + ttlMs;
}

/** Header of a stored key-set object. */
const storedKeyHeaderSchema = keyFrameHeaderSchema.extend({ paramsKey: z.string() });

// Per-isolate caches (bounded).
const packages = new Map<string, { pkg: ModelPackage; evaluator: PlanEvaluator; at: number }>();
/** `<modelId>/<keyId>` → loaded keys and their expiry. */
const keyCache = new Map<string, { keys: EvaluationKeys; expiresAt: number }>();
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

/** Removes `key` from a cache, retiring its SEAL object (`held`) unless it is `keep`. */
function evict<V>(cache: Map<string, V>, key: string, held: (v: V) => { dispose(): void }, keep?: unknown): void {
  const v = cache.get(key);
  if (v === undefined) return;
  cache.delete(key);
  if (held(v) !== keep) retire(held(v));
}

/** Stores `value` under `key` as the newest entry, evicting the oldest beyond `max`. */
function cacheSet<V>(cache: Map<string, V>, key: string, value: V, max: number, held: (v: V) => { dispose(): void }): void {
  evict(cache, key, held, held(value));
  if (cache.size >= max) evict(cache, cache.keys().next().value!, held);
  cache.set(key, value);
}

/** Test hook: drop this isolate's caches (as after an eviction). */
export function clearInferCaches(): void {
  for (const v of packages.values()) retire(v.evaluator);
  packages.clear();
  for (const k of keyCache.values()) retire(k.keys);
  keyCache.clear();
  reap();
}

/** Number of cached key sets and models (for tests). */
export function inferCacheSizes(): { keys: number; models: number } {
  return { keys: keyCache.size, models: packages.size };
}

function modelId(c: Context<FheEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!modelIdSchema.safeParse(id).success) throw new ApiError(400, "bad-request", "invalid model id");
  return id;
}


async function loadModel(env: FheBindings, id: string): Promise<{ pkg: ModelPackage; evaluator: PlanEvaluator; ctx: CkksContext }> {
  const seal = await loadSeal({ wasmModule: sealWasm });
  const hit = packages.get(id);
  if (hit && Date.now() - hit.at < PACKAGE_TTL_MS) return { ...hit, ctx: hit.evaluator.ctx };
  const obj = await env.MODELS.get(fhePackageObject(id));
  if (!obj) throw new ApiError(404, "unknown-model", `no FHE package for model ${id}`);
  const pkg = await verifyPackage(await obj.json());
  if (hit && hit.pkg.hash === pkg.hash) {
    hit.at = Date.now();
    return { ...hit, ctx: hit.evaluator.ctx };
  }
  const ctx = CkksContext.get(seal, pkg.ckks);
  const evaluator = new PlanEvaluator(ctx, compilePlan(pkg.model));
  cacheSet(packages, id, { pkg, evaluator, at: Date.now() }, MAX_CACHED_MODELS, (v) => v.evaluator);
  return { pkg, evaluator, ctx };
}

function cacheKeys(cacheKey: string, keys: EvaluationKeys, expires: number): void {
  cacheSet(keyCache, cacheKey, { keys, expiresAt: expires }, MAX_CACHED_KEYS, (v) => v.keys);
}

function keyParts(frameParts: Uint8Array[], kinds: Array<"relin" | "galois">): { relin?: Uint8Array; galois?: Uint8Array } {
  const out: { relin?: Uint8Array; galois?: Uint8Array } = {};
  kinds.forEach((k, i) => {
    if (out[k]) throw new ApiError(400, "bad-keys", `duplicate ${k} part`);
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
    requireApiToken(c);
    const id = modelId(c);
    const body = await readBody(c.req, { types: ["application/json"], max: MAX_PACKAGE_BYTES, code: "oversized", what: "body" });
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new ApiError(400, "bad-request", "body is not JSON");
    }
    const pkg = await verifyPackage(json);
    if (pkg.modelId !== id) throw new ApiError(400, "model-id-mismatch", `package is for model ${pkg.modelId}, not ${id}`);
    await c.env.MODELS.put(fhePackageObject(id), JSON.stringify(pkg), { httpMetadata: { contentType: "application/json" }, customMetadata: { hash: pkg.hash } });
    evict(packages, id, (v) => v.evaluator);
    return c.json({ modelId: id, version: pkg.version, hash: pkg.hash, depth: pkg.depth }, 201);
  })
  .get("/:id/package", async (c) => {
    const id = modelId(c);
    if (c.req.header("authorization") !== undefined) {
      requireApiToken(c);
      const obj = await c.env.MODELS.get(fhePackageObject(id));
      if (!obj) throw new ApiError(404, "unknown-model", `no FHE package for model ${id}`);
      return new Response(obj.body, { headers: { "content-type": "application/json", etag: obj.httpEtag } });
    }
    const { pkg } = await loadModel(c.env, id);
    return c.json(publicInfo(pkg));
  })
  .post("/:id/keys", async (c) => {
    requireApiToken(c);
    const id = modelId(c);
    const lim = keyLimits(c.env);
    const { ctx } = await loadModel(c.env, id);
    const upload = await readBody(c.req, { types: [FRAME_CONTENT_TYPE], max: lim.keySetBytes + FRAME_SLACK, code: "key-set-too-large", what: "evaluation-key upload" });
    const frame = decodeFrame(upload, { maxParts: 2, maxPartBytes: lim.keySetBytes + FRAME_SLACK });
    const total = frame.parts.reduce((n, p) => n + p.length, 0);
    if (total > lim.keySetBytes) throw new ApiError(413, "key-set-too-large", `evaluation-key set of ${total} bytes exceeds the limit of ${lim.keySetBytes}`);
    if (JSON.stringify(frame.header).toLowerCase().includes("secret")) throw new ApiError(400, "secret-key-refused", "the endpoint accepts only public evaluation keys (relin, galois)");
    const r = keyFrameHeaderSchema.safeParse(frame.header);
    if (!r.success) throw new ApiError(400, "bad-keys", `key frame header: ${r.error.issues[0]?.message ?? "invalid"}`);
    if (r.data.kinds.length !== frame.parts.length) throw new ApiError(400, "bad-keys", "kinds and parts disagree");
    const parts = keyParts(frame.parts, r.data.kinds);
    const keys = EvaluationKeys.load(ctx, parts, lim.keySetBytes); // validates before anything is stored
    const pk = paramsKey(ctx.params);
    let keyId: string;
    let expires: number;
    try {
      keyId = await keyIdOf(pk, parts);
      const name = keyObject(id, keyId);
      const now = Date.now();
      const stored = await c.env.MODELS.head(name);
      const storedUntil = stored ? expiresAt(stored, lim.keySetTtlMs) : 0;
      expires = storedUntil;
      if (storedUntil <= now) {
        // a new (or expired) set takes a slot
        await enforceR2Quota(c.env.MODELS, fheModelKeysPrefix(id), now, (o) => expiresAt(o, lim.keySetTtlMs), lim.keySetsPerModel, (live) =>
          `model ${id} already stores ${live} evaluation-key sets (limit ${lim.keySetsPerModel}); delete unused ones (DELETE /v1/models/${id}/keys/<keyId>) or wait until they expire`);
      }
      if (storedUntil - now < lim.keySetTtlMs / 2) {
        // new, expired, or past half its life: (re)store it, which renews it
        expires = now + lim.keySetTtlMs;
        await c.env.MODELS.put(name, encodeFrame({ v: 1, kinds: r.data.kinds, paramsKey: pk }, r.data.kinds.map((k) => parts[k]!)), {
          customMetadata: { paramsKey: pk, expiresAt: String(expires) },
        });
      }
    } catch (e) {
      retire(keys);
      throw e;
    }
    cacheKeys(`${id}/${keyId}`, keys, expires);
    return c.json({ keyId, paramsKey: pk, expiresAt: expires }, 201);
  })
  .delete("/:id/keys/:keyId", async (c) => {
    requireApiToken(c);
    const id = modelId(c);
    const keyId = c.req.param("keyId");
    if (!/^[0-9a-f]{64}$/.test(keyId)) throw new ApiError(400, "bad-request", "invalid key id");
    await c.env.MODELS.delete(keyObject(id, keyId));
    evict(keyCache, `${id}/${keyId}`, (v) => v.keys);
    return c.body(null, 204);
  })
  .post("/:id/infer", async (c) => {
    requireApiToken(c);
    const id = modelId(c);
    // Server-Timing: where a request's time goes (model, body, keys, evaluation, response frame), in ms
    const marks: Array<[string, number]> = [];
    let mark = performance.now();
    const lap = (name: string) => {
      const now = performance.now();
      marks.push([name, now - mark]);
      mark = now;
    };
    const { pkg, evaluator, ctx } = await loadModel(c.env, id);
    lap("model");
    const lim = keyLimits(c.env);
    const maxCt = ctx.maxCiphertextBytes();
    const frame = decodeFrame(await readBody(c.req, { types: [FRAME_CONTENT_TYPE], max: pkg.model.inputDim * (maxCt + 4) + 8192, code: "oversized", what: "body" }), { maxParts: pkg.model.inputDim, maxPartBytes: maxCt });
    const r = inferFrameHeaderSchema.safeParse(frame.header);
    if (!r.success) throw new ApiError(400, "bad-request", `infer frame header: ${r.error.issues[0]?.path.join(".")}: ${r.error.issues[0]?.message}`);
    const { keyId, mode } = r.data;
    lap("body");
    const cacheKey = `${id}/${keyId}`;
    const now = Date.now();
    if ((keyCache.get(cacheKey)?.expiresAt ?? Infinity) <= now) evict(keyCache, cacheKey, (v) => v.keys);
    const hit = keyCache.get(cacheKey);
    let keys: EvaluationKeys;
    if (hit) {
      keyCache.delete(cacheKey); // LRU: re-insert at the end
      keyCache.set(cacheKey, hit);
      keys = hit.keys;
    } else {
      const obj = await c.env.MODELS.get(keyObject(id, keyId));
      if (!obj || expiresAt(obj, lim.keySetTtlMs) <= now) {
        throw new ApiError(404, "unknown-key", `no evaluation keys with id ${keyId} for model ${id}; upload them first`);
      }
      const kf = decodeFrame(new Uint8Array(await obj.arrayBuffer()), { maxParts: 2, maxPartBytes: lim.keySetBytes + FRAME_SLACK });
      const kh = storedKeyHeaderSchema.safeParse(kf.header);
      if (!kh.success) throw new ApiError(400, "bad-keys", "the stored key set is unreadable; upload it again");
      if (kh.data.paramsKey !== paramsKey(ctx.params)) throw new ApiError(400, "bad-keys", "these evaluation keys were made for other CKKS parameters");
      keys = EvaluationKeys.load(ctx, keyParts(kf.parts, kh.data.kinds), lim.keySetBytes);
      cacheKeys(cacheKey, keys, expiresAt(obj, lim.keySetTtlMs));
    }
    lap("keys");
    if (mode === "single" && frame.parts.length !== 1) throw new FheError("shape-mismatch", "single mode takes one ciphertext");
    // single rows of a single-layer model: masked sum (no keys used) or rotate-and-sum, as the querier asks
    const out = mode === "batch" ? evaluator.evaluateBatch(frame.parts, keys, r.data.compression, r.data.packing) : r.data.single === "constant-term" ? evaluator.evaluateConstantTerm(frame.parts[0]!) : r.data.single === "masked-sum" ? evaluator.evaluateMaskedSum(frame.parts[0]!, r.data.compression) : evaluator.evaluateSingle(frame.parts[0]!, keys, r.data.compression);
    lap("eval");
    const body = encodeFrame({ v: 1, mode, modelHash: pkg.hash, outputs: out.length }, out);
    lap("frame");
    return new Response(body, { headers: { "content-type": FRAME_CONTENT_TYPE, "server-timing": marks.map(([n, ms]) => `${n};dur=${ms.toFixed(2)}`).join(", ") } });
  })
  .onError(errorBoundary);

