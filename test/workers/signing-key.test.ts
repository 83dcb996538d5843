/**
 * No development signing key outside dev/tests: without COORDINATOR_SIGNING_KEY and without
 * DEV_INSECURE_SIGNING_KEY=1 every path that signs or serves the log key answers 503
 * `signing-key-missing` — never a silently derived, publicly known key. (This project's
 * workerd pool sets DEV_INSECURE_SIGNING_KEY=1, vitest.config.ts; here the Worker is called with
 * an env that lacks both.)
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../../functions/index.ts";
import { coordinatorKey } from "../../functions/keys.ts";
import { ApiError, errorBoundary, SIGNING_KEY_MISSING_DETAIL } from "../../functions/errors.ts";
import { DEV_COORDINATOR_PUBLIC_KEY } from "../../protocol/crypto/dev-key.ts";
import { identityPublicKey } from "../../protocol/crypto/identity.ts";
import { fromHex, toBase64Url } from "../../protocol/encoding.ts";
import { BASE, spec, submitJob, TOKEN } from "./helpers.ts";

type E = typeof env;
const noKey: E = { ...env, COORDINATOR_SIGNING_KEY: undefined, DEV_INSECURE_SIGNING_KEY: undefined };

async function call(e: E, method: string, path: string, o: { token?: boolean; body?: BodyInit; type?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${TOKEN}`;
  if (o.type) headers["content-type"] = o.type;
  const ctx = createExecutionContext();
  const r = await app.fetch(new Request(BASE + path, { method, headers, body: o.body }), e, ctx);
  await waitOnExecutionContext(ctx);
  return r;
}

async function expect503(r: Response): Promise<void> {
  expect(r.status).toBe(503);
  expect(r.headers.get("content-type")).toContain("application/problem+json");
  expect(await r.json()).toMatchObject({ status: 503, code: "signing-key-missing", detail: expect.stringContaining("COORDINATOR_SIGNING_KEY") });
}

describe("coordinatorKey(env)", () => {
  it("throws 503 signing-key-missing without the secret and without DEV_INSECURE_SIGNING_KEY=1", () => {
    for (const e of [{}, { COORDINATOR_SIGNING_KEY: "" }, { COORDINATOR_SIGNING_KEY: "  " }, { DEV_INSECURE_SIGNING_KEY: "true" }, { DEV_INSECURE_SIGNING_KEY: "0" }]) {
      let err: unknown;
      try {
        coordinatorKey(e);
      } catch (x) {
        err = x;
      }
      expect(err, JSON.stringify(e)).toBeInstanceOf(ApiError);
      expect(err).toMatchObject({ status: 503, code: "signing-key-missing" });
    }
  });

  it("refuses a malformed secret with the same 503 (no fallback)", () => {
    expect(() => coordinatorKey({ COORDINATOR_SIGNING_KEY: "abc", DEV_INSECURE_SIGNING_KEY: "1" })).toThrow(ApiError);
  });

  it("uses the secret when set, the public development key only with DEV_INSECURE_SIGNING_KEY=1", () => {
    const hex = "11".repeat(32);
    const k = coordinatorKey({ COORDINATOR_SIGNING_KEY: hex, DEV_INSECURE_SIGNING_KEY: "1" });
    expect(k.insecureDevKey).toBe(false);
    expect(k.publicKeyB64).toBe(toBase64Url(identityPublicKey(fromHex(hex))));
    const dev = coordinatorKey({ DEV_INSECURE_SIGNING_KEY: "1" });
    expect(dev.insecureDevKey).toBe(true);
    expect(dev.publicKeyB64).toBe(DEV_COORDINATOR_PUBLIC_KEY);
  });
});

describe("the Worker without a signing key", () => {
  it("answers 503 signing-key-missing on every log-signing path, before any Durable Object is called", async () => {
    await expect503(await call(noKey, "GET", "/v1/coordinator/key"));
    await expect503(await call(noKey, "POST", "/v1/jobs", { token: true, type: "application/json", body: JSON.stringify(spec({ schemaId: `nokey/${crypto.randomUUID()}` })) }));
    const job = await submitJob({ schemaId: `nokey/${crypto.randomUUID()}` }); // created while a key existed
    await expect503(await call(noKey, "GET", `/v1/jobs/${job.id}/log`, { token: true }));
    await expect503(await call(noKey, "PUT", `/v1/jobs/${job.id}/models/0`, { token: true, type: "application/octet-stream", body: new Uint8Array([1, 2, 3]) }));
    await expect503(await call(noKey, "POST", `/v1/jobs/${job.id}/cancel`, { token: true }));
    // nothing was written: the job is still pending, without a model
    const r = (await (await call(env, "GET", `/v1/jobs/${job.id}/log`, { token: true })).json()) as { entries: Array<{ body: { kind: string } }> };
    expect(r.entries.map((e) => e.body.kind)).not.toContain("model");
    expect(((await (await call(env, "GET", `/v1/jobs/${job.id}`, { token: true })).json()) as { job: { status: string } }).job.status).not.toBe("cancelled");
  });

  it("still serves routes that do not sign", async () => {
    expect((await call(noKey, "GET", "/v1/health")).status).toBe(200);
    expect((await call(noKey, "GET", "/v1/jobs", { token: true })).status).toBe(200);
  });

  it("maps the error a Durable Object throws for a missing key (only its message crosses RPC) to the same 503", async () => {
    await expect503(errorBoundary(new Error(SIGNING_KEY_MISSING_DETAIL), {} as never));
  });
});
