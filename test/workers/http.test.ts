import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, makeNode, registration, signedFetch, tokenFetch, TOKEN } from "./helpers.ts";

type P = { type: string; title: string; status: number; code: string; detail?: string };

function isProblem(p: P, status: number, code: string): void {
  expect(p.status).toBe(status);
  expect(p.code).toBe(code);
  expect(typeof p.type).toBe("string");
  expect(typeof p.title).toBe("string");
  expect(JSON.stringify(p)).not.toMatch(/at .*\.(ts|js):\d+/); // never a stack trace
}

describe("problem details", () => {
  it("malformed JSON → 400 malformed-json", async () => {
    const r = await SELF.fetch(`${BASE}/v1/jobs`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: "{not json" });
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    isProblem((await r.json()) as P, 400, "malformed-json");
  });

  it("malformed JSON on a signed node route → 400 malformed-json (after the signature checks out)", async () => {
    const n = makeNode();
    const { signRequest } = await import("../../protocol/crypto/request.ts");
    const body = '{"identityKey": ';
    const h = signRequest({ method: "POST", url: `${BASE}/v1/nodes`, body, nodeId: n.id, identitySecretKey: n.identitySecretKey });
    const r = await SELF.fetch(`${BASE}/v1/nodes`, { method: "POST", headers: { ...h, "content-type": "application/json" }, body });
    isProblem((await r.json()) as P, 400, "malformed-json");
  });

  it("wrong content type → 415", async () => {
    const r = await SELF.fetch(`${BASE}/v1/jobs`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "text/plain" }, body: "{}" });
    isProblem((await r.json()) as P, 415, "unsupported-media-type");
  });

  it("oversized bodies → 413", async () => {
    const big = JSON.stringify({ type: "stats", pad: "x".repeat(200_000) });
    const r = await SELF.fetch(`${BASE}/v1/jobs`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: big });
    isProblem((await r.json()) as P, 413, "payload-too-large");
    const n = makeNode();
    const reg = { ...registration(n), label: "y".repeat(100_000) };
    const r2 = await signedFetch(n, "POST", "/v1/nodes", reg);
    isProblem((await r2.json()) as P, 413, "payload-too-large");
    // streamed body without content-length
    const stream = new ReadableStream({ start(c) { for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode("a".repeat(10_000))); c.close(); } });
    const r3 = await SELF.fetch(`${BASE}/v1/jobs`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: stream, duplex: "half" } as RequestInit);
    isProblem((await r3.json()) as P, 413, "payload-too-large");
  });

  it("unknown routes → 404 not-found", async () => {
    for (const [m, p] of [["GET", "/nope"], ["GET", "/v1/unknown"], ["PATCH", "/v1/health"], ["DELETE", "/v1/coordinator/key"], ["GET", "/v2/jobs"]] as const) {
      const r = await SELF.fetch(BASE + p, { method: m });
      expect(r.status, `${m} ${p}`).toBe(404);
      isProblem((await r.json()) as P, 404, "not-found");
    }
  });

  it("websocket route without upgrade → 426", async () => {
    const r = await SELF.fetch(`${BASE}/v1/rounds/j/0/0/ws`);
    isProblem((await r.json()) as P, 426, "upgrade-required");
  });

  it("bad integer parameters → 400", async () => {
    const r = await tokenFetch("GET", "/v1/jobs?limit=abc");
    isProblem((await r.json()) as P, 400, "bad-request");
  });

  it("serves the coordinator key", async () => {
    const r = (await (await SELF.fetch(`${BASE}/v1/coordinator/key`)).json()) as { algorithm: string; publicKey: string; insecureDevKey: boolean };
    expect(r.algorithm).toBe("Ed25519");
    expect(r.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(typeof r.insecureDevKey).toBe("boolean"); // true unless .dev.vars sets COORDINATOR_SIGNING_KEY
  });
});

describe("error boundary", () => {
  it("turns our own bugs into a bare 500 without message or stack", async () => {
    const { errorBoundary } = await import("../../functions/errors.ts");
    const err = new Error("secret internal detail at /work/main/x.ts:1");
    const r = errorBoundary(err, {} as never);
    expect(r.status).toBe(500);
    const text = await r.text();
    expect(text).not.toContain("secret");
    expect(JSON.parse(text)).toEqual({ type: "about:blank", title: "Internal Server Error", status: 500, code: "internal" });
  });
});
