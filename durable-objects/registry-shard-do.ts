/**
 * RegistryShardDO: one of {@link REGISTRY_SHARDS} objects, named `registry/<shards>/shard/<s>`
 * (durable-objects/core/registry.ts), holding for the nodes that map to it their liveness
 * (last seen, online, the conditions selection uses) and the nonces of their signed requests.
 * A heartbeat is one small SQLite transaction here, never a D1 write; the Worker consumes every
 * signed request's nonce here before it performs any write, and selection reads liveness here
 * (one RPC per shard). A deregistered node leaves a tombstone for {@link TOMBSTONE_MS}, so a
 * Worker isolate that still caches its key cannot revive it. One alarm prunes expired nonces
 * and old tombstones in batches while there are any.
 *
 * Group commit: a storage commit costs an fsync (≈ 2 ms on a local disk, a replicated write on
 * Cloudflare), so the writes of all calls that arrive while one batch is open are applied in
 * one transaction and each call answers once that transaction is durable. A nonce is claimed
 * by its INSERT in the batch (the table's primary key refuses a nonce written by any earlier
 * batch or earlier in the same one), so a nonce is `ok` for exactly one call, and a replay is
 * answered with the batch; a failed batch fails all its calls (none answered `ok`, the clients
 * sign new requests).
 *
 * Every method refuses (TypeError `wrong-shard`) a node id that does not map to this object,
 * so a node's nonces can only ever be recorded in its one shard.
 */
import { DurableObject } from "cloudflare:workers";
type Env = Cloudflare.Env; // the Worker bindings, declared in functions/env.ts
import {
  checkNodeId, groupByShard, MAX_LIVENESS_IDS, NONCE_TTL_MS, parseAnyRegistryShardName, PRUNE_BATCH, PRUNE_INTERVAL_MS, registryPlan, registryShardName,
  registryShardOf, REGISTRY_SHARDS, TOMBSTONE_MS, type Conditions, type ConsumeResult, type HeartbeatResult, type Liveness, type RegistryPlan,
  type RegistryShard, type RegistryVars,
} from "./core/registry.ts";

type LivenessRow = { node_id: string; last_seen: number; online: number; on_battery: number; load: number | null; free_memory_mb: number | null };

function toLiveness(r: LivenessRow): Liveness {
  return { lastSeen: r.last_seen, online: r.online === 1, onBattery: r.on_battery === 1, load: r.load, freeMemoryMb: r.free_memory_mb };
}

export class RegistryShardDO extends DurableObject<Env> implements RegistryShard {
  /** This object's shard count and index, from its name; null for an object not named by registryShardName (it refuses every call). */
  private readonly place: { shards: number; shard: number } | null;
  /** The armed alarm time (mirrors storage, loaded at start), so a write arms it at most once. */
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.place = parseAnyRegistryShardName(ctx.id.name ?? "");
    void ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS nonces (node_id TEXT NOT NULL, nonce TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (node_id, nonce)) WITHOUT ROWID");
      sql.exec("CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces (expires_at)");
      sql.exec(`CREATE TABLE IF NOT EXISTS liveness (node_id TEXT PRIMARY KEY, last_seen INTEGER NOT NULL, online INTEGER NOT NULL, on_battery INTEGER NOT NULL DEFAULT 0,
                load REAL, free_memory_mb INTEGER, removed_at INTEGER) WITHOUT ROWID`);
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  private own(nodeId: string): void {
    if (this.place === null) throw new TypeError(`wrong-shard: RegistryShardDO must be addressed by registryShardName(), got ${JSON.stringify(this.ctx.id.name ?? null)}`);
    checkNodeId(nodeId);
    const { shards, shard } = this.place;
    if (registryShardOf(nodeId, shards) !== shard) throw new TypeError(`wrong-shard: node ${nodeId} belongs to shard ${registryShardOf(nodeId, shards)} of ${shards}, not ${shard}`);
  }

  /** Writes of the open batch, applied in order in one transaction by {@link commit}. */
  private batch: Array<() => void> = [];
  /** Settles when the open batch is durable; null when no batch is open. */
  private batchDone: Promise<void> | null = null;

  /**
   * Checks a nonce claim's arguments at call time (TypeError for a malformed id or nonce, or an
   * id of another shard) and arms the pruning alarm for the nonce about to be written.
   */
  private checkClaim(nodeId: string, nonce: string, now: number): void {
    this.own(nodeId);
    if (typeof nonce !== "string" || !/^[A-Za-z0-9_-]{16,86}$/.test(nonce)) throw new TypeError("nonce must be base64url, 16..86 characters");
    this.armPruning(now);
  }

  /**
   * Inside a batch: records the nonce for `nodeId` unless the table already holds it (written
   * by an earlier batch, or earlier in this one: the batch's writes run in order in one
   * transaction); true when it was new. One statement: the primary key (node_id, nonce) decides,
   * so exactly one claim of a nonce is ever true.
   */
  private claim(nodeId: string, nonce: string, now: number): boolean {
    return this.ctx.storage.sql.exec(
      "INSERT INTO nonces (node_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1 AS claimed", nodeId, nonce, now + NONCE_TTL_MS,
    ).toArray().length === 1;
  }

  /** Adds `write` to the open batch (opening one if needed); resolves once the batch is durable. */
  private commit(write?: () => void): Promise<void> {
    if (write) this.batch.push(write);
    this.batchDone ??= new Promise<void>((resolve, reject) => {
      // one macrotask later: the calls already queued join this batch
      setTimeout(() => {
        const writes = this.batch;
        this.batch = [];
        this.batchDone = null;
        try {
          this.ctx.storage.transactionSync(() => { for (const w of writes) w(); });
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        resolve(); // the output gate holds every answer until this transaction is durable
      }, 0);
    });
    return this.batchDone;
  }

  private armPruning(now: number): void {
    if (this.alarmAt !== null) return;
    this.alarmAt = now + PRUNE_INTERVAL_MS;
    void this.ctx.storage.setAlarm(this.alarmAt);
  }

  private row(nodeId: string): (LivenessRow & { removed_at: number | null }) | undefined {
    return this.ctx.storage.sql.exec<LivenessRow & { removed_at: number | null }>("SELECT * FROM liveness WHERE node_id = ?", nodeId).toArray()[0];
  }

  /**
   * Consumes a signed request's nonce for `nodeId`: `ok` the first time, `replay` ever after
   * (for {@link NONCE_TTL_MS}, past which the request's timestamp no longer verifies). Not
   * idempotent by design: exactly one call per nonce gets `ok`. Throws TypeError for a
   * malformed id or nonce, or an id of another shard.
   */
  async consume(nodeId: string, nonce: string): Promise<ConsumeResult> {
    const now = Date.now();
    this.checkClaim(nodeId, nonce, now);
    let fresh = false as boolean;
    await this.commit(() => { fresh = this.claim(nodeId, nonce, now); });
    return fresh ? "ok" : "replay";
  }

  /**
   * Consumes the nonce as {@link consume}, and also answers `unknown-node` when this shard
   * holds the node's tombstone (the nonce is consumed all the same): the old shard's check of
   * a heartbeat while the registry switches shard counts. Throws as {@link consume}.
   */
  async consumeUnlessRemoved(nodeId: string, nonce: string): Promise<ConsumeResult | "unknown-node"> {
    const now = Date.now();
    this.checkClaim(nodeId, nonce, now);
    let fresh = false as boolean, removed = false as boolean;
    await this.commit(() => {
      fresh = this.claim(nodeId, nonce, now);
      if (fresh) removed = this.row(nodeId)?.removed_at != null;
    });
    return !fresh ? "replay" : removed ? "unknown-node" : "ok";
  }

  /**
   * A signed registration: consumes the nonce and, in the same transaction, marks the node
   * seen and online now (clearing a tombstone; earlier conditions are kept). On `replay`
   * nothing is written and `liveness` is null. Throws as {@link consume}.
   */
  async register(nodeId: string, nonce: string): Promise<{ outcome: ConsumeResult; liveness: Liveness | null }> {
    const now = Date.now();
    this.checkClaim(nodeId, nonce, now);
    let liveness: Liveness | null = null;
    await this.commit(() => {
      if (!this.claim(nodeId, nonce, now)) return;
      liveness = toLiveness(this.ctx.storage.sql.exec<LivenessRow>(
        `INSERT INTO liveness (node_id, last_seen, online, removed_at) VALUES (?, ?, 1, NULL)
         ON CONFLICT (node_id) DO UPDATE SET last_seen = excluded.last_seen, online = 1, removed_at = NULL RETURNING *`, nodeId, now,
      ).one());
    });
    return liveness ? { outcome: "ok", liveness } : { outcome: "replay", liveness: null };
  }

  /**
   * A signed heartbeat: consumes the nonce and records `conditions` and the time, in one
   * transaction. `replay`: nothing written; `unknown-node`: the node was deregistered (nonce
   * consumed, liveness unchanged). Throws as {@link consume}, and TypeError for bad conditions.
   */
  async heartbeat(nodeId: string, nonce: string, conditions: Conditions): Promise<HeartbeatResult> {
    this.own(nodeId);
    const { load, freeMemoryMb, onBattery, online } = conditions;
    if (!Number.isFinite(load) || !Number.isFinite(freeMemoryMb) || typeof onBattery !== "boolean" || typeof online !== "boolean") throw new TypeError("conditions: load and freeMemoryMb must be finite numbers, onBattery and online booleans");
    const now = Date.now();
    this.checkClaim(nodeId, nonce, now);
    // Nonce and liveness in two statements of one batch. The upsert also checks the tombstone: a
    // tombstoned row is left as it is (the conditional DO UPDATE writes nothing and RETURNING
    // yields no row) while the nonce is consumed all the same.
    let fresh = false as boolean, removed = false as boolean;
    await this.commit(() => {
      fresh = this.claim(nodeId, nonce, now);
      if (!fresh) return;
      removed = this.ctx.storage.sql.exec(
        `INSERT INTO liveness (node_id, last_seen, online, on_battery, load, free_memory_mb) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (node_id) DO UPDATE SET last_seen = excluded.last_seen, online = excluded.online, on_battery = excluded.on_battery,
           load = excluded.load, free_memory_mb = excluded.free_memory_mb WHERE liveness.removed_at IS NULL
         RETURNING 1 AS written`,
        nodeId, now, online ? 1 : 0, onBattery ? 1 : 0, load, freeMemoryMb,
      ).toArray().length === 0;
    });
    if (!fresh) return { outcome: "replay" };
    return removed ? { outcome: "unknown-node" } : { outcome: "ok", lastSeen: now };
  }

  /**
   * Deregistration: replaces the node's liveness by a tombstone that refuses heartbeats for
   * {@link TOMBSTONE_MS} (a later registration clears it). Idempotent. Throws as {@link consume}.
   */
  async forget(nodeId: string): Promise<void> {
    this.own(nodeId);
    const now = Date.now();
    this.armPruning(now);
    await this.commit(() => {
      this.ctx.storage.sql.exec(
        `INSERT INTO liveness (node_id, last_seen, online, removed_at) VALUES (?, 0, 0, ?)
         ON CONFLICT (node_id) DO UPDATE SET online = 0, on_battery = 0, load = NULL, free_memory_mb = NULL, removed_at = excluded.removed_at`, nodeId, now,
      );
    });
  }

  /**
   * Read-only: the liveness of those of `nodeIds` this shard knows (registered or heartbeated,
   * not deregistered), as [id, liveness] pairs. Throws TypeError for more than
   * {@link MAX_LIVENESS_IDS} ids, a malformed id or an id of another shard.
   */
  async liveness(nodeIds: string[]): Promise<Array<[string, Liveness]>> {
    if (!Array.isArray(nodeIds) || nodeIds.length > MAX_LIVENESS_IDS) throw new TypeError(`nodeIds must be an array of at most ${MAX_LIVENESS_IDS} ids`);
    for (const id of nodeIds) this.own(id);
    if (nodeIds.length === 0) return [];
    return this.ctx.storage.sql.exec<LivenessRow>(
      "SELECT l.node_id, l.last_seen, l.online, l.on_battery, l.load, l.free_memory_mb FROM json_each(?) j JOIN liveness l ON l.node_id = j.value WHERE l.removed_at IS NULL",
      JSON.stringify(nodeIds),
    ).toArray().map((r) => [r.node_id, toLiveness(r)]);
  }

  /**
   * Pruning: deletes expired nonces ({@link PRUNE_BATCH} per statement) and tombstones older
   * than {@link TOMBSTONE_MS}; re-arms while any nonce or tombstone remains. Idempotent (safe
   * to run twice or late).
   */
  override async alarm(): Promise<void> {
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    for (let i = 0; i < 1000; i++) {
      const n = sql.exec(
        "DELETE FROM nonces WHERE (node_id, nonce) IN (SELECT node_id, nonce FROM nonces WHERE expires_at < ? ORDER BY expires_at LIMIT ?)", now, PRUNE_BATCH,
      ).rowsWritten;
      if (n < PRUNE_BATCH) break;
    }
    sql.exec("DELETE FROM liveness WHERE removed_at IS NOT NULL AND removed_at < ?", now - TOMBSTONE_MS);
    const left = sql.exec<{ n: number }>("SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM nonces LIMIT 1)) + (SELECT COUNT(*) FROM (SELECT 1 FROM liveness WHERE removed_at IS NOT NULL LIMIT 1)) AS n").one().n;
    this.alarmAt = left > 0 ? now + PRUNE_INTERVAL_MS : null;
    if (this.alarmAt !== null) await this.ctx.storage.setAlarm(this.alarmAt);
  }
}

/**
 * Isolate-local ids of the shard objects by namespace and name: `idFromName` hashes the name on
 * every call, and the same few names are asked for on every signed request. An id is a pure
 * function of the namespace and the name and is not tied to a request (stubs are, so they are
 * made per call).
 */
const shardIds = new WeakMap<DurableObjectNamespace<RegistryShardDO>, Map<string, DurableObjectId>>();

/** `ns.idFromName(name)`, computed once per namespace and name in this isolate. */
function shardId(ns: DurableObjectNamespace<RegistryShardDO>, name: string): DurableObjectId {
  let ids = shardIds.get(ns);
  if (!ids) shardIds.set(ns, (ids = new Map()));
  let id = ids.get(name);
  if (!id) ids.set(name, (id = ns.idFromName(name)));
  return id;
}

/** The stub of `nodeId`'s shard among `shards` (default {@link REGISTRY_SHARDS}). Low level: the Worker and the DOs go through {@link NodeRegistry}. Throws TypeError for a malformed id. */
export function registryShard(ns: DurableObjectNamespace<RegistryShardDO>, nodeId: string, shards = REGISTRY_SHARDS): DurableObjectStub<RegistryShardDO> {
  return ns.get(shardId(ns, registryShardName(registryShardOf(nodeId, shards), shards)));
}

/**
 * Liveness of `nodeIds` from their shards among `shards`: one RPC per shard involved, all in
 * parallel. Nodes a shard does not know are absent from the map. Rejects if any shard call
 * fails (never a partial view).
 */
async function readShards(ns: DurableObjectNamespace<RegistryShardDO>, nodeIds: Iterable<string>, shards: number): Promise<Map<string, Liveness>> {
  const groups = groupByShard(nodeIds, shards);
  const parts = await Promise.all([...groups].map(([s, ids]) => ns.get(shardId(ns, registryShardName(s, shards))).liveness(ids)));
  return new Map(parts.flat() as Array<[string, Liveness]>);
}

/**
 * The node registry as the Worker and the DOs use it: each call goes to the node's shard under
 * the current {@link RegistryPlan}, and while the shard count switches (core/registry.ts,
 * "Growing") also to its shard of the previous count, so a nonce is refused in every shard it
 * could have landed in, a tombstone in the old shard still refuses heartbeats, and liveness
 * falls back to the old shard. Methods throw as the RegistryShardDO methods they call.
 */
export class NodeRegistry {
  constructor(private readonly ns: DurableObjectNamespace<RegistryShardDO>, readonly plan: RegistryPlan) {}

  private current(nodeId: string): DurableObjectStub<RegistryShardDO> {
    return registryShard(this.ns, nodeId, this.plan.shards);
  }

  /** The node's shard of the previous count while the switch lasts and it differs from the current one, else null. */
  private previous(nodeId: string): DurableObjectStub<RegistryShardDO> | null {
    const p = this.plan.previous;
    return p && p.shards !== this.plan.shards ? registryShard(this.ns, nodeId, p.shards) : null; // shard names include the count
  }

  /** Consumes a signed request's nonce: `ok` exactly once across every shard it could land in, `replay` ever after. */
  async consume(nodeId: string, nonce: string): Promise<ConsumeResult> {
    const old = this.previous(nodeId);
    const results = await Promise.all([this.current(nodeId).consume(nodeId, nonce), ...(old ? [old.consume(nodeId, nonce)] : [])]);
    return results.includes("replay") ? "replay" : "ok";
  }

  /** A signed registration (RegistryShardDO.register in the current shard); during a switch the old shard registers it first (consuming the nonce and clearing a tombstone there). */
  async register(nodeId: string, nonce: string): Promise<{ outcome: ConsumeResult; liveness: Liveness | null }> {
    const old = this.previous(nodeId);
    if (old && (await old.register(nodeId, nonce)).outcome === "replay") return { outcome: "replay", liveness: null };
    return this.current(nodeId).register(nodeId, nonce);
  }

  /** A signed heartbeat (RegistryShardDO.heartbeat in the current shard); during a switch the old shard consumes the nonce first and refuses a node it holds a tombstone for. */
  async heartbeat(nodeId: string, nonce: string, conditions: Conditions): Promise<HeartbeatResult> {
    const old = this.previous(nodeId);
    if (old) {
      const r = await old.consumeUnlessRemoved(nodeId, nonce);
      if (r === "replay") return { outcome: "replay" };
      if (r === "unknown-node") {
        const cur = await this.current(nodeId).consume(nodeId, nonce); // the nonce is spent everywhere
        return cur === "replay" ? { outcome: "replay" } : { outcome: "unknown-node" };
      }
    }
    return this.current(nodeId).heartbeat(nodeId, nonce, conditions);
  }

  /** Deregistration: a tombstone in the current shard and, during a switch, in the old one. Idempotent. */
  async forget(nodeId: string): Promise<void> {
    const old = this.previous(nodeId);
    await Promise.all([this.current(nodeId).forget(nodeId), ...(old ? [old.forget(nodeId)] : [])]);
  }

  /**
   * Liveness of `nodeIds` (one RPC per shard involved, in parallel): the current shards' records
   * and, during a switch, the old shards' for nodes the current ones do not know yet. Nodes no
   * shard knows are absent. Rejects if any shard call fails (never a partial view).
   */
  async liveness(nodeIds: Iterable<string>): Promise<Map<string, Liveness>> {
    const ids = [...nodeIds];
    const live = await readShards(this.ns, ids, this.plan.shards);
    const p = this.plan.previous;
    if (p) {
      const missing = ids.filter((id) => !live.has(id));
      if (missing.length > 0) for (const [id, l] of await readShards(this.ns, missing, p.shards)) live.set(id, l);
    }
    return live;
  }
}

/** The registry of a Worker or DO environment at `now` (see core/registry.ts registryPlan). Throws RegistryConfigError for bad registry variables. */
export function nodeRegistry(env: RegistryVars & { REGISTRY_SHARD: DurableObjectNamespace<RegistryShardDO> }, now = Date.now()): NodeRegistry {
  return new NodeRegistry(env.REGISTRY_SHARD, registryPlan(env, now));
}
