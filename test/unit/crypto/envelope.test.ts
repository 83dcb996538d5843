import { describe, expect, it } from "vitest";
import { generateNodeKeys, nodeIdFromPublicKey, sign, verify, verifyAsync, signAsync, sharedSecret } from "../../../protocol/crypto/identity.ts";
import {
  EnvelopeError, openBroadcast, openDirect, pairKey, parseEnvelope, sealAsync, sealBroadcast, sealDirect, verifyEnvelopeSignature, verifyEnvelopeSignatureAsync,
} from "../../../protocol/crypto/envelope.ts";
import { deriveSessionId } from "../../../protocol/api/schemas.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { utf8 } from "../../../protocol/encoding.ts";

const rng = seededRng("envelope-tests");
const alice = generateNodeKeys(rng);
const bob = generateNodeKeys(rng);
const carol = generateNodeKeys(rng);
const sid = deriveSessionId("job1", 0, 0);
const hdr = { jobId: "job1", round: 0, attempt: 0, phase: "cope.send", from: 0, to: 1, seq: 1 };
const kAB = pairKey(alice.kxSecretKey, bob.kxPublicKey, sid);
const kBA = pairKey(bob.kxSecretKey, alice.kxPublicKey, sid);
const ctxBob = { jobId: "job1", round: 0, attempt: 0, me: 1 };

function codeOf(f: () => unknown): string {
  try { f(); } catch (e) { if (e instanceof EnvelopeError) return e.code; throw e; }
  return "none";
}

describe("identity", () => {
  it("node id is 32 hex chars of SHA-256(pk) and differs per key", () => {
    const id = nodeIdFromPublicKey(alice.identityPublicKey);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(nodeIdFromPublicKey(bob.identityPublicKey)).not.toBe(id);
  });
  it("signatures verify only for the right key and message", async () => {
    const m = utf8("hello");
    const s = sign(alice.identitySecretKey, m);
    expect(verify(alice.identityPublicKey, m, s)).toBe(true);
    expect(verify(bob.identityPublicKey, m, s)).toBe(false);
    expect(verify(alice.identityPublicKey, utf8("hellp"), s)).toBe(false);
    expect(verify(alice.identityPublicKey, m, s.subarray(1))).toBe(false);
    expect(await verifyAsync(alice.identityPublicKey, m, s)).toBe(true);
    expect(await verifyAsync(bob.identityPublicKey, m, s)).toBe(false);
    expect(await signAsync(alice.identitySecretKey, m)).toEqual(s);
  });
  it("X25519 agreement is symmetric and refuses low-order keys", () => {
    expect(sharedSecret(alice.kxSecretKey, bob.kxPublicKey)).toEqual(sharedSecret(bob.kxSecretKey, alice.kxPublicKey));
    expect(kAB).toEqual(kBA);
    expect(() => sharedSecret(alice.kxSecretKey, new Uint8Array(32))).toThrow();
    expect(() => sharedSecret(alice.kxSecretKey, new Uint8Array(31))).toThrow(RangeError);
  });
});

describe("direct envelopes", () => {
  const pt = utf8("secret share bytes");
  const env = sealDirect(hdr, pt, kAB, alice.identitySecretKey, rng);

  it("round-trips and the relay can check the sender without a key", async () => {
    expect(openDirect(env, ctxBob, alice.identityPublicKey, kBA)).toEqual({ phase: "cope.send", from: 0, seq: 1, payload: pt });
    const p = parseEnvelope(env);
    expect(p).toMatchObject({ kind: "direct", jobId: "job1", round: 0, attempt: 0, phase: "cope.send", from: 0, to: 1, seq: 1 });
    expect(verifyEnvelopeSignature(p, alice.identityPublicKey)).toBe(true);
    expect(await verifyEnvelopeSignatureAsync(p, alice.identityPublicKey)).toBe(true);
    expect(await verifyEnvelopeSignatureAsync(p, bob.identityPublicKey)).toBe(false);
    // ciphertext does not contain the plaintext
    expect(Buffer.from(env).includes(Buffer.from(pt))).toBe(false);
  });
  it("sealAsync produces envelopes openDirect accepts", async () => {
    const e2 = await sealAsync({ ...hdr, kind: "direct" }, pt, alice.identitySecretKey, kAB, rng);
    expect(openDirect(e2, ctxBob, alice.identityPublicKey, kBA).payload).toEqual(pt);
  });
  it("refuses tampered ciphertext (even if re-signed by the sender)", () => {
    const t = env.slice();
    const p = parseEnvelope(t);
    t[p.header.length + 2]! ^= 1;
    expect(codeOf(() => openDirect(t, ctxBob, alice.identityPublicKey, kBA))).toBe("bad-signature");
    // re-sign the tampered bytes: signature fine, AEAD tag fails
    const signed = t.subarray(0, t.length - 64);
    const resigned = new Uint8Array([...signed, ...sign(alice.identitySecretKey, signed)]);
    expect(codeOf(() => openDirect(resigned, ctxBob, alice.identityPublicKey, kBA))).toBe("decrypt-failed");
  });
  it("refuses a wrong signer", () => {
    expect(codeOf(() => openDirect(env, ctxBob, carol.identityPublicKey, kBA))).toBe("bad-signature");
    const forged = sealDirect(hdr, pt, kAB, carol.identitySecretKey, rng); // carol knows nothing of kAB in reality; signature still wrong
    expect(codeOf(() => openDirect(forged, ctxBob, alice.identityPublicKey, kBA))).toBe("bad-signature");
  });
  it("refuses a wrong AD: header field changed and re-signed fails the AEAD tag", () => {
    for (const change of [{ seq: 2 }, { phase: "cope.recv" }, { round: 1 }, { attempt: 1 }] as const) {
      const p = parseEnvelope(env);
      // rebuild an envelope with the same nonce+ciphertext but another header
      const other = sealDirect({ ...hdr, ...change }, pt, kAB, alice.identitySecretKey, rng);
      const po = parseEnvelope(other);
      const header = po.header.slice();
      header.set(p.nonce, header.length - 4 - 24); // reuse original nonce
      const signedBody = new Uint8Array([...header, ...p.payload]);
      const frank = new Uint8Array([...signedBody, ...sign(alice.identitySecretKey, signedBody)]);
      const ctx = { jobId: "job1", round: po.round, attempt: po.attempt, me: 1 };
      expect(codeOf(() => openDirect(frank, ctx, alice.identityPublicKey, kBA))).toBe("decrypt-failed");
    }
  });
  it("refuses envelopes of another round or addressed to someone else", () => {
    expect(codeOf(() => openDirect(env, { ...ctxBob, round: 1 }, alice.identityPublicKey, kBA))).toBe("wrong-context");
    expect(codeOf(() => openDirect(env, { ...ctxBob, me: 2 }, alice.identityPublicKey, kBA))).toBe("wrong-context");
    expect(codeOf(() => openDirect(env, { ...ctxBob, jobId: "job2" }, alice.identityPublicKey, kBA))).toBe("wrong-context");
  });
  it("a third party's pair key cannot decrypt", () => {
    const kCB = pairKey(carol.kxSecretKey, bob.kxPublicKey, sid);
    expect(codeOf(() => openDirect(env, ctxBob, alice.identityPublicKey, kCB))).toBe("decrypt-failed");
  });
  it("refuses malformed bytes", () => {
    expect(codeOf(() => parseEnvelope(env.subarray(0, env.length - 1)))).toBe("bad-encoding");
    expect(codeOf(() => parseEnvelope(new Uint8Array(10)))).toBe("bad-encoding");
    const v = env.slice(); v[0] = 9;
    expect(codeOf(() => parseEnvelope(v))).toBe("bad-encoding");
  });
  it("validates header arguments", () => {
    expect(() => sealDirect({ ...hdr, seq: -1 }, pt, kAB, alice.identitySecretKey)).toThrow(RangeError);
    expect(() => sealDirect({ ...hdr, phase: "" }, pt, kAB, alice.identitySecretKey)).toThrow(RangeError);
    expect(() => sealDirect({ ...hdr, to: "all" }, pt, kAB, alice.identitySecretKey)).toThrow(TypeError);
    expect(() => pairKey(alice.kxSecretKey, bob.kxPublicKey, new Uint8Array(4))).toThrow(RangeError);
  });
});

describe("broadcast envelopes", () => {
  const b = sealBroadcast({ jobId: "job1", round: 0, attempt: 0, phase: "maccheck.commit", from: 0, seq: 2 }, utf8("public"), alice.identitySecretKey);
  it("verify and carry the payload in the clear", () => {
    expect(openBroadcast(b, ctxBob, alice.identityPublicKey).payload).toEqual(utf8("public"));
    expect(parseEnvelope(b).to).toBe("all");
  });
  it("refuse a tampered payload or a wrong signer", () => {
    const t = b.slice(); t[t.length - 65]! ^= 1;
    expect(codeOf(() => openBroadcast(t, ctxBob, alice.identityPublicKey))).toBe("bad-signature");
    expect(codeOf(() => openBroadcast(b, ctxBob, bob.identityPublicKey))).toBe("bad-signature");
    expect(codeOf(() => openDirect(b, ctxBob, alice.identityPublicKey, kBA))).toBe("wrong-context");
  });
});
