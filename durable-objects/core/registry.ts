/**
 * The node registry's hot state — liveness and request nonces — sharded over Durable Objects
 * by node id (the way daphne shards its replay checkers: `replay-checker/.../shard/{s}`). Pure:
 * the shard mapping, the object names, the limits and the liveness merge that selection uses.
 * The object itself is durable-objects/registry-shard-do.ts; D1 keeps the durable records only
 * (registration, datasets, assignments, reliability).
 *
 * Shard count. A node id is hex(SHA-256(identity key))[0:32], uniform, so its first 32 bits
 * taken modulo a power of two spread nodes evenly. {@link REGISTRY_SHARDS} = 16: each signed
 * request costs its shard one small SQLite transaction (≈ 0.1–0.3 ms), and one Cloudflare
 * Durable Object serves on the order of 1,000 such requests/s, so 16 shards carry ≈ 16k signed
 * requests/s — 30-second heartbeats from ≈ 400k nodes — while selection still asks at most 16
 * objects (one RPC each, in parallel). A node always maps to exactly one shard, so its nonces
 * live in one place and a replay is refused exactly (no cross-shard check is ever needed).
 * A node can choose its key to land in a given shard (one try in 16), but it only ever loads
 * that shard with its own validly signed requests; per-shard load is what the operator watches.
 *
 * Growing. The count is part of every object name (`registry/16/shard/3`), so a new count
 * names new, empty objects. The operator sets `REGISTRY_SHARDS` to the new count and, for the
 * switch, `REGISTRY_PREVIOUS_SHARDS` (the old count) and `REGISTRY_RESHARDED_AT` (when the new
 * count took effect; {@link registryPlan}). For {@link reshardOverlapMs} after that instant —
 * the longest of a nonce's lifetime, a tombstone's and the liveness window — every nonce is
 * consumed in the node's old shard as well as its new one (so it is refused in every shard it
 * could have landed in), a heartbeat is refused where the old shard holds a tombstone, a
 * deregistration writes both, and liveness falls back to the old shard for nodes that have not
 * heartbeated into their new one yet. After the overlap the old objects are never addressed
 * again (the variables may then be removed). durable-objects/registry-shard-do.ts NodeRegistry
 * carries this out; every Worker and DO path goes through it.
 */
import { SIGNATURE_WINDOW_MS } from "../../protocol/crypto/request.ts";

/** Number of registry shards: a power of two (see the module comment for the choice and how it grows). */
export const REGISTRY_SHARDS = 16;

/**
 * How long a consumed nonce is remembered: twice the signature window, so a request can never
 * be replayed while its timestamp still verifies (±{@link SIGNATURE_WINDOW_MS}).
 */
export const NONCE_TTL_MS = 2 * SIGNATURE_WINDOW_MS;

/**
 * How long a deregistered node's tombstone refuses heartbeats: longer than any Worker isolate
 * caches an identity key (functions/auth.ts: 30 s after its last confirmation, and shard
 * confirmations end with the tombstone), after which the key lookup itself fails.
 */
export const TOMBSTONE_MS = 5 * 60_000;

/** Expired nonces deleted per statement when pruning (keeps each prune transaction short). */
export const PRUNE_BATCH = 5000;

/** Interval of the shard's pruning alarm while it holds nonces or tombstones. */
export const PRUNE_INTERVAL_MS = 30_000;

/** Largest id list one {@link RegistryShard.liveness} call accepts (selection reads ≤ 10,000 candidates in all). */
export const MAX_LIVENESS_IDS = 20_000;

const NODE_ID = /^[0-9a-f]{32}$/;

/** Throws TypeError unless `nodeId` is a well-formed node id (32 lowercase hex digits). */
export function checkNodeId(nodeId: string): void {
  if (typeof nodeId !== "string" || !NODE_ID.test(nodeId)) throw new TypeError(`nodeId must be 32 lowercase hex digits, got ${JSON.stringify(nodeId)}`);
}

/**
 * The shard holding `nodeId`'s liveness and nonces: its first 32 bits modulo `shards`.
 * Deterministic and total over well-formed ids; throws TypeError for a malformed id and
 * RangeError for a shard count that is not a power of two in [1, 2^16].
 */
export function registryShardOf(nodeId: string, shards = REGISTRY_SHARDS): number {
  checkNodeId(nodeId);
  if (!Number.isInteger(shards) || shards < 1 || shards > 65536 || (shards & (shards - 1)) !== 0) throw new RangeError(`shards must be a power of two in [1, 65536], got ${shards}`);
  return Number.parseInt(nodeId.slice(0, 8), 16) % shards;
}

/** `registry/<shards>/shard/<shard>`: the Durable Object name of one registry shard. Throws RangeError for a shard out of range. */
export function registryShardName(shard: number, shards = REGISTRY_SHARDS): string {
  if (!Number.isInteger(shard) || shard < 0 || shard >= shards) throw new RangeError(`shard must be an integer in [0, ${shards}), got ${shard}`);
  return `registry/${shards}/shard/${shard}`;
}

/** Inverse of {@link registryShardName}: the shard index named, or null for any other string. */
export function parseRegistryShardName(name: string, shards = REGISTRY_SHARDS): number | null {
  const m = /^registry\/(\d+)\/shard\/(\d+)$/.exec(name);
  if (!m || Number(m[1]) !== shards) return null;
  const s = Number(m[2]);
  return s < shards && registryShardName(s, shards) === name ? s : null;
}

/**
 * Inverse of {@link registryShardName} for any shard count: `{ shards, shard }` for a
 * well-formed name whose count is a power of two in [1, 65536], else null. A RegistryShardDO
 * reads its own count from its name, so objects of the old and the new count coexist.
 */
export function parseAnyRegistryShardName(name: string): { shards: number; shard: number } | null {
  const m = /^registry\/(\d{1,5})\/shard\/(\d{1,5})$/.exec(name);
  if (!m) return null;
  const shards = Number(m[1]);
  if (shards < 1 || shards > 65536 || (shards & (shards - 1)) !== 0) return null;
  const shard = parseRegistryShardName(name, shards);
  return shard === null ? null : { shards, shard };
}

/** Which shard counts the registry addresses now: the current one and, during a switch, the previous one until `until` (Unix ms). */
export interface RegistryPlan {
  readonly shards: number;
  readonly previous: { readonly shards: number; readonly until: number } | null;
}

/** The Worker variables that configure the registry (all optional strings; see {@link registryPlan}). */
export interface RegistryVars {
  REGISTRY_SHARDS?: string;
  REGISTRY_PREVIOUS_SHARDS?: string;
  REGISTRY_RESHARDED_AT?: string;
  LIVENESS_WINDOW_S?: string;
}

/** Thrown for registry variables that do not describe a valid plan (an operator's configuration error). */
export class RegistryConfigError extends Error {
  override readonly name = "RegistryConfigError";
}

function shardCount(v: string, what: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65536 || (n & (n - 1)) !== 0) throw new RegistryConfigError(`${what} must be a power of two in [1, 65536], got ${JSON.stringify(v)}`);
  return n;
}

/** How long the old count stays addressed after a switch: the longest-lived of a nonce, a tombstone and a liveness record (`livenessWindowMs`). */
export function reshardOverlapMs(livenessWindowMs: number): number {
  return Math.max(NONCE_TTL_MS, TOMBSTONE_MS, livenessWindowMs);
}

/**
 * The registry plan at `now` from the Worker variables: `REGISTRY_SHARDS` (default
 * {@link REGISTRY_SHARDS}); with `REGISTRY_PREVIOUS_SHARDS` and `REGISTRY_RESHARDED_AT` (an
 * ISO date or Unix ms) set together, the previous count stays addressed until
 * {@link reshardOverlapMs} after the switch, then `previous` is null. Throws
 * RegistryConfigError for a count that is not a power of two, an unparsable instant, or only
 * one of the two switch variables set.
 */
export function registryPlan(vars: RegistryVars, now: number): RegistryPlan {
  const shards = vars.REGISTRY_SHARDS === undefined || vars.REGISTRY_SHARDS === "" ? REGISTRY_SHARDS : shardCount(vars.REGISTRY_SHARDS, "REGISTRY_SHARDS");
  const prev = vars.REGISTRY_PREVIOUS_SHARDS || undefined, at = vars.REGISTRY_RESHARDED_AT || undefined;
  if (prev === undefined && at === undefined) return { shards, previous: null };
  if (prev === undefined || at === undefined) throw new RegistryConfigError("REGISTRY_PREVIOUS_SHARDS and REGISTRY_RESHARDED_AT must be set together");
  const previousShards = shardCount(prev, "REGISTRY_PREVIOUS_SHARDS");
  const since = /^\d+$/.test(at) ? Number(at) : Date.parse(at);
  if (!Number.isFinite(since)) throw new RegistryConfigError(`REGISTRY_RESHARDED_AT must be an ISO date or Unix ms, got ${JSON.stringify(at)}`);
  const windowS = Number(vars.LIVENESS_WINDOW_S ?? "120");
  const until = since + reshardOverlapMs(Number.isFinite(windowS) && windowS > 0 ? windowS * 1000 : 120_000);
  return { shards, previous: previousShards === shards || now >= until ? null : { shards: previousShards, until } };
}

/** Groups node ids by shard (each id once), for one liveness RPC per shard. */
export function groupByShard(nodeIds: Iterable<string>, shards = REGISTRY_SHARDS): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const seen = new Set<string>();
  for (const id of nodeIds) {
    if (seen.has(id)) continue;
    seen.add(id);
    const s = registryShardOf(id, shards);
    const list = out.get(s);
    if (list) list.push(id);
    else out.set(s, [id]);
  }
  return out;
}

/** A heartbeat's conditions (protocol/api/schemas.ts Heartbeat, without datasets). */
export interface Conditions {
  load: number;
  freeMemoryMb: number;
  onBattery: boolean;
  online: boolean;
}

/** What a shard knows about a registered node: when it was last seen and its last reported conditions. */
export interface Liveness {
  /** Unix ms of the last registration or heartbeat. */
  lastSeen: number;
  online: boolean;
  onBattery: boolean;
  /** null until the first heartbeat after registration. */
  load: number | null;
  freeMemoryMb: number | null;
}

/** Outcome of consuming a nonce: `replay` means it was consumed before and nothing was written. */
export type ConsumeResult = "ok" | "replay";

/** Outcome of a heartbeat: also `unknown-node` when the node was deregistered (tombstone) — nonce consumed, liveness unchanged. */
export type HeartbeatResult = { outcome: "ok"; lastSeen: number } | { outcome: "replay" } | { outcome: "unknown-node" };

/** The RPC surface of one registry shard (implemented by RegistryShardDO). */
export interface RegistryShard {
  consume(nodeId: string, nonce: string): Promise<ConsumeResult>;
  register(nodeId: string, nonce: string): Promise<{ outcome: ConsumeResult; liveness: Liveness | null }>;
  heartbeat(nodeId: string, nonce: string, conditions: Conditions): Promise<HeartbeatResult>;
  forget(nodeId: string): Promise<void>;
  liveness(nodeIds: string[]): Promise<Array<[string, Liveness]>>;
}

/**
 * A registered node's liveness for selection: the shard's record when it has one, else the
 * D1 registration record (its `last_seen` is the registration time; a node registered before
 * liveness moved to the shards keeps its last D1 values until its next heartbeat).
 */
export function mergeLiveness(d1: { lastSeen: number; online: boolean; onBattery: boolean }, shard: Liveness | undefined): { lastSeen: number; online: boolean; onBattery: boolean } {
  return shard ? { lastSeen: shard.lastSeen, online: shard.online, onBattery: shard.onBattery } : d1;
}
