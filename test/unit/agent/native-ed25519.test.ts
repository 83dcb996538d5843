/**
 * node:crypto's Ed25519 backend (client/agent/native-ed25519.ts) against noble: the same
 * signature bytes, the same verdict on valid, tampered and malformed input, and envelopes
 * sealed and opened with it installed are byte-identical to noble's.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ed25519 } from "@noble/curves/ed25519.js";
import { nodeEd25519 } from "../../../client/agent/native-ed25519.ts";
import { identityPublicKey, setNativeEd25519, sign, verify } from "../../../protocol/crypto/identity.ts";
import { openDirect, sealDirect } from "../../../protocol/crypto/envelope.ts";
import { seededRng } from "../../../protocol/rng.ts";

afterEach(() => setNativeEd25519(null));

describe("node:crypto Ed25519 backend", () => {
  const rng = seededRng("native-ed25519");
  const cases = Array.from({ length: 20 }, (_, i) => ({ sk: rng.bytes(32), msg: rng.bytes(i * 97) }));

  it("signs the same bytes as noble and both verify each other's signatures", () => {
    for (const { sk, msg } of cases) {
      const pk = identityPublicKey(sk);
      const native = nodeEd25519.sign(sk, msg);
      expect(Buffer.from(native).toString("hex")).toBe(Buffer.from(ed25519.sign(msg, sk)).toString("hex"));
      expect(nodeEd25519.verify(pk, msg, native)).toBe(true);
      expect(ed25519.verify(native, msg, pk)).toBe(true);
    }
  });

  it("rejects what noble rejects: tampered message or signature, another key, malformed input (never throws)", () => {
    const { sk, msg } = cases[5]!;
    const pk = identityPublicKey(sk), sig = nodeEd25519.sign(sk, msg);
    const badMsg = msg.slice(); badMsg[0] = badMsg[0]! ^ 1;
    const badSig = sig.slice(); badSig[10] = badSig[10]! ^ 4;
    const otherPk = identityPublicKey(cases[6]!.sk);
    for (const [p, m, s] of [[pk, badMsg, sig], [pk, msg, badSig], [otherPk, msg, sig], [new Uint8Array(32).fill(0xff), msg, sig], [pk, msg, new Uint8Array(64).fill(0xff)]] as const) {
      expect(nodeEd25519.verify(p, m, s)).toBe(false);
      expect((() => { try { return ed25519.verify(s, m, p); } catch { return false; } })()).toBe(false);
    }
  });

  it("once installed, identity.sign/verify use it; a mutated secret-key array is not served a stale cached key", () => {
    setNativeEd25519(nodeEd25519);
    const sk = cases[1]!.sk.slice(), msg = cases[1]!.msg;
    const first = sign(sk, msg);
    sk[0] = sk[0]! ^ 1; // same array, new key
    const second = sign(sk, msg);
    expect(Buffer.from(second).toString("hex")).toBe(Buffer.from(ed25519.sign(msg, sk)).toString("hex"));
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(false);
    expect(verify(identityPublicKey(sk), msg, second)).toBe(true);
    expect(verify(identityPublicKey(sk), msg, first)).toBe(false);
  });

  it("envelopes sealed with it are byte-identical to noble's and open under both", () => {
    const sk = cases[2]!.sk, key = new Uint8Array(32).fill(7), pk = identityPublicKey(sk);
    const h = { round: 3, attempt: 0, from: 1, to: 2, seq: 9, jobId: "job-1", phase: "input" };
    const plain = new Uint8Array(5000).fill(3);
    const byNoble = sealDirect(h, plain, key, sk, seededRng("env"));
    setNativeEd25519(nodeEd25519);
    const byNative = sealDirect(h, plain, key, sk, seededRng("env"));
    expect(Buffer.from(byNative).equals(Buffer.from(byNoble))).toBe(true);
    const ctx = { jobId: "job-1", round: 3, attempt: 0, me: 2 };
    expect(openDirect(byNative, ctx, pk, key).payload).toEqual(plain);
    setNativeEd25519(null);
    expect(openDirect(byNative, ctx, pk, key).payload).toEqual(plain);
  });
});
