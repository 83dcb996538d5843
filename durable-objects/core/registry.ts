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
 * names new, empty objects. To double it: for one nonce lifetime ({@link NONCE_TTL_MS}) after
 * the switch, consume each nonce in the node's new shard AND its old shard (a nonce is then
 * refused in every shard it could have landed in), and read liveness from the new shard
 * falling back to the old one; after one liveness window every live node has heartbeated into
 * its new shard and the old objects can be deleted. Until a count change is needed this is not
 * wired (a change of {@link REGISTRY_SHARDS} without it would forget up to two minutes of nonces).
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
 * caches an identity key (functions/auth.ts, 30 s), after which the key lookup itself fails.
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
