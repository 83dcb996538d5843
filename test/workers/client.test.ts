import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ApiClientError, CoordinatorClient } from "../../protocol/api/client.ts";
import { utf8, toHex } from "../../protocol/encoding.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { makeNode, statsTask, TOKEN } from "./helpers.ts";

const f = ((input: RequestInfo | URL, init?: RequestInit) => SELF.fetch(input as string, init)) as typeof fetch;

describe("CoordinatorClient against the real Worker", () => {
  it("registers, heartbeats, reads itself, and an operator submits a job and verifies its log and model", async () => {
    const n = makeNode();
    const node = new CoordinatorClient({ baseUrl: "https://coordinator.test", node: n, fetch: f });
    const op = new CoordinatorClient({ baseUrl: "https://coordinator.test", token: TOKEN, fetch: f });
    const schemaId = `client/${crypto.randomUUID()}`;
    const rec = await node.register({ capabilities: { cores: 2, memoryMb: 2048, bandwidthMbps: 50 }, datasets: [{ schemaId, rows: 10, commitment: toHex(sha256(utf8("d"))) }] });
    expect(rec.id).toBe(node.nodeId);
    expect((await node.heartbeat({ load: 0.2, freeMemoryMb: 100, onBattery: false, online: true })).ok).toBe(true);
    expect((await node.self()).conditions?.load).toBe(0.2);
    expect(await node.assignments(0)).toEqual([]);

    const job = await op.submitJob({ type: "stats", schemaId, committee: { size: 2, min: 2 }, maxRounds: 3, fixedPoint: { fracBits: 16, bound: 10 }, task: statsTask(schemaId) });
    expect(job.status).toBe("pending");
    const hash = await op.putModel(job.id, 0, utf8("w0"));
    expect(await node.model(job.id, 0)).toEqual(utf8("w0"));
    const log = await node.verifiedLog(job.id);
    expect(log.map((e) => e.body.kind)).toEqual(["job", "model"]);
    expect(log[1]!.body).toMatchObject({ modelHash: hash });
    expect(node.roundSocketUrl("/v1/rounds/x/0/0/ws")).toMatch(/^wss:\/\/coordinator\.test\/v1\/rounds\/x\/0\/0\/ws\?x-2pm-node=/);

    // a wrong pinned key makes the log unverifiable
    await expect(node.verifiedLog(job.id, makeNode().identityPublicKey)).rejects.toMatchObject({ code: "log-invalid" });
    // problem codes surface as ApiClientError
    const bad = new CoordinatorClient({ baseUrl: "https://coordinator.test", token: "wrong", fetch: f });
    await expect(bad.listJobs()).rejects.toBeInstanceOf(ApiClientError);
    await expect(bad.listJobs()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    expect((await op.cancelJob(job.id)).status).toBe("cancelled");
    await node.deregister();
    await expect(node.self()).rejects.toMatchObject({ code: "unknown-node" });
  });
});
