/**
 * Issue 15, faults 5 and 6, through the real Worker:
 *  - a `"__proto__"` key anywhere in a strict JSON body is refused (400 validation-failed),
 *    never silently dropped, on every route that parses a body;
 *  - no request creates a Durable Object for a round that does not exist: a signed decline,
 *    a WebSocket upgrade or an operator status read on a made-up round is refused before the
 *    Worker touches the RoundDO namespace (listDurableObjectIds shows no such object).
 */
import { env, listDurableObjectIds, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signRequest, signUrl } from "../../protocol/crypto/request.ts";
import { roundObjectName } from "../../protocol/names.ts";
import { assignments, BASE, heartbeat, makeNode, register, registration, signedFetch, spec, submitJob, tokenFetch, until, type TestNode } from "./helpers.ts";

/** Signed request with an exact body text (JSON.stringify cannot emit an own `__proto__` key). */
function rawSigned(node: TestNode, method: string, path: string, text: string): Promise<Response> {
  const url = BASE + path;
  return SELF.fetch(url, { method, headers: { ...signRequest({ method, url, body: text, nodeId: node.id, identitySecretKey: node.identitySecretKey }), "content-type": "application/json" }, body: text });
}

/** `body` as JSON with `"__proto__": {...}` spliced in as the first key of the object at `at` (a top-level key, or the root). */
function withProto(body: Record<string, unknown>, at?: string): string {
  const proto = `"__proto__":{"polluted":true},`;
  if (at === undefined) return `{${proto}${JSON.stringify(body).slice(1)}`;
  const inner = JSON.stringify(body[at]);
  const rest = Object.fromEntries(Object.entries(body).filter(([k]) => k !== at));
  return `{${JSON.stringify(at)}:{${proto}${inner.slice(1)},${JSON.stringify(rest).slice(1)}`;
}

const problem = async (r: Response) => ({ status: r.status, ...((await r.json()) as { code: string; issues?: Array<{ path: string }> }) });

describe("fault 6: a `__proto__` key in a strict body is refused", () => {
  it("registration: at the root and nested; the node is not registered", async () => {
    const node = makeNode();
    const body = registration(node) as unknown as Record<string, unknown>;
    for (const text of [withProto(body), withProto(body, "capabilities")]) {
      const p = await problem(await rawSigned(node, "POST", "/v1/nodes", text));
      expect(p).toMatchObject({ status: 400, code: "validation-failed" });
    }
    expect((await tokenFetch("GET", `/v1/nodes/${node.id}`)).status).toBe(404);
    // the same body without the key is fine
    expect((await rawSigned(node, "POST", "/v1/nodes", JSON.stringify(body))).status).toBe(201);
  });

  it("heartbeat, job submission and decline", async () => {
    const node = makeNode();
    expect((await register(node)).status).toBe(201);
    const hb = { load: 0.1, freeMemoryMb: 4096, onBattery: false, online: true };
    expect(await problem(await rawSigned(node, "POST", `/v1/nodes/${node.id}/heartbeat`, withProto(hb)))).toMatchObject({ status: 400, code: "validation-failed" });
    expect((await heartbeat(node)).status).toBe(200);

    const job = spec() as unknown as Record<string, unknown>;
    for (const text of [withProto(job), withProto(job, "committee"), withProto(job, "task")]) {
      const r = await SELF.fetch(`${BASE}/v1/jobs`, { method: "POST", headers: { authorization: "Bearer test-api-token", "content-type": "application/json" }, body: text });
      expect(await problem(r)).toMatchObject({ status: 400, code: "validation-failed" });
    }
  });

  it("decline: a member's decline with `__proto__` is refused and the round goes on", async () => {
    const schemaId = `faults/${crypto.randomUUID()}`;
    const nodes = [makeNode(), makeNode()];
    for (const n of nodes) expect((await register(n, { schemaId })).status).toBe(201);
    const job = await submitJob({ schemaId, committee: { size: 2, min: 2 } });
    await until(async () => (await assignments(nodes[0]!)).some((a) => a.jobId === job.id), 5000, "assignment");
    const a = (await assignments(nodes[0]!)).find((x) => x.jobId === job.id)!;
    const path = `/v1/rounds/${job.id}/${a.round}/${a.attempt}/decline`;
    expect(await problem(await rawSigned(nodes[0]!, "POST", path, withProto({ reason: "no" })))).toMatchObject({ status: 400, code: "validation-failed" });
    const status = (await (await tokenFetch("GET", `/v1/rounds/${job.id}/${a.round}/${a.attempt}`)).json()) as { round: { phase: string } };
    expect(status.round.phase).toBe("waiting");
  });
});

describe("fault 5: no Durable Object for a round that does not exist", () => {
  const exists = async (job: string, round: number, attempt: number) => {
    const id = env.ROUND_DO.idFromName(roundObjectName(job, round, attempt));
    return (await listDurableObjectIds(env.ROUND_DO)).some((x) => x.equals(id));
  };

  it("a signed decline, a WebSocket upgrade and a status read on a made-up job are refused and create no RoundDO", async () => {
    const node = makeNode();
    expect((await register(node)).status).toBe(201);
    const job = `made-up-${crypto.randomUUID()}`;
    const d = await signedFetch(node, "POST", `/v1/rounds/${job}/0/0/decline`, { reason: "spam" });
    expect(await problem(d)).toMatchObject({ status: 403, code: "not-in-committee" });
    const url = signUrl({ url: `${BASE}/v1/rounds/${job}/0/1/ws`, nodeId: node.id, identitySecretKey: node.identitySecretKey });
    const ws = await SELF.fetch(url, { headers: { upgrade: "websocket" } });
    expect(await problem(ws)).toMatchObject({ status: 403, code: "not-in-committee" });
    expect((await tokenFetch("GET", `/v1/rounds/${job}/0/2`)).status).toBe(404);
    for (const attempt of [0, 1, 2]) expect(await exists(job, 0, attempt)).toBe(false);
  });

  it("a real job's member reaches its RoundDO; an outsider, and a member naming another attempt, do not create one", async () => {
    const schemaId = `faults/${crypto.randomUUID()}`;
    const nodes = [makeNode(), makeNode()];
    for (const n of nodes) expect((await register(n, { schemaId })).status).toBe(201);
    const outsider = makeNode();
    expect((await register(outsider)).status).toBe(201);
    const job = await submitJob({ schemaId, committee: { size: 2, min: 2 } });
    await until(async () => (await assignments(nodes[0]!)).some((a) => a.jobId === job.id), 5000, "assignment");
    expect(await exists(job.id, 0, 0)).toBe(true);
    expect(await problem(await signedFetch(outsider, "POST", `/v1/rounds/${job.id}/0/0/decline`, { reason: "x" }))).toMatchObject({ status: 403, code: "not-in-committee" });
    expect(await problem(await signedFetch(nodes[0]!, "POST", `/v1/rounds/${job.id}/0/7/decline`, { reason: "x" }))).toMatchObject({ status: 403, code: "not-in-committee" });
    expect(await problem(await signedFetch(nodes[0]!, "POST", `/v1/rounds/${job.id}/3/0/decline`, { reason: "x" }))).toMatchObject({ status: 403, code: "not-in-committee" });
    expect(await exists(job.id, 0, 7)).toBe(false);
    expect(await exists(job.id, 3, 0)).toBe(false);
    expect((await tokenFetch("GET", `/v1/rounds/${job.id}/0/0`)).status).toBe(200);
  });
});
