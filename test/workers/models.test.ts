import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex, utf8 } from "../../protocol/encoding.ts";
import { signRequest } from "../../protocol/crypto/request.ts";
import { modelHashForRound, type LogEntry } from "../../protocol/log/index.ts";
import { BASE, makeNode, register, submitJob, TOKEN, tokenFetch } from "./helpers.ts";

const put = (id: string, round: number, bytes: Uint8Array, token = TOKEN) =>
  SELF.fetch(`${BASE}/v1/jobs/${id}/models/${round}`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" }, body: bytes as Uint8Array<ArrayBuffer> });

describe("models in R2, hash-checked against the log", () => {
  it("stores, logs, serves with the hash, refuses a second different model, detects tampering", async () => {
    const job = await submitJob({ schemaId: `models/${crypto.randomUUID()}` });
    const model = utf8("weights v0");
    expect((await put(job.id, 0, model, "nope")).status).toBe(401);
    const r = await put(job.id, 0, model);
    expect(r.status).toBe(201);
    expect(((await r.json()) as { hash: string }).hash).toBe(toHex(sha256(model)));
    expect((await put(job.id, 0, model)).status).toBe(201); // idempotent
    const clash = await put(job.id, 0, utf8("other weights"));
    expect(clash.status).toBe(409);

    const log = ((await (await tokenFetch("GET", `/v1/jobs/${job.id}/log`)).json()) as { entries: LogEntry[] }).entries;
    expect(modelHashForRound(log, 0)).toBe(toHex(sha256(model)));

    const got = await tokenFetch("GET", `/v1/jobs/${job.id}/models/0`);
    expect(got.status).toBe(200);
    expect(got.headers.get("x-2pm-model-hash")).toBe(toHex(sha256(model)));
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(model);

    // a registered node that never sat on the job's committee may not (test/workers/access.test.ts: members may)
    const n = makeNode();
    await register(n);
    const url = `${BASE}/v1/jobs/${job.id}/models/0`;
    const nr = await SELF.fetch(url, { headers: signRequest({ method: "GET", url, nodeId: n.id, identitySecretKey: n.identitySecretKey }) });
    expect(nr.status).toBe(403);
    expect(((await nr.json()) as { code: string }).code).toBe("not-a-member");
    expect((await SELF.fetch(url)).status).toBe(401);

    expect((await tokenFetch("GET", `/v1/jobs/${job.id}/models/1`)).status).toBe(404);

    await env.MODELS.put(`models/${job.id}/0`, utf8("swapped behind the log's back"));
    const bad = await tokenFetch("GET", `/v1/jobs/${job.id}/models/0`);
    expect(bad.status).toBe(409);
    expect(((await bad.json()) as { code: string }).code).toBe("model-hash-mismatch");
  });
});

describe("transparency log access", () => {
  it("is readable by operators, not by registered non-members nor anonymously", async () => {
    const job = await submitJob({ schemaId: `models/${crypto.randomUUID()}` });
    const n = makeNode();
    await register(n);
    const url = `${BASE}/v1/jobs/${job.id}/log`;
    expect((await tokenFetch("GET", `/v1/jobs/${job.id}/log`)).status).toBe(200);
    expect((await SELF.fetch(url, { headers: signRequest({ method: "GET", url, nodeId: n.id, identitySecretKey: n.identitySecretKey }) })).status).toBe(403);
    expect((await SELF.fetch(url)).status).toBe(401);
    // job routes stay token-only even for registered nodes
    const jurl = `${BASE}/v1/jobs/${job.id}`;
    expect((await SELF.fetch(jurl, { headers: signRequest({ method: "GET", url: jurl, nodeId: n.id, identitySecretKey: n.identitySecretKey }) })).status).toBe(401);
  });
});
