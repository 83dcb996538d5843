/**
 * Node registry: register, heartbeat, own record, deregister, operator list. D1 holds the
 * durable records (registration, datasets, reliability); liveness (last seen, online,
 * conditions) and nonces live in the node's registry shard (durable-objects/registry-shard-do.ts),
 * so a heartbeat never writes D1. Records returned here overlay the shard's liveness on D1's.
 */
import { verifyConsortium, type Membership } from "../../protocol/consortium.ts";
import { Hono, type Context } from "hono";
import { fromBase64Url } from "../../protocol/encoding.ts";
import { nodeIdFromPublicKey } from "../../protocol/crypto/identity.ts";
import { HEADER_NODE } from "../../protocol/crypto/request.ts";
import { Heartbeat, NodeRegistration, PageQuery, type DatasetDescriptor, type NodeRecord } from "../../protocol/api/schemas.ts";
import { confirmNodeKey, forgetNodeKey, rememberNodeKey, replayError, requireApiToken, requireSelfDeferred, requireToken, verifyNode, verifyNodeDeferred } from "../auth.ts";
import { nodeRegistry } from "../../durable-objects/registry-shard-do.ts";
import type { Liveness } from "../../durable-objects/core/registry.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv, Env } from "../env.ts";
import { jsonLimit } from "../limits.ts";
import { jsonBody, queryParams, rawBody } from "../validate.ts";

type NodeRow = {
  id: string; identity_key: string; kx_key: string; label: string | null; cores: number; memory_mb: number; bandwidth_mbps: number;
  avail_from: number | null; avail_to: number | null; load: number | null; free_memory_mb: number | null; on_battery: number | null; online: number;
  registered_at: number; last_seen: number; reliability: number;
};

async function loadNode(env: Env, id: string): Promise<NodeRecord | null> {
  if (!/^[0-9a-f]{32}$/.test(id)) return null; // not a node id: no D1 row, no shard to ask
  const [[n, ds], live] = await Promise.all([
    env.DB.batch([
      env.DB.prepare("SELECT * FROM nodes WHERE id = ?").bind(id),
      env.DB.prepare("SELECT schema_id, rows, commitment FROM node_datasets WHERE node_id = ? ORDER BY schema_id").bind(id),
    ]),
    nodeRegistry(env).liveness([id]),
  ]);
  const row = (n!.results as NodeRow[])[0];
  if (!row) return null;
  return toRecord(withLiveness(row, live.get(id)), ds!.results as Array<{ schema_id: string; rows: number; commitment: string }>);
}

/** The D1 row with the shard's liveness laid over it (D1's own columns only for a node the shard has not seen). */
function withLiveness(row: NodeRow, l: Liveness | undefined | null): NodeRow {
  if (!l) return row;
  return {
    ...row, last_seen: l.lastSeen, online: l.online ? 1 : 0,
    ...(l.load !== null ? { load: l.load, free_memory_mb: l.freeMemoryMb, on_battery: l.onBattery ? 1 : 0 } : {}),
  };
}

function toRecord(row: NodeRow, ds: Array<{ schema_id: string; rows: number; commitment: string }>): NodeRecord {
  return {
    id: row.id, identityKey: row.identity_key, kxKey: row.kx_key, label: row.label,
    capabilities: {
      cores: row.cores, memoryMb: row.memory_mb, bandwidthMbps: row.bandwidth_mbps,
      ...(row.avail_from !== null && row.avail_to !== null ? { availability: { fromHourUtc: row.avail_from, toHourUtc: row.avail_to } } : {}),
    },
    datasets: ds.map((d) => ({ schemaId: d.schema_id, rows: d.rows, commitment: d.commitment })),
    conditions: row.load === null ? null : { load: row.load, freeMemoryMb: row.free_memory_mb ?? 0, onBattery: row.on_battery === 1, online: row.online === 1 },
    registeredAt: row.registered_at, lastSeen: row.last_seen, reliability: row.reliability,
  };
}

function datasetStatements(env: Env, id: string, ds: DatasetDescriptor[], now: number): D1PreparedStatement[] {
  return [
    env.DB.prepare("DELETE FROM node_datasets WHERE node_id = ?").bind(id),
    ...ds.map((d) => env.DB.prepare("INSERT INTO node_datasets (node_id, schema_id, rows, commitment, updated_at) VALUES (?, ?, ?, ?, ?)").bind(id, d.schemaId, d.rows, d.commitment, now)),
  ];
}

/** Operators (token) may read or delete any node; a node (signed) only itself. */
async function selfOrOperator(c: Context<AppEnv>): Promise<void> {
  if (c.req.header("authorization")) return requireApiToken(c);
  const nodeId = await verifyNode(c);
  if (nodeId !== c.req.param("id")) throw new ApiError(403, "forbidden", "a node may only act for itself");
}

let consortiumCache: { src: string; membership: Membership } | undefined;

/**
 * The coordinator's consortium (CONSORTIUM_ADMIN_KEY + CONSORTIUM_LIST), verified once per
 * isolate, or null when not configured. A list that does not verify is an operator error:
 * 503 `consortium-invalid`, never silently open registration.
 */
function consortiumOf(env: Env): Membership | null {
  const key = env.CONSORTIUM_ADMIN_KEY?.trim(), list = env.CONSORTIUM_LIST?.trim();
  if (!key && !list) return null;
  const src = `${key}\n${list}`;
  if (consortiumCache?.src === src) return consortiumCache.membership;
  try {
    const membership = verifyConsortium(JSON.parse(list ?? ""), key ?? "");
    consortiumCache = { src, membership };
    return membership;
  } catch (e) {
    throw new ApiError(503, "consortium-invalid", `the configured consortium list is not usable: ${e instanceof Error ? e.message : "malformed"}`);
  }
}

export const nodeRoutes = new Hono<AppEnv>()
  /**
   * Register (or re-register with new capabilities). Signed with the key being registered. The
   * nonce is consumed (and the node marked seen) in its shard first; a replay writes nothing.
   */
  .post("/", jsonLimit, rawBody, jsonBody(NodeRegistration), async (c) => {
    const reg = c.req.valid("json");
    const identityKey = fromBase64Url(reg.identityKey);
    const id = nodeIdFromPublicKey(identityKey);
    if (c.req.header(HEADER_NODE) && c.req.header(HEADER_NODE) !== id) throw new ApiError(403, "forbidden", "x-2pm-node must be the id of the registered identity key");
    const v = await verifyNodeDeferred(c, identityKey);
    const members = consortiumOf(c.env);
    if (members && !members.has(id, reg.identityKey)) throw new ApiError(403, "not-a-member", `this coordinator admits only the members of consortium "${members.name}"`);
    const shard = await nodeRegistry(c.env).register(id, v.nonce);
    if (shard.outcome === "replay") throw replayError();
    const now = Date.now();
    const a = reg.capabilities.availability;
    const res = await c.env.DB.batch([
      c.env.DB.prepare(
        `INSERT INTO nodes (id, identity_key, kx_key, label, cores, memory_mb, bandwidth_mbps, avail_from, avail_to, online, registered_at, last_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET kx_key = excluded.kx_key, label = excluded.label, cores = excluded.cores, memory_mb = excluded.memory_mb,
           bandwidth_mbps = excluded.bandwidth_mbps, avail_from = excluded.avail_from, avail_to = excluded.avail_to, online = 1, last_seen = excluded.last_seen
         RETURNING *`,
      ).bind(id, reg.identityKey, reg.kxKey, reg.label ?? null, reg.capabilities.cores, reg.capabilities.memoryMb, reg.capabilities.bandwidthMbps, a?.fromHourUtc ?? null, a?.toHourUtc ?? null, now, now),
      ...datasetStatements(c.env, id, reg.datasets, now),
    ]);
    rememberNodeKey(id, identityKey);
    const row = (res[0]!.results as NodeRow[])[0]!;
    const node = toRecord(withLiveness(row, shard.liveness), reg.datasets.map((d) => ({ schema_id: d.schemaId, rows: d.rows, commitment: d.commitment })));
    return c.json({ node }, 201);
  })
  /**
   * Heartbeat with current conditions (optionally new dataset descriptors). Signed by the node
   * itself. Nonce and liveness are one transaction in the node's registry shard (no D1 write);
   * only new dataset descriptors go to D1, after the nonce was consumed.
   */
  .post("/:id/heartbeat", jsonLimit, rawBody, requireSelfDeferred, jsonBody(Heartbeat), async (c) => {
    const hb = c.req.valid("json");
    const id = c.get("nodeId");
    const r = await nodeRegistry(c.env).heartbeat(id, c.get("verified").nonce, { load: hb.load, freeMemoryMb: hb.freeMemoryMb, onBattery: hb.onBattery, online: hb.online });
    if (r.outcome === "replay") throw replayError();
    if (r.outcome === "unknown-node") {
      forgetNodeKey(id); // deregistered meanwhile (key came from this isolate's cache)
      throw new ApiError(401, "unknown-node", "no node is registered under this id");
    }
    confirmNodeKey(id); // the shard holds no tombstone: the node is still registered
    if (hb.datasets) await c.env.DB.batch(datasetStatements(c.env, id, hb.datasets, r.lastSeen));
    return c.json({ ok: true as const, lastSeen: r.lastSeen });
  })
  /** The node's own record (signed), or any record (operator token). */
  .get("/:id", async (c) => {
    await selfOrOperator(c);
    const node = await loadNode(c.env, c.req.param("id"));
    if (!node) throw new ApiError(404, "not-found", "no such node");
    return c.json({ node });
  })
  /**
   * Deregister: the node (signed) or an operator (token). Open assignments are closed; the
   * node's shard keeps a tombstone, so no isolate's cached key lets a heartbeat through. The
   * tombstone is written before the D1 rows go: a failure in between leaves the node
   * registered (and refused by its shard), so the same DELETE can be retried; the other order
   * would leave a deleted node without a tombstone and every retry answered 404.
   */
  .delete("/:id", async (c) => {
    await selfOrOperator(c);
    const id = c.req.param("id");
    if (!(await c.env.DB.prepare("SELECT 1 AS one FROM nodes WHERE id = ?").bind(id).first())) throw new ApiError(404, "not-found", "no such node");
    forgetNodeKey(id);
    await nodeRegistry(c.env).forget(id);
    await c.env.DB.batch([
      c.env.DB.prepare("DELETE FROM node_datasets WHERE node_id = ?").bind(id),
      c.env.DB.prepare("UPDATE assignments SET status = 'closed' WHERE node_id = ?").bind(id),
      c.env.DB.prepare("DELETE FROM nodes WHERE id = ?").bind(id),
    ]);
    return c.json({ ok: true as const });
  })
  /**
   * Operator list (token), most recently registered first (D1's `last_seen` is the last
   * registration; `lastSeen` in each record is the shard's). `?limit=` (≤ 500), `?offset=`.
   */
  .get("/", requireToken, queryParams(PageQuery), async (c) => {
    const limit = Math.min(500, c.req.valid("query").limit ?? 100);
    const offset = c.req.valid("query").offset ?? 0;
    const { results } = await c.env.DB.prepare("SELECT * FROM nodes ORDER BY last_seen DESC LIMIT ? OFFSET ?").bind(limit, offset).all<NodeRow>();
    const ids = results.map((r) => r.id);
    const ds = ids.length
      ? (await c.env.DB.prepare(`SELECT node_id, schema_id, rows, commitment FROM node_datasets WHERE node_id IN (${ids.map(() => "?").join(",")})`).bind(...ids).all<{ node_id: string; schema_id: string; rows: number; commitment: string }>()).results
      : [];
    const live = await nodeRegistry(c.env).liveness(ids);
    const nodes = results.map((r) => toRecord(withLiveness(r, live.get(r.id)), ds.filter((d) => d.node_id === r.id)));
    return c.json({ nodes, limit, offset });
  });
