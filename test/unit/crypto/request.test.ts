import { describe, expect, it } from "vitest";
import { generateNodeKeys, nodeIdFromPublicKey } from "../../../protocol/crypto/identity.ts";
import { bodyHash, signedTarget, signRequest, signRequestAuth, signUrl, verifyRequestAuth } from "../../../protocol/crypto/request.ts";
import { seededRng } from "../../../protocol/rng.ts";

const keys = generateNodeKeys(seededRng("req"));
const other = generateNodeKeys(seededRng("req-other"));
const nodeId = nodeIdFromPublicKey(keys.identityPublicKey);
const now = 1_800_000_000_000;
const body = JSON.stringify({ load: 0.5 });
const base = { method: "POST", url: "https://c.example/v1/nodes/x/heartbeat?a=1", body, nodeId, identitySecretKey: keys.identitySecretKey, now };

async function check(o: Partial<Parameters<typeof verifyRequestAuth>[0]> = {}, auth = signRequestAuth(base)) {
  return verifyRequestAuth({ method: "POST", url: base.url, bodyHashHex: bodyHash(body), auth, publicKey: keys.identityPublicKey, now, ...o });
}

describe("signed requests", () => {
  it("accept a correct signature", async () => {
    expect(await check()).toBeNull();
    const h = signRequest(base);
    expect(Object.keys(h).sort()).toEqual(["x-2pm-node", "x-2pm-nonce", "x-2pm-signature", "x-2pm-timestamp"]);
  });
  it("refuse another method, path, query, body or key", async () => {
    expect(await check({ method: "PUT" })).toBe("bad-signature");
    expect(await check({ url: "https://c.example/v1/nodes/y/heartbeat?a=1" })).toBe("bad-signature");
    expect(await check({ url: "https://c.example/v1/nodes/x/heartbeat?a=2" })).toBe("bad-signature");
    expect(await check({ bodyHashHex: bodyHash("{}") })).toBe("bad-signature");
    expect(await check({ publicKey: other.identityPublicKey })).toBe("bad-signature");
  });
  it("refuse stale or future timestamps and missing fields", async () => {
    expect(await check({ now: now + 61_000 })).toBe("stale-timestamp");
    expect(await check({ now: now - 61_000 })).toBe("stale-timestamp");
    const a = signRequestAuth(base);
    expect(await check({}, { ...a, signature: "" })).toBe("missing-signature");
    expect(await check({}, { ...a, nonce: "short" })).toBe("bad-signature");
    expect(await check({}, { ...a, node: "0".repeat(32) })).toBe("bad-signature");
  });
  it("signUrl puts the auth in the query and the signed target ignores it", async () => {
    const u = signUrl({ url: "https://c.example/v1/rounds/j/0/0/ws", nodeId, identitySecretKey: keys.identitySecretKey, now });
    const q = new URL(u).searchParams;
    expect(signedTarget(u)).toBe("/v1/rounds/j/0/0/ws");
    const auth = { node: q.get("x-2pm-node")!, timestamp: q.get("x-2pm-timestamp")!, nonce: q.get("x-2pm-nonce")!, signature: q.get("x-2pm-signature")! };
    expect(await verifyRequestAuth({ method: "GET", url: u, bodyHashHex: bodyHash(null), auth, publicKey: keys.identityPublicKey, now })).toBeNull();
  });
});
