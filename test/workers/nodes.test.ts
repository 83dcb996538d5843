import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signRequest } from "../../protocol/crypto/request.ts";
import { BASE, heartbeat, makeNode, register, registration, signedFetch, tokenFetch } from "./helpers.ts";

describe("node registration and signed requests", () => {
  it("registers a node whose id is derived from its key, and returns its record", async () => {
    const n = makeNode();
    const r = await register(n);
    expect(r.status).toBe(201);
    const body = (await r.json()) as { node: { id: string; datasets: unknown[]; reliability: number } };
    expect(body.node.id).toBe(n.id);
    expect(body.node.datasets).toHaveLength(1);
    const own = await signedFetch(n, "GET", `/v1/nodes/${n.id}`);
    expect(own.status).toBe(200);
    expect(((await own.json()) as { node: { id: string } }).node.id).toBe(n.id);
    expect((await heartbeat(n)).status).toBe(200);
    const after = (await (await signedFetch(n, "GET", `/v1/nodes/${n.id}`)).json()) as { node: { conditions: { load: number } } };
    expect(after.node.conditions.load).toBe(0.1);
  });

  it("refuses a bad signature", async () => {
    const n = makeNode();
    const body = JSON.stringify(registration(n));
    const h = signRequest({ method: "POST", url: `${BASE}/v1/nodes`, body, nodeId: n.id, identitySecretKey: n.identitySecretKey });
    const sig = h["x-2pm-signature"]!;
    h["x-2pm-signature"] = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    const r = await SELF.fetch(`${BASE}/v1/nodes`, { method: "POST", headers: { ...h, "content-type": "application/json" }, body });
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ code: "bad-signature", status: 401 });
  });

  it("refuses a body altered after signing", async () => {
    const n = makeNode();
    await register(n);
    const body = JSON.stringify({ load: 0.1, freeMemoryMb: 1, onBattery: false, online: true });
    const url = `${BASE}/v1/nodes/${n.id}/heartbeat`;
    const h = signRequest({ method: "POST", url, body, nodeId: n.id, identitySecretKey: n.identitySecretKey });
    const r = await SELF.fetch(url, { method: "POST", headers: { ...h, "content-type": "application/json" }, body: body.replace("0.1", "0.9") });
    expect(((await r.json()) as { code: string }).code).toBe("bad-signature");
  });

  it("refuses a replayed request", async () => {
    const n = makeNode();
    await register(n);
    const body = JSON.stringify({ load: 0.1, freeMemoryMb: 1, onBattery: false, online: true });
    const url = `${BASE}/v1/nodes/${n.id}/heartbeat`;
    const headers = { ...signRequest({ method: "POST", url, body, nodeId: n.id, identitySecretKey: n.identitySecretKey }), "content-type": "application/json" };
    expect((await SELF.fetch(url, { method: "POST", headers, body })).status).toBe(200);
    const again = await SELF.fetch(url, { method: "POST", headers, body });
    expect(again.status).toBe(401);
    expect(((await again.json()) as { code: string }).code).toBe("replay");
  });

  it("refuses a stale (or future) timestamp", async () => {
    const n = makeNode();
    await register(n);
    for (const skew of [-5 * 60_000, 5 * 60_000]) {
      const r = await signedFetch(n, "GET", `/v1/nodes/${n.id}`, undefined, { now: Date.now() + skew });
      expect(r.status).toBe(401);
      expect(((await r.json()) as { code: string }).code).toBe("stale-timestamp");
    }
  });

  it("refuses node A acting for node B", async () => {
    const a = makeNode();
    const b = makeNode();
    await register(a);
    await register(b);
    // A signs (validly, as itself) a heartbeat on B's path
    const hb = await signedFetch(b, "POST", `/v1/nodes/${b.id}/heartbeat`, { load: 0, freeMemoryMb: 1, onBattery: false, online: false }, { asNode: a });
    expect(hb.status).toBe(403);
    expect(((await hb.json()) as { code: string }).code).toBe("forbidden");
    expect((await signedFetch(b, "GET", `/v1/nodes/${b.id}`, undefined, { asNode: a })).status).toBe(403);
    expect((await signedFetch(b, "DELETE", `/v1/nodes/${b.id}`, undefined, { asNode: a })).status).toBe(403);
    expect((await signedFetch(b, "GET", `/v1/nodes/${b.id}/assignment`, undefined, { asNode: a })).status).toBe(403);
    // A registering B's key, signed by A
    const reg = await signedFetch(b, "POST", "/v1/nodes", registration(b), { asNode: a });
    expect(reg.status).toBe(403);
    // A claiming B's id but signing with A's key
    const forged = await signedFetch(b, "POST", `/v1/nodes/${b.id}/heartbeat`, { load: 0, freeMemoryMb: 1, onBattery: false, online: false }, { asNode: { ...a, id: b.id } });
    expect(((await forged.json()) as { code: string }).code).toBe("bad-signature");
    // none of A's attempts changed B's liveness (its registry shard's) or its D1 record
    const row = await env.DB.prepare("SELECT online FROM nodes WHERE id = ?").bind(b.id).first<{ online: number }>();
    expect(row?.online).toBe(1);
    const own = ((await (await tokenFetch("GET", `/v1/nodes/${b.id}`)).json()) as { node: { conditions: unknown } }).node;
    expect(own.conditions).toBeNull();
  });

  it("refuses unsigned requests and unknown nodes", async () => {
    const n = makeNode();
    const r = await SELF.fetch(`${BASE}/v1/nodes/${n.id}`);
    expect(((await r.json()) as { code: string }).code).toBe("missing-signature");
    const u = await signedFetch(n, "GET", `/v1/nodes/${n.id}`);
    expect(((await u.json()) as { code: string }).code).toBe("unknown-node");
  });

  it("rejects unknown fields and bad values in registrations", async () => {
    const n = makeNode();
    const extra = await signedFetch(n, "POST", "/v1/nodes", { ...registration(n), admin: true });
    expect(extra.status).toBe(400);
    const p = (await extra.json()) as { code: string; issues: Array<{ path: string; message: string }> };
    expect(p.code).toBe("validation-failed");
    const bad = registration(n);
    bad.capabilities.cores = 0;
    expect((await signedFetch(n, "POST", "/v1/nodes", bad)).status).toBe(400);
  });

  it("deregisters, after which the node is unknown", async () => {
    const n = makeNode();
    await register(n);
    expect((await signedFetch(n, "DELETE", `/v1/nodes/${n.id}`)).status).toBe(200);
    expect(((await (await heartbeat(n)).json()) as { code: string }).code).toBe("unknown-node");
  });

  it("lists nodes for operators only", async () => {
    const n = makeNode();
    await register(n);
    expect((await SELF.fetch(`${BASE}/v1/nodes`)).status).toBe(401);
    expect((await tokenFetch("GET", "/v1/nodes", undefined, "wrong")).status).toBe(401);
    const r = await tokenFetch("GET", "/v1/nodes?limit=500");
    expect(r.status).toBe(200);
    expect(((await r.json()) as { nodes: Array<{ id: string }> }).nodes.some((x) => x.id === n.id)).toBe(true);
    expect((await tokenFetch("GET", `/v1/nodes/${n.id}`)).status).toBe(200);
  });
});
