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

    // a second node with the same dataset: the two form the job's committee at once
    const peer = new CoordinatorClient({ baseUrl: "https://coordinator.test", node: makeNode(), fetch: f });
    await peer.register({ capabilities: { cores: 2, memoryMb: 2048, bandwidthMbps: 50 }, datasets: [{ schemaId, rows: 10, commitment: toHex(sha256(utf8("e"))) }] });
    const job = await op.submitJob({ type: "stats", schemaId, committee: { size: 2, min: 2 }, maxRounds: 3, fixedPoint: { fracBits: 16, bound: 10 }, task: statsTask(schemaId) });
    expect(job.status).toBe("running");
    expect((await node.assignments(0)).map((a) => a.jobId)).toContain(job.id);
    const hash = await op.putModel(job.id, 1, utf8("w1"));
    // a committee member reads the job's models and log ...
    expect(await node.model(job.id, 1)).toEqual(utf8("w1"));
    const log = await node.verifiedLog(job.id);
    expect(log[0]!.body.kind).toBe("job");
    expect(log.map((e) => e.body.kind)).toContain("manifest");
    expect(log.at(-1)!.body).toMatchObject({ kind: "model", round: 1, modelHash: hash });
    // ... a node that never sat on its committee does not
    const outsider = new CoordinatorClient({ baseUrl: "https://coordinator.test", node: makeNode(), fetch: f });
    await outsider.register({ capabilities: { cores: 2, memoryMb: 2048, bandwidthMbps: 50 }, datasets: [{ schemaId: `${schemaId}/other`, rows: 10, commitment: toHex(sha256(utf8("o"))) }] });
    await expect(outsider.log(job.id)).rejects.toMatchObject({ status: 403, code: "not-a-member" });
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
