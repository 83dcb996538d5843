import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ApiClient } from "../../client/api/client.ts";
import { ApiClientError } from "../../protocol/api/problem.ts";
import { NodeClient } from "../../client/agent/node-client.ts";
import { utf8, toHex } from "../../protocol/encoding.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { makeNode, statsTask, TOKEN } from "./helpers.ts";
import { Assignment, JobSpec, JobSummary, NodeRecord, RoundInfo } from "../../protocol/api/schemas.ts";

const f = ((input: RequestInfo | URL, init?: RequestInit) => SELF.fetch(input as string, init)) as typeof fetch;

describe("ApiClient against the real Worker", () => {
  it("registers, heartbeats, reads itself, and an operator submits a job and verifies its log and model", async () => {
    const n = makeNode();
    const node = new NodeClient("https://coordinator.test", n, f);
    const op = new ApiClient({ baseUrl: "https://coordinator.test", token: TOKEN, submitterSecretKey: makeNode().identitySecretKey, fetch: f });
    const schemaId = `client/${crypto.randomUUID()}`;
    const rec = await node.register({ capabilities: { cores: 2, memoryMb: 2048, bandwidthMbps: 50 }, datasets: [{ schemaId, rows: 10, commitment: toHex(sha256(utf8("d"))) }] });
    expect(rec.id).toBe(node.nodeId);
    expect((await node.heartbeat({ load: 0.2, freeMemoryMb: 100, onBattery: false, online: true })).ok).toBe(true);
    expect((await node.node()).conditions?.load).toBe(0.2);
    expect(await node.assignments(0)).toEqual([]);

    // a second node with the same dataset: the two form the job's committee at once
    const peer = new ApiClient({ baseUrl: "https://coordinator.test", node: makeNode(), fetch: f });
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
    const outsider = new ApiClient({ baseUrl: "https://coordinator.test", node: makeNode(), fetch: f });
    await outsider.register({ capabilities: { cores: 2, memoryMb: 2048, bandwidthMbps: 50 }, datasets: [{ schemaId: `${schemaId}/other`, rows: 10, commitment: toHex(sha256(utf8("o"))) }] });
    await expect(outsider.log(job.id)).rejects.toMatchObject({ status: 403, code: "not-a-member" });
    expect(node.roundSocketUrl("/v1/rounds/x/0/0/ws")).toMatch(/^wss:\/\/coordinator\.test\/v1\/rounds\/x\/0\/0\/ws\?x-2pm-node=/);

    // a wrong pinned key makes the log unverifiable
    await expect(node.verifiedLog(job.id, makeNode().identityPublicKey)).rejects.toMatchObject({ code: "log-invalid" });
    // problem codes surface as ApiClientError
    const bad = new ApiClient({ baseUrl: "https://coordinator.test", token: "wrong", fetch: f });
    await expect(bad.jobs()).rejects.toBeInstanceOf(ApiClientError);
    await expect(bad.jobs()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    expect((await op.cancelJob(job.id)).status).toBe("cancelled");
    await node.deregister();
    await expect(node.node()).rejects.toMatchObject({ code: "unknown-node" });
  });

  it("lists with typed queries, declines a round, and surfaces every problem code as ApiClientError", async () => {
    const op = new ApiClient({ baseUrl: "https://coordinator.test", token: TOKEN, submitterSecretKey: makeNode().identitySecretKey, fetch: f });
    const schemaId = `client/${crypto.randomUUID()}`;
    const members = [makeNode(), makeNode()].map((k) => new NodeClient("https://coordinator.test", k, f));
    for (const [i, m] of members.entries()) await m.register({ capabilities: { cores: 2, memoryMb: 2048, bandwidthMbps: 50 }, datasets: [{ schemaId, rows: 10, commitment: toHex(sha256(utf8(`m${i}`))) }] });
    const job = await op.submitJob({ type: "stats", schemaId, committee: { size: 2, min: 2 }, maxRounds: 1, fixedPoint: { fracBits: 16, bound: 10 }, task: statsTask(schemaId) });
    expect((await op.jobs({ status: "running", limit: 200 })).map((j) => j.id)).toContain(job.id);
    expect((await op.nodes({ limit: 500 })).map((n) => n.id)).toEqual(expect.arrayContaining(members.map((m) => m.nodeId)));
    const got = await op.job(job.id);
    expect(got.spec.committee).toEqual({ size: 2, min: 2 });
    const [a] = await members[0]!.assignments(0);
    expect(a?.jobId).toBe(job.id);
    // what the server sends is what the zod schemas (and so GET /v1/openapi.json) say, strictly
    JobSummary.parse(got.job);
    JobSpec.parse(got.spec);
    Assignment.parse(a);
    for (const n of await op.nodes()) NodeRecord.parse(n);
    for (const r of await op.rounds(job.id)) RoundInfo.parse(r);
    // a bad query parameter is the caller's fault, with a stable code
    await expect(op.jobs({ limit: -1 })).rejects.toMatchObject({ status: 400, code: "bad-request" });
    // an outsider cannot decline; a member can, and the round aborts naming it
    const outsider = new ApiClient({ baseUrl: "https://coordinator.test", node: makeNode(), fetch: f });
    await outsider.register({ capabilities: { cores: 1, memoryMb: 1024, bandwidthMbps: 10 }, datasets: [] });
    await expect(outsider.decline(job.id, a!.round, a!.attempt, "no")).rejects.toMatchObject({ status: 403, code: "not-in-committee" });
    await members[0]!.decline(job.id, a!.round, a!.attempt, "policy: test");
    const rounds = await op.rounds(job.id);
    expect(rounds[0]).toMatchObject({ status: "aborted", abort: { code: "declined" } });
    // the operator removes a node; the node's own client then gets 401 unknown-node
    await op.deregister(members[1]!.nodeId);
    await expect(members[1]!.heartbeat({ load: 0, freeMemoryMb: 1, onBattery: false, online: true })).rejects.toMatchObject({ status: 401, code: "unknown-node" });
    // without a submitter key the client refuses to submit (nothing is sent unsigned)
    await expect(new ApiClient({ baseUrl: "https://coordinator.test", token: TOKEN, fetch: f }).submitJob({} as never)).rejects.toBeInstanceOf(TypeError);
  });
});
