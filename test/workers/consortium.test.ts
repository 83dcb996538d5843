/**
 * A coordinator configured with a consortium (CONSORTIUM_ADMIN_KEY + CONSORTIUM_LIST) admits
 * only listed identity keys to its registry, so an outsider cannot fill the selection pool
 * with sybils; a list that does not verify closes registration (503) instead of opening it.
 * (Nodes enforce the list themselves as well: test/unit/agent/malicious-coordinator.test.ts.)
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../../functions/index.ts";
import { signConsortium } from "../../protocol/consortium.ts";
import { identityPublicKey } from "../../protocol/crypto/identity.ts";
import { signRequest } from "../../protocol/crypto/request.ts";
import { toBase64Url } from "../../protocol/encoding.ts";
import { BASE, makeNode, registration, type TestNode } from "./helpers.ts";

const admin = crypto.getRandomValues(new Uint8Array(32));
const adminKey = toBase64Url(identityPublicKey(admin));
const member = makeNode();
const outsider = makeNode();
const list = JSON.stringify(signConsortium({ version: 1, kind: "2pm-consortium", name: "hospitals", issuedAt: Date.now(), members: [{ identityKey: toBase64Url(member.identityPublicKey) }] }, admin));

async function registerWith(e: typeof env, node: TestNode): Promise<Response> {
  const url = `${BASE}/v1/nodes`;
  const body = JSON.stringify(registration(node, { schemaId: "consortium/x" }));
  const headers = { ...signRequest({ method: "POST", url, body, nodeId: node.id, identitySecretKey: node.identitySecretKey }), "content-type": "application/json" };
  const ctx = createExecutionContext();
  const r = await app.fetch(new Request(url, { method: "POST", headers, body }), e, ctx);
  await waitOnExecutionContext(ctx);
  return r;
}

describe("registration restricted to a consortium", () => {
  it("a listed node registers; an outsider gets 403 not-a-member and is not in the registry", async () => {
    const e = { ...env, CONSORTIUM_ADMIN_KEY: adminKey, CONSORTIUM_LIST: list };
    expect((await registerWith(e, member)).status).toBe(201);
    const r = await registerWith(e, outsider);
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ code: "not-a-member" });
    expect(await env.DB.prepare("SELECT id FROM nodes WHERE id = ?").bind(outsider.id).first()).toBeNull();
  });

  it("a list signed by another key, or a malformed list, closes registration with 503 consortium-invalid", async () => {
    const other = toBase64Url(identityPublicKey(crypto.getRandomValues(new Uint8Array(32))));
    for (const e of [{ ...env, CONSORTIUM_ADMIN_KEY: other, CONSORTIUM_LIST: list }, { ...env, CONSORTIUM_ADMIN_KEY: adminKey, CONSORTIUM_LIST: "{not json" }, { ...env, CONSORTIUM_LIST: list }]) {
      const r = await registerWith(e, makeNode());
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ code: "consortium-invalid" });
    }
  });

  it("without a consortium, registration stays open (the default)", async () => {
    expect((await registerWith(env, makeNode())).status).toBe(201);
  });
});
