import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { registryShard } from "../../durable-objects/registry-shard-do.ts";
import { describe, expect, it } from "vitest";
import { cryptoRng } from "../../protocol/rng.ts";
import { inAvailabilityWindow, isEligible, selectCommittee, type Candidate } from "../../durable-objects/core/selection.ts";
import { jobStub, makeNode, register, signedFetch, submitJob, tokenFetch, type TestNode } from "./helpers.ts";
import type { RoundInfo } from "../../protocol/api/schemas.ts";

const eligibility = { minRows: 10, minCores: 2, minMemoryMb: 1000, minBandwidthMbps: 10, allowOnBattery: false };

describe("committee selection through the real JobDO, D1 and the registry shards", () => {
  it("honours eligibility (schema, rows, resources, liveness, online, battery) and excludes stale nodes", async () => {
    const schemaId = `sel/${crypto.randomUUID()}`;
    const good: TestNode[] = [makeNode(), makeNode(), makeNode()];
    for (const n of good) await register(n, { schemaId, rows: 50 });
    const fewRows = makeNode(); await register(fewRows, { schemaId, rows: 5 });
    const wrongSchema = makeNode(); await register(wrongSchema, { schemaId: `${schemaId}-other`, rows: 50 });
    const lowMemory = makeNode(); await register(lowMemory, { schemaId, rows: 50, memoryMb: 100 });
    const oneCore = makeNode(); await register(oneCore, { schemaId, rows: 50, cores: 1 });
    const slowLink = makeNode(); await register(slowLink, { schemaId, rows: 50, bandwidthMbps: 1 });
    const stale = makeNode(); await register(stale, { schemaId, rows: 50 });
    // silent for 10 minutes: liveness is the node's registry shard's (D1 keeps the registration)
    await env.DB.prepare("UPDATE nodes SET last_seen = ? WHERE id = ?").bind(Date.now() - 10 * 60_000, stale.id).run();
    await runInDurableObject(registryShard(env.REGISTRY_SHARD, stale.id), async (_i, state) => {
      state.storage.sql.exec("UPDATE liveness SET last_seen = ? WHERE node_id = ?", Date.now() - 10 * 60_000, stale.id);
    });
    const offline = makeNode(); await register(offline, { schemaId, rows: 50 });
    await signedFetch(offline, "POST", `/v1/nodes/${offline.id}/heartbeat`, { load: 0, freeMemoryMb: 100, onBattery: false, online: false });
    const battery = makeNode(); await register(battery, { schemaId, rows: 50 });
    await signedFetch(battery, "POST", `/v1/nodes/${battery.id}/heartbeat`, { load: 0, freeMemoryMb: 100, onBattery: true, online: true });

    const job = await submitJob({ schemaId, committee: { size: 10, min: 2 }, eligibility });
    const rs = ((await (await tokenFetch("GET", `/v1/jobs/${job.id}/rounds`)).json()) as { rounds: RoundInfo[] }).rounds;
    expect(rs).toHaveLength(1);
    expect([...rs[0]!.committee].sort()).toEqual(good.map((n) => n.id).sort());
  });

  it("waits (pending) when fewer than committee.min nodes are eligible, and fails after the select deadline", async () => {
    const schemaId = `sel/${crypto.randomUUID()}`;
    const n = makeNode(); await register(n, { schemaId });
    const job = await submitJob({ schemaId, committee: { size: 3, min: 2 }, deadlines: { join: 60, compute: 60, finalize: 60, select: 0 } });
    expect(job.status).toBe("failed");
    const r = (await (await tokenFetch("GET", `/v1/jobs/${job.id}/result`)).json()) as { error: string };
    expect(r.error).toMatch(/insufficient-nodes/);
    const waiting = await submitJob({ schemaId, committee: { size: 3, min: 2 } });
    expect(waiting.status).toBe("pending");
    // a second node arrives; the JobDO's retry alarm starts round 0
    const m = makeNode(); await register(m, { schemaId });
    expect(await runDurableObjectAlarm(jobStub(waiting.id))).toBe(true);
    const j = await jobStub(waiting.id).get();
    expect(j?.status).toBe("running");
    const rs = await jobStub(waiting.id).rounds();
    expect([...rs[0]!.committee].sort()).toEqual([n.id, m.id].sort());
  });
});

describe("selection policy (pure)", () => {
  const now = Date.UTC(2026, 0, 1, 12);
  const base: Candidate = {
    nodeId: "", identityKey: "", kxKey: "", rows: 100, commitment: "", reliability: 0.5, lastSeen: now, cores: 4, memoryMb: 4096, bandwidthMbps: 100,
    availFrom: null, availTo: null, onBattery: false, online: true,
  };
  const spec = { eligibility: { minRows: 1, minCores: 0, minMemoryMb: 0, minBandwidthMbps: 0, allowOnBattery: true } };

  it("randomises: over many draws every eligible node is picked, none always", () => {
    const cands = Array.from({ length: 10 }, (_, i) => ({ ...base, nodeId: `n${i}`, reliability: i === 0 ? 1 : 0, lastSeen: now - i * 1000 }));
    const counts = new Map<string, number>();
    const trials = 400;
    for (let t = 0; t < trials; t++) for (const c of selectCommittee(cands, spec, 3, { now, livenessMs: 120_000, rng: cryptoRng })) counts.set(c.nodeId, (counts.get(c.nodeId) ?? 0) + 1);
    for (const c of cands) expect(counts.get(c.nodeId) ?? 0, c.nodeId).toBeGreaterThan(0);
    expect(counts.get("n0")!).toBeLessThan(trials);
    // the reliable, fresh node is favoured
    expect(counts.get("n0")!).toBeGreaterThan(counts.get("n9")!);
  });

  it("never picks excluded, duplicate or ineligible candidates", () => {
    const cands = [{ ...base, nodeId: "a" }, { ...base, nodeId: "a" }, { ...base, nodeId: "b" }, { ...base, nodeId: "c", lastSeen: now - 200_000 }, { ...base, nodeId: "d" }];
    for (let t = 0; t < 50; t++) {
      const got = selectCommittee(cands, spec, 5, { now, livenessMs: 120_000, exclude: new Set(["d"]), rng: cryptoRng }).map((c) => c.nodeId).sort();
      expect(got).toEqual(["a", "b"]);
    }
  });

  it("availability windows, including ones wrapping past midnight", () => {
    expect(inAvailabilityWindow(null, null, 3)).toBe(true);
    expect(inAvailabilityWindow(9, 17, 12)).toBe(true);
    expect(inAvailabilityWindow(9, 17, 17)).toBe(false);
    expect(inAvailabilityWindow(22, 6, 23)).toBe(true);
    expect(inAvailabilityWindow(22, 6, 5)).toBe(true);
    expect(inAvailabilityWindow(22, 6, 12)).toBe(false);
    expect(isEligible({ ...base, availFrom: 0, availTo: 6 }, spec, now, 120_000)).toBe(false); // now is 12:00 UTC
    expect(isEligible({ ...base, onBattery: true }, { eligibility: { ...spec.eligibility, allowOnBattery: false } }, now, 120_000)).toBe(false);
  });
});
