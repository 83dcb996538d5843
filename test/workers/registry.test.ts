/**
 * The registry shards (durable-objects/registry-shard-do.ts) inside workerd with the real
 * bindings: heartbeats land in the node's shard (not D1), selection reads liveness from the
 * shards, a nonce is refused on any route and across a restart of its shard, expired nonces
 * and old tombstones are pruned, and no node's nonce can be recorded in another shard.
 */
import { SELF, env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signRequest } from "../../protocol/crypto/request.ts";
import type { Rng } from "../../protocol/rng.ts";
import {
  NONCE_TTL_MS, parseAnyRegistryShardName, parseRegistryShardName, REGISTRY_SHARDS, RegistryConfigError, registryPlan, registryShardName, registryShardOf,
  reshardOverlapMs, TOMBSTONE_MS, type RegistryPlan,
} from "../../durable-objects/core/registry.ts";
import { NodeRegistry, nodeRegistry, registryShard } from "../../durable-objects/registry-shard-do.ts";
import { cachedNodeKey, confirmNodeKey, KEY_CACHE_MS, KEY_CONFIRM_MAX_MS, rememberNodeKey } from "../../functions/auth.ts";
import { BASE, heartbeat, jobStub, makeNode, register, registration, signedFetch, submitJob, tokenFetch, type TestNode } from "./helpers.ts";

const code = async (r: Response) => ((await r.json()) as { code: string }).code;
const shardOf = (id: string) => registryShard(env.REGISTRY_SHARD, id);
const liveness = async (id: string) => (await nodeRegistry(env).liveness([id])).get(id);
const hex32 = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");

/** An rng that always yields the same bytes: every request signed with it carries the same nonce. */
function fixedNonce(): Rng {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return { bytes: (n: number) => b.slice(0, n) };
}

/** A signed request with a chosen nonce source. */
function signedWith(node: TestNode, rng: Rng, method: string, path: string, body?: unknown): Promise<Response> {
  const url = BASE + path;
  const text = body === undefined ? null : JSON.stringify(body);
  const headers = { ...signRequest({ method, url, body: text, nodeId: node.id, identitySecretKey: node.identitySecretKey, rng }), ...(text ? { "content-type": "application/json" } : {}) };
  return SELF.fetch(url, { method, headers, body: text ?? undefined });
}

/** Sets a node's shard record `ms` into the past (as if it had been silent that long). */
async function age(node: TestNode, ms: number): Promise<void> {
  await runInDurableObject(shardOf(node.id), async (_i, state) => {
    state.storage.sql.exec("UPDATE liveness SET last_seen = ? WHERE node_id = ?", Date.now() - ms, node.id);
  });
}

describe("shard mapping and names (pinned)", () => {
  it("maps a node id by its first 32 bits modulo the shard count, and names shards registry/<count>/shard/<s>", () => {
    expect(REGISTRY_SHARDS).toBe(16);
    expect(registryShardOf("00000000" + "0".repeat(24))).toBe(0);
    expect(registryShardOf("0000000f" + "0".repeat(24))).toBe(15);
    expect(registryShardOf("00000013" + "f".repeat(24))).toBe(3);
    expect(registryShardOf("ffffffff" + "0".repeat(24), 64)).toBe(63);
    expect(registryShardName(3)).toBe("registry/16/shard/3");
    expect(parseRegistryShardName("registry/16/shard/3")).toBe(3);
    for (const bad of ["registry/16/shard/16", "registry/8/shard/3", "registry/16/shard/03", "job/x"]) expect(parseRegistryShardName(bad)).toBeNull();
    expect(() => registryShardOf("NOT-A-NODE-ID")).toThrow(TypeError);
    expect(() => registryShardOf(hex32(), 12)).toThrow(RangeError);
    expect(() => registryShardName(16)).toThrow(RangeError);
  });

  it("spreads random node ids evenly over the shards", () => {
    const counts = new Array<number>(REGISTRY_SHARDS).fill(0);
    for (let i = 0; i < 3200; i++) counts[registryShardOf(hex32())]!++;
    for (const c of counts) expect(c).toBeGreaterThan(120); // mean 200
  });
});

describe("liveness lives in the node's shard", () => {
  it("a heartbeat updates the shard's record, not D1, and the node's record shows it", async () => {
    const n = makeNode();
    const t0 = Date.now();
    expect((await register(n)).status).toBe(201);
    const before = await liveness(n.id);
    expect(before).toMatchObject({ online: true, load: null });
    expect(before!.lastSeen).toBeGreaterThanOrEqual(t0);
    const d1Before = await env.DB.prepare("SELECT last_seen, load FROM nodes WHERE id = ?").bind(n.id).first<{ last_seen: number; load: number | null }>();
    await new Promise((r) => setTimeout(r, 5));
    const hb = await signedFetch(n, "POST", `/v1/nodes/${n.id}/heartbeat`, { load: 0.7, freeMemoryMb: 1234, onBattery: true, online: true });
    expect(hb.status).toBe(200);
    const { lastSeen } = (await hb.json()) as { lastSeen: number };
    expect(await liveness(n.id)).toEqual({ lastSeen, online: true, onBattery: true, load: 0.7, freeMemoryMb: 1234 });
    expect(lastSeen).toBeGreaterThan(before!.lastSeen);
    // D1 was not written by the heartbeat
    expect(await env.DB.prepare("SELECT last_seen, load FROM nodes WHERE id = ?").bind(n.id).first()).toEqual(d1Before);
    // the record overlays the shard's liveness
    const rec = ((await (await tokenFetch("GET", `/v1/nodes/${n.id}`)).json()) as { node: { lastSeen: number; conditions: unknown } }).node;
    expect(rec.lastSeen).toBe(lastSeen);
    expect(rec.conditions).toEqual({ load: 0.7, freeMemoryMb: 1234, onBattery: true, online: true });
  });

  it("D1 keeps no nonce table: the migrations drop request_nonces, and a signed request leaves no nonce row in D1", async () => {
    const n = await makeNode();
    expect((await register(n)).status).toBe(201);
    expect((await heartbeat(n)).status).toBe(200);
    const tables = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name LIKE '%nonce%'").all<{ name: string }>();
    expect(tables.results).toEqual([]);
  });

  it("selection reads liveness from the shards: stale and offline nodes are skipped, a heartbeat makes them eligible again", async () => {
    const schemaId = `registry/${crypto.randomUUID()}`;
    const a = makeNode(), b = makeNode(), c = makeNode();
    for (const n of [a, b, c]) expect((await register(n, { schemaId })).status).toBe(201);
    await age(b, 10 * 60_000); // silent 10 min in its shard (D1 still says: registered just now)
    expect((await signedFetch(c, "POST", `/v1/nodes/${c.id}/heartbeat`, { load: 0, freeMemoryMb: 100, onBattery: false, online: false })).status).toBe(200);
    const job = await submitJob({ schemaId, committee: { size: 3, min: 3 } });
    expect(job.status).toBe("pending"); // only a is eligible
    expect((await heartbeat(b)).status).toBe(200);
    expect((await heartbeat(c)).status).toBe(200);
    expect(await runDurableObjectAlarm(jobStub(job.id))).toBe(true);
    expect((await jobStub(job.id).get())?.status).toBe("running");
    expect([...(await jobStub(job.id).rounds())[0]!.committee].sort()).toEqual([a.id, b.id, c.id].sort());
  });
});

describe("nonces: consumed exactly once, in the node's one shard", () => {
  it("refuses a nonce reused on another route, and the replay writes nothing", async () => {
    const n = makeNode();
    const rng = fixedNonce();
    expect((await signedWith(n, rng, "POST", "/v1/nodes", registration(n, { rows: 100 }))).status).toBe(201);
    // the same nonce, validly signed over other requests
    const hb = await signedWith(n, rng, "POST", `/v1/nodes/${n.id}/heartbeat`, { load: 0.9, freeMemoryMb: 1, onBattery: false, online: false });
    expect(hb.status).toBe(401);
    expect(await code(hb)).toBe("replay");
    expect(await liveness(n.id)).toMatchObject({ online: true, load: null });
    const rereg = await signedWith(n, rng, "POST", "/v1/nodes", registration(n, { rows: 999 }));
    expect(await code(rereg)).toBe("replay");
    expect((await env.DB.prepare("SELECT rows FROM node_datasets WHERE node_id = ?").bind(n.id).first<{ rows: number }>())?.rows).toBe(100);
    expect(await code(await signedWith(n, rng, "GET", `/v1/nodes/${n.id}`))).toBe("replay");
    expect(await code(await signedWith(n, rng, "GET", `/v1/nodes/${n.id}/assignment`))).toBe("replay");
    expect(await code(await signedWith(n, rng, "DELETE", `/v1/nodes/${n.id}`))).toBe("replay");
    expect(await env.DB.prepare("SELECT 1 FROM nodes WHERE id = ?").bind(n.id).first()).not.toBeNull();
  });

  it("refuses a replay after its shard object restarts", async () => {
    const n = makeNode();
    await register(n);
    const url = `${BASE}/v1/nodes/${n.id}/heartbeat`;
    const body = JSON.stringify({ load: 0.2, freeMemoryMb: 1, onBattery: false, online: true });
    const headers = { ...signRequest({ method: "POST", url, body, nodeId: n.id, identitySecretKey: n.identitySecretKey }), "content-type": "application/json" };
    expect((await SELF.fetch(url, { method: "POST", headers, body })).status).toBe(200);
    await evictDurableObject(shardOf(n.id));
    const again = await SELF.fetch(url, { method: "POST", headers, body });
    expect(again.status).toBe(401);
    expect(await code(again)).toBe("replay");
    expect((await heartbeat(n)).status).toBe(200); // a fresh nonce still passes
  });

  it("a shard refuses node ids of other shards and objects not named by registryShardName", async () => {
    const id = hex32();
    const other = (registryShardOf(id) + 1) % REGISTRY_SHARDS;
    const wrong = env.REGISTRY_SHARD.get(env.REGISTRY_SHARD.idFromName(registryShardName(other)));
    const hb = { load: 0, freeMemoryMb: 0, onBattery: false, online: true };
    // (called on the instance inside the object: a throw across RPC is reported by the pool as unhandled)
    await runInDurableObject(wrong, async (shard) => {
      await expect(shard.consume(id, "A".repeat(22))).rejects.toThrow(/wrong-shard/);
      await expect(shard.register(id, "A".repeat(22))).rejects.toThrow(/wrong-shard/);
      await expect(shard.heartbeat(id, "B".repeat(22), hb)).rejects.toThrow(/wrong-shard/);
      await expect(shard.liveness([id])).rejects.toThrow(/wrong-shard/);
      await expect(shard.forget(id)).rejects.toThrow(/wrong-shard/);
    });
    const stray = env.REGISTRY_SHARD.get(env.REGISTRY_SHARD.idFromName("registry/16/shard/99"));
    await runInDurableObject(stray, async (shard) => {
      await expect(shard.consume(id, "C".repeat(22))).rejects.toThrow(/registryShardName/);
    });
    // the right shard takes it exactly once
    expect(await shardOf(id).consume(id, "A".repeat(22))).toBe("ok");
    expect(await shardOf(id).consume(id, "A".repeat(22))).toBe("replay");
    await runInDurableObject(shardOf(id), async (shard) => {
      await expect(shard.consume(id, "short")).rejects.toThrow(TypeError);
      await expect(shard.consume("NOT-AN-ID", "A".repeat(22))).rejects.toThrow(TypeError);
      await expect(shard.heartbeat(id, "E".repeat(22), { ...hb, load: Number.NaN })).rejects.toThrow(TypeError);
    });
  });

  it("concurrent uses of one nonce (one group commit): exactly one is ok; distinct nonces all are", async () => {
    const id = hex32();
    const stub = shardOf(id);
    // over RPC
    const same = await Promise.all(Array.from({ length: 12 }, () => stub.consume(id, "same-nonce-".padEnd(24, "z"))));
    expect(same.filter((r) => r === "ok")).toHaveLength(1);
    // calls started in one turn on the instance: all of them join one open batch
    await runInDurableObject(stub, async (shard) => {
      const again = await Promise.all(Array.from({ length: 12 }, () => shard.consume(id, "batch-nonce-".padEnd(24, "y"))));
      expect(again.filter((r) => r === "ok")).toHaveLength(1);
      const distinct = await Promise.all(Array.from({ length: 12 }, (_, i) => shard.consume(id, `distinct-${i}`.padEnd(24, "q"))));
      expect(distinct.every((r) => r === "ok")).toBe(true);
      const hb = { load: 0.5, freeMemoryMb: 10, onBattery: false, online: true };
      const beats = await Promise.all(Array.from({ length: 6 }, (_, i) => shard.heartbeat(id, i < 3 ? "beat-shared".padEnd(24, "w") : `beat-${i}`.padEnd(24, "w"), hb)));
      expect(beats.filter((r) => r.outcome === "ok")).toHaveLength(4);
      expect(beats.filter((r) => r.outcome === "replay")).toHaveLength(2);
    });
    expect(await stub.consume(id, "batch-nonce-".padEnd(24, "y"))).toBe("replay");
  });

  it("prunes expired nonces (in batches, by alarm) and keeps live ones", async () => {
    const id = hex32();
    const stub = shardOf(id);
    const nonces = Array.from({ length: 6 }, (_, i) => `nonce-${i}-${"x".repeat(16)}`);
    for (const nc of nonces) expect(await stub.consume(id, nc)).toBe("ok");
    const count = () => runInDurableObject(stub, async (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM nonces WHERE node_id = ?", id).one().n);
    await runInDurableObject(stub, async (_i, state) => {
      expect(await state.storage.getAlarm()).not.toBeNull(); // armed by the writes
      state.storage.sql.exec("UPDATE nonces SET expires_at = ? WHERE node_id = ? AND nonce IN (?, ?, ?, ?)", Date.now() - 1, id, nonces[0], nonces[1], nonces[2], nonces[3]);
    });
    expect(await count()).toBe(6);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await count()).toBe(2);
    // live nonces are still refused; the alarm is re-armed while nonces remain
    expect(await stub.consume(id, nonces[5]!)).toBe("replay");
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).not.toBeNull();
    expect(NONCE_TTL_MS).toBeGreaterThanOrEqual(2 * 60_000);
  });
});

describe("deregistration leaves a tombstone in the shard", () => {
  it("a deregistered node's heartbeat is refused by its shard even with a cached key; re-registration clears it; old tombstones are pruned", async () => {
    const n = makeNode();
    await register(n);
    expect((await signedFetch(n, "DELETE", `/v1/nodes/${n.id}`)).status).toBe(200);
    expect(await liveness(n.id)).toBeUndefined();
    // what a Worker isolate that still cached the key would do: go to the shard
    expect(await shardOf(n.id).heartbeat(n.id, "D".repeat(22), { load: 0, freeMemoryMb: 0, onBattery: false, online: true })).toEqual({ outcome: "unknown-node" });
    expect(await liveness(n.id)).toBeUndefined();
    expect((await register(n)).status).toBe(201);
    expect(await liveness(n.id)).toMatchObject({ online: true });
    expect((await heartbeat(n)).status).toBe(200);
    // a tombstone older than TOMBSTONE_MS goes with the next alarm
    const m = makeNode();
    await register(m);
    expect((await signedFetch(m, "DELETE", `/v1/nodes/${m.id}`)).status).toBe(200);
    const rows = () => runInDurableObject(shardOf(m.id), async (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM liveness WHERE node_id = ?", m.id).one().n);
    expect(await rows()).toBe(1);
    await runInDurableObject(shardOf(m.id), async (_i, state) => { state.storage.sql.exec("UPDATE liveness SET removed_at = ? WHERE node_id = ?", Date.now() - 10 * 60_000, m.id); });
    await runDurableObjectAlarm(shardOf(m.id));
    expect(await rows()).toBe(0);
  });

  it("a heartbeat in the same group commit as the node's deregistration, after it, is refused and leaves the tombstone as it was", async () => {
    const n = makeNode();
    await register(n);
    const hb = { load: 0.9, freeMemoryMb: 1, onBattery: true, online: true };
    await runInDurableObject(shardOf(n.id), async (shard, state) => {
      // both calls start in one turn, so both join one open batch: the tombstone first
      const [, beat] = await Promise.all([shard.forget(n.id), shard.heartbeat(n.id, "F".repeat(22), hb)]);
      expect(beat).toEqual({ outcome: "unknown-node" });
      const row = state.storage.sql.exec<{ online: number; load: number | null; removed_at: number | null }>("SELECT online, load, removed_at FROM liveness WHERE node_id = ?", n.id).one();
      expect(row).toMatchObject({ online: 0, load: null });
      expect(row.removed_at).not.toBeNull();
      expect(await shard.consume(n.id, "F".repeat(22))).toBe("replay"); // its nonce was consumed all the same
    });
    expect(await liveness(n.id)).toBeUndefined();
  });
});

describe("deregistration survives a failed tombstone write", () => {
  it("a DELETE whose tombstone write fails deletes nothing and can be retried; the retry leaves the tombstone; a missing node gets none", async () => {
    const n = makeNode();
    await register(n);
    const shard = shardOf(n.id);
    // the shard's storage fails the tombstone write (its table is gone for a moment)
    await runInDurableObject(shard, async (_i, state) => { state.storage.sql.exec("ALTER TABLE liveness RENAME TO liveness_away"); });
    const failed = await signedFetch(n, "DELETE", `/v1/nodes/${n.id}`);
    expect(failed.status).toBe(500);
    expect(await failed.text()).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    await runInDurableObject(shard, async (_i, state) => { state.storage.sql.exec("ALTER TABLE liveness_away RENAME TO liveness"); });
    // nothing was deleted: the node is still registered, so the same request can be retried
    expect((await tokenFetch("GET", `/v1/nodes/${n.id}`)).status).toBe(200);
    expect((await signedFetch(n, "DELETE", `/v1/nodes/${n.id}`)).status).toBe(200);
    expect((await tokenFetch("GET", `/v1/nodes/${n.id}`)).status).toBe(404);
    expect(await shard.heartbeat(n.id, "E".repeat(22), { load: 0, freeMemoryMb: 0, onBattery: false, online: true })).toEqual({ outcome: "unknown-node" });
    // deleting a node that does not exist writes no tombstone
    const ghost = makeNode();
    expect(await code(await tokenFetch("DELETE", `/v1/nodes/${ghost.id}`))).toBe("not-found");
    const ghostRows = await runInDurableObject(shardOf(ghost.id), async (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM liveness WHERE node_id = ?", ghost.id).one().n);
    expect(ghostRows).toBe(0);
  });
});

describe("the isolate's identity-key cache", () => {
  it("a key is good 30 s after its last confirmation; shard confirmations extend it at most KEY_CONFIRM_MAX_MS past D1's", () => {
    const id = hex32(), key = new Uint8Array(32).fill(7), t0 = 1_000_000;
    rememberNodeKey(id, key, t0);
    expect(cachedNodeKey(id, t0 + KEY_CACHE_MS - 1)).toBe(key);
    expect(cachedNodeKey(id, t0 + KEY_CACHE_MS)).toBeUndefined();
    confirmNodeKey(id, t0 + 20_000);
    expect(cachedNodeKey(id, t0 + 20_000 + KEY_CACHE_MS - 1)).toBe(key);
    confirmNodeKey(id, t0 + KEY_CONFIRM_MAX_MS - 1);
    expect(cachedNodeKey(id, t0 + KEY_CONFIRM_MAX_MS + 1000)).toBe(key);
    // past the cap a confirmation is ignored: the entry runs out and the next request reads D1
    confirmNodeKey(id, t0 + KEY_CONFIRM_MAX_MS + 1000);
    expect(cachedNodeKey(id, t0 + KEY_CONFIRM_MAX_MS - 1 + KEY_CACHE_MS)).toBeUndefined();
    // a confirmed key never outlives a tombstone
    expect(KEY_CONFIRM_MAX_MS + KEY_CACHE_MS).toBeLessThan(TOMBSTONE_MS);
  });

  it("an accepted heartbeat confirms the cached key; a tombstoned node's heartbeat drops it instead", async () => {
    const n = makeNode();
    await register(n);
    const key = cachedNodeKey(n.id)!;
    expect(key).toBeDefined(); // the registration cached it in this isolate
    rememberNodeKey(n.id, key, Date.now() - KEY_CACHE_MS + 5_000); // as if read from D1 25 s ago
    expect((await heartbeat(n)).status).toBe(200);
    expect(cachedNodeKey(n.id, Date.now() + 10_000)).toBe(key);
    // deregistered: another isolate that still cached the key is refused by the tombstone and forgets it
    expect((await signedFetch(n, "DELETE", `/v1/nodes/${n.id}`)).status).toBe(200);
    rememberNodeKey(n.id, key, Date.now() - KEY_CACHE_MS + 5_000);
    const r = await heartbeat(n);
    expect(r.status).toBe(401);
    expect(await code(r)).toBe("unknown-node");
    expect(cachedNodeKey(n.id)).toBeUndefined();
  });
});

describe("growing the shard count (16 → 32) without forgetting nonces, tombstones or liveness", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");
  /** A node id whose shard differs between 16 and 32 shards (bit 4 of its first 32 bits set). */
  const movingId = () => "000000" + (16 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 16)).toString(16).padStart(2, "0") + hex32().slice(8);
  const before: RegistryPlan = { shards: 16, previous: null };
  const during: RegistryPlan = { shards: 32, previous: { shards: 16, until: Date.now() + 3_600_000 } };
  const after: RegistryPlan = { shards: 32, previous: null };
  const hb = { load: 0.5, freeMemoryMb: 512, onBattery: false, online: true };

  it("reads the plan from the Worker variables and refuses a bad one", () => {
    expect(registryPlan({}, now)).toEqual({ shards: 16, previous: null });
    expect(registryPlan({ REGISTRY_SHARDS: "64" }, now)).toEqual({ shards: 64, previous: null });
    const at = "2026-12-06T11:59:00Z";
    const p = registryPlan({ REGISTRY_SHARDS: "32", REGISTRY_PREVIOUS_SHARDS: "16", REGISTRY_RESHARDED_AT: at, LIVENESS_WINDOW_S: "120" }, now);
    expect(p).toEqual({ shards: 32, previous: { shards: 16, until: Date.parse(at) + reshardOverlapMs(120_000) } });
    expect(reshardOverlapMs(120_000)).toBe(Math.max(NONCE_TTL_MS, TOMBSTONE_MS, 120_000));
    // the overlap ends: the old count is no longer addressed
    expect(registryPlan({ REGISTRY_SHARDS: "32", REGISTRY_PREVIOUS_SHARDS: "16", REGISTRY_RESHARDED_AT: String(now - reshardOverlapMs(120_000)) }, now).previous).toBeNull();
    for (const bad of [{ REGISTRY_SHARDS: "12" }, { REGISTRY_SHARDS: "0" }, { REGISTRY_SHARDS: "131072" }, { REGISTRY_PREVIOUS_SHARDS: "16" },
      { REGISTRY_RESHARDED_AT: at }, { REGISTRY_PREVIOUS_SHARDS: "16", REGISTRY_RESHARDED_AT: "yesterday" }, { REGISTRY_PREVIOUS_SHARDS: "10", REGISTRY_RESHARDED_AT: at }]) {
      expect(() => registryPlan(bad, now), JSON.stringify(bad)).toThrow(RegistryConfigError);
    }
    expect(parseAnyRegistryShardName("registry/32/shard/31")).toEqual({ shards: 32, shard: 31 });
    for (const bad of ["registry/12/shard/3", "registry/32/shard/32", "registry/32/shard/07", "registry/0/shard/0"]) expect(parseAnyRegistryShardName(bad)).toBeNull();
  });

  it("a nonce consumed before the switch is refused during it (in the node's old shard), and a new one is ok exactly once", async () => {
    const id = movingId();
    expect(registryShardOf(id, 32)).not.toBe(registryShardOf(id, 16));
    const old = new NodeRegistry(env.REGISTRY_SHARD, before), mid = new NodeRegistry(env.REGISTRY_SHARD, during);
    expect(await old.consume(id, "before-switch-nonce-1")).toBe("ok");
    expect(await mid.consume(id, "before-switch-nonce-1")).toBe("replay");
    expect(await mid.consume(id, "during-switch-nonce-1")).toBe("ok");
    expect(await mid.consume(id, "during-switch-nonce-1")).toBe("replay");
    expect(await old.consume(id, "during-switch-nonce-1")).toBe("replay"); // an isolate still on the old plan refuses it too
    expect(await new NodeRegistry(env.REGISTRY_SHARD, after).consume(id, "during-switch-nonce-1")).toBe("replay");
    // a replayed heartbeat or registration is refused the same way
    expect(await old.consume(id, "before-switch-nonce-2")).toBe("ok");
    expect((await mid.heartbeat(id, "before-switch-nonce-2", hb)).outcome).toBe("replay");
    expect((await mid.register(id, "before-switch-nonce-2")).outcome).toBe("replay");
  });

  it("a tombstone written before the switch still refuses the node's heartbeat during it", async () => {
    const id = movingId();
    const old = new NodeRegistry(env.REGISTRY_SHARD, before), mid = new NodeRegistry(env.REGISTRY_SHARD, during);
    expect((await old.register(id, "tomb-register-nonce")).outcome).toBe("ok");
    await old.forget(id);
    expect((await mid.heartbeat(id, "tomb-heartbeat-nonce", hb)).outcome).toBe("unknown-node");
    expect((await mid.liveness([id])).has(id)).toBe(false);
    expect(await mid.consume(id, "tomb-heartbeat-nonce")).toBe("replay"); // spent in both shards
    // re-registration clears it; deregistration during the switch writes both shards
    expect((await mid.register(id, "tomb-reregister-nonce")).outcome).toBe("ok");
    expect((await mid.heartbeat(id, "tomb-heartbeat-nonce-2", hb)).outcome).toBe("ok");
    await mid.forget(id);
    expect((await old.heartbeat(id, "tomb-heartbeat-nonce-3", hb)).outcome).toBe("unknown-node");
    expect((await new NodeRegistry(env.REGISTRY_SHARD, after).heartbeat(id, "tomb-heartbeat-nonce-4", hb)).outcome).toBe("unknown-node");
  });

  it("liveness falls back to the old shard until the node heartbeats into its new one", async () => {
    const id = movingId(), quiet = movingId();
    const old = new NodeRegistry(env.REGISTRY_SHARD, before), mid = new NodeRegistry(env.REGISTRY_SHARD, during);
    expect((await old.register(id, "live-register-nonce-a")).outcome).toBe("ok");
    expect((await old.register(quiet, "live-register-nonce-b")).outcome).toBe("ok");
    const seen = (await mid.liveness([id, quiet]));
    expect(seen.get(id)?.online).toBe(true);
    expect(seen.get(quiet)?.online).toBe(true);
    expect((await new NodeRegistry(env.REGISTRY_SHARD, after).liveness([id])).has(id)).toBe(false); // only the overlap reads the old count
    const r = await mid.heartbeat(id, "live-heartbeat-nonce-a", { ...hb, load: 0.25 });
    expect(r.outcome).toBe("ok");
    expect((await new NodeRegistry(env.REGISTRY_SHARD, after).liveness([id])).get(id)?.load).toBe(0.25); // written to the new shard
    expect((await mid.liveness([id])).get(id)?.load).toBe(0.25);
  });

  it("a shard of the new count refuses node ids of its other shards", async () => {
    const id = movingId();
    const wrong = env.REGISTRY_SHARD.get(env.REGISTRY_SHARD.idFromName(registryShardName(registryShardOf(id, 16), 32)));
    await runInDurableObject(wrong, async (shard) => {
      await expect(shard.consume(id, "W".repeat(22))).rejects.toThrow(/wrong-shard/);
      await expect(shard.consumeUnlessRemoved(id, "W".repeat(22))).rejects.toThrow(/wrong-shard/);
    });
  });
});
