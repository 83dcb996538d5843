/**
 * Authentication: bearer API token (job submitters, operators) and signed node requests
 * (protocol/crypto/request.ts) with replay protection in the node's registry shard
 * (durable-objects/registry-shard-do.ts): every nonce is consumed in the one shard its node id
 * maps to, before the route performs any write.
 *
 * Atomicity: the nonce and a route's D1 writes are no longer one transaction. A replay is
 * refused before any write (routes write only after the shard said `ok`); a request whose
 * nonce was consumed but whose D1 write then failed answers an error and the client signs a
 * new request (every client already does: a resent request would be a replay). A heartbeat
 * writes only its shard: nonce and liveness in one shard transaction.
 */
import type { Context, MiddlewareHandler } from "hono";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, fromBase64Url, toHex, utf8 } from "../protocol/encoding.ts";
import { HEADER_NODE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, SIGNATURE_WINDOW_MS, verifyRequestAuth, type RequestAuth } from "../protocol/crypto/request.ts";
import { ApiError } from "./errors.ts";
import type { AppEnv, Env, VerifiedNode } from "./env.ts";
import { nodeRegistry } from "../durable-objects/registry-shard-do.ts";

/** Constant-time check of `Authorization: Bearer <API_TOKEN>`. Fails closed when no token is configured. */
export function tokenMatches(env: Pick<Env, "API_TOKEN">, header: string | undefined): boolean {
  const expected = env.API_TOKEN;
  if (!expected || !header) return false;
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
  if (!m) return false;
  return bytesEqual(sha256(utf8(m[1]!)), sha256(utf8(expected)));
}

/** Throws 401 `unauthorized` unless the request carries the bearer API token ({@link tokenMatches}). */
export function requireApiToken(c: { env: Pick<Env, "API_TOKEN">; req: { header(name: "authorization"): string | undefined } }): void {
  const h = c.req.header("authorization");
  if (!tokenMatches(c.env, h)) throw new ApiError(401, "unauthorized", h ? "invalid API token" : "missing bearer API token");
}

/** Middleware: requires the bearer API token. */
export const requireToken: MiddlewareHandler<AppEnv> = async (c, next) => {
  requireApiToken(c);
  await next();
};

function readAuth(c: Context<AppEnv>): Partial<RequestAuth> {
  const q = (k: string) => c.req.header(k) ?? c.req.query(k);
  return { node: q(HEADER_NODE), timestamp: q(HEADER_TIMESTAMP), nonce: q(HEADER_NONCE), signature: q(HEADER_SIGNATURE) };
}

/**
 * Isolate-local cache of identity keys (node id → key), to save a D1 read per request. A node
 * id is the hash of its key, so a cached key is never wrong for its id; what the cache bounds
 * is how long a deregistered node's key is still accepted by an isolate that cached it. An
 * entry is good for {@link KEY_CACHE_MS} after it was last confirmed: by D1 (lookup or
 * registration), or by the node's registry shard accepting a signed heartbeat (which it does
 * only while the node has no tombstone; {@link confirmNodeKey}). Shard confirmations extend an
 * entry for at most {@link KEY_CONFIRM_MAX_MS} past its last D1 confirmation (shorter than a
 * tombstone's life, core/registry.ts TOMBSTONE_MS), so a node whose deregistration left no
 * tombstone is still refused within minutes. Without the shard confirmations, every key of a
 * fleet larger than ≈ 30 s of requests was re-read from D1 (measured: 10,000 nodes, CPU per
 * signed heartbeat 0.7 → 1.4 ms).
 */
export const KEY_CACHE_MS = 30_000;
/** How long shard confirmations may keep a key cached past its last D1 confirmation. */
export const KEY_CONFIRM_MAX_MS = 4 * 60_000;
const keyCache = new Map<string, { key: Uint8Array; at: number; d1At: number }>();

/** Drops a node from this isolate's key cache (on deregistration or when D1 no longer knows it). */
export function forgetNodeKey(nodeId: string): void {
  keyCache.delete(nodeId);
}

/** Caches a node's identity key in this isolate, confirmed by D1 at `now` (after a registration or a D1 lookup). */
export function rememberNodeKey(nodeId: string, key: Uint8Array, now = Date.now()): void {
  if (keyCache.size > 50_000) keyCache.clear();
  keyCache.set(nodeId, { key, at: now, d1At: now });
}

/**
 * Marks a cached key confirmed at `now`: call only after the node's registry shard accepted a
 * signed heartbeat (no tombstone). No effect for a node not cached, or cached for more than
 * {@link KEY_CONFIRM_MAX_MS} since D1 last confirmed it (its next request then reads D1).
 */
export function confirmNodeKey(nodeId: string, now = Date.now()): void {
  const hit = keyCache.get(nodeId);
  if (hit && now - hit.d1At < KEY_CONFIRM_MAX_MS) hit.at = now;
}

/** The cached key of `nodeId` if still good at `now` (see {@link KEY_CACHE_MS}), else undefined. */
export function cachedNodeKey(nodeId: string, now = Date.now()): Uint8Array | undefined {
  const hit = keyCache.get(nodeId);
  return hit && now - hit.at < KEY_CACHE_MS ? hit.key : undefined;
}

async function nodeKey(env: Env, nodeId: string): Promise<Uint8Array> {
  const hit = cachedNodeKey(nodeId);
  if (hit) return hit;
  const row = await env.DB.prepare("SELECT identity_key FROM nodes WHERE id = ?").bind(nodeId).first<{ identity_key: string }>();
  if (!row) {
    keyCache.delete(nodeId);
    throw new ApiError(401, "unknown-node", "no node is registered under this id");
  }
  const key = fromBase64Url(row.identity_key);
  rememberNodeKey(nodeId, key);
  return key;
}


/** Hex SHA-256 of `bytes` (protocol/crypto/request.ts `bodyHash`) with the platform's native digest instead of the portable JavaScript one. */
async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

/**
 * Verifies a signed node request's timestamp and signature, without consuming the nonce.
 * `publicKey` is the claimed node's Ed25519 key (from the registration body, or looked up in
 * D1 / the isolate cache when omitted). The caller MUST consume the nonce ({@link consumeNonce},
 * {@link readWithNonce}, or a registry shard call that does) before acting on the request.
 * Throws ApiError 401 (missing-signature, bad-signature, stale-timestamp, unknown-node).
 */
export async function verifyNodeDeferred(c: Context<AppEnv>, publicKey?: Uint8Array): Promise<VerifiedNode> {
  const auth = readAuth(c);
  if (!auth.node || !auth.timestamp || !auth.nonce || !auth.signature) throw new ApiError(401, "missing-signature", "signed request headers x-2pm-* are required");
  if (!/^[0-9a-f]{32}$/.test(auth.node)) throw new ApiError(401, "bad-signature", "malformed node id");
  const key = publicKey ?? (await nodeKey(c.env, auth.node));
  const method = c.req.method;
  const body = method === "GET" || method === "HEAD" ? new Uint8Array(0) : new Uint8Array(await c.req.arrayBuffer());
  const err = await verifyRequestAuth({ method, url: c.req.url, bodyHashHex: await sha256Hex(body), auth, publicKey: key });
  if (err === "stale-timestamp") throw new ApiError(401, "stale-timestamp", `timestamp outside ±${SIGNATURE_WINDOW_MS / 1000}s`);
  if (err) throw new ApiError(401, err, "request signature does not verify");
  return { nodeId: auth.node, nonce: auth.nonce };
}

/** The error a replayed nonce answers. */
export function replayError(): ApiError {
  return new ApiError(401, "replay", "nonce already used");
}

/**
 * Consumes the request's nonce in its node's registry shard. Throws ApiError 401 `replay` if
 * it was used before (nothing else happens then); a shard failure propagates (500).
 */
export async function consumeNonce(env: Env, v: VerifiedNode): Promise<void> {
  if ((await nodeRegistry(env).consume(v.nodeId, v.nonce)) === "replay") throw replayError();
}

/**
 * For read-only `statements`: consumes the nonce and runs the reads concurrently (one round
 * trip of latency), returning the reads' results only if the nonce was fresh. Throws ApiError
 * 401 `replay` otherwise (the reads' results are discarded). Never pass a writing statement.
 */
export async function readWithNonce(env: Env, v: VerifiedNode, statements: D1PreparedStatement[]): Promise<D1Result[]> {
  const [, res] = await Promise.all([consumeNonce(env, v), statements.length ? env.DB.batch(statements) : Promise.resolve([])]);
  return res;
}

/** Verifies a signed node request and consumes its nonce at once. Returns the node id; throws as {@link verifyNodeDeferred} and {@link consumeNonce}. */
export async function verifyNode(c: Context<AppEnv>, publicKey?: Uint8Array): Promise<string> {
  const v = await verifyNodeDeferred(c, publicKey);
  await consumeNonce(c.env, v);
  return v.nodeId;
}

/** Middleware: the request must be signed by the node named in the `:id` path parameter. */
export const requireSelf: MiddlewareHandler<AppEnv> = async (c, next) => {
  const nodeId = await verifyNode(c);
  if (nodeId !== c.req.param("id")) throw new ApiError(403, "forbidden", "a node may only act for itself");
  c.set("nodeId", nodeId);
  await next();
};

/**
 * Middleware: like {@link requireSelf} but leaves the nonce to the route, which MUST consume
 * it before any write (`consumeNonce(c.env, c.get("verified"))`, or the heartbeat's shard
 * call, which consumes it with the liveness update in one shard transaction).
 */
export const requireSelfDeferred: MiddlewareHandler<AppEnv> = async (c, next) => {
  const v = await verifyNodeDeferred(c);
  if (v.nodeId !== c.req.param("id")) throw new ApiError(403, "forbidden", "a node may only act for itself");
  c.set("nodeId", v.nodeId);
  c.set("verified", v);
  await next();
};

/**
 * Read access to one job's log and models (DESIGN §5: "readable by the job's submitter and its
 * committee only"): the bearer API token (submitter / operator), or a signed request from a node
 * that sat on at least one of the job's round committees — any attempt of any round, also one
 * that aborted or that it declined (its manifest and commitments are in the log it must check).
 * Membership is the D1 `assignments` table, which the JobDO writes for every committee before a
 * node can learn of its selection and only ever closes (never deletes); the lookup is one
 * primary-key-prefix read (node_id, job_id), concurrent with the nonce's consumption.
 * Throws 401 (no or bad token, unsigned, bad signature, replay) or 403 `not-a-member` — also
 * for a job that does not exist, so nodes cannot probe for job ids.
 */
export async function tokenOrMember(c: Context<AppEnv>, jobId: string): Promise<void> {
  if (c.req.header("authorization")) return requireApiToken(c);
  const v = await verifyNodeDeferred(c);
  const [member] = await readWithNonce(c.env, v, [
    c.env.DB.prepare("SELECT 1 AS m FROM assignments WHERE node_id = ? AND job_id = ? LIMIT 1").bind(v.nodeId, jobId),
  ]);
  if (!member?.results.length) throw new ApiError(403, "not-a-member", "only the job's submitter (API token) and the members of its committees may read this job's log and models");
}
