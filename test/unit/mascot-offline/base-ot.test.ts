import { describe, expect, it } from "vitest";
import { baseOtReceive, baseOtSenderFinish, baseOtSenderStart } from "../../../protocol/mascot/base-ot.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { toHex, utf8 } from "../../../protocol/encoding.ts";

describe("base OT (Chou–Orlandi over ristretto255)", () => {
  it("receiver gets exactly k_c, the other key differs", () => {
    const sid = utf8("sid"), rng = seededRng("bot");
    const choices = new Uint8Array([0, 1, 1, 0, 1, 0, 0, 1]);
    const s = baseOtSenderStart(sid, rng);
    const r = baseOtReceive(sid, choices, s.message, rng, 0);
    const { k0, k1 } = baseOtSenderFinish(s.state, r.message, choices.length, 1);
    for (let i = 0; i < choices.length; i++) {
      const got = toHex(r.keys.subarray(16 * i, 16 * i + 16));
      const want = toHex((choices[i] ? k1 : k0).subarray(16 * i, 16 * i + 16));
      const other = toHex((choices[i] ? k0 : k1).subarray(16 * i, 16 * i + 16));
      expect(got).toBe(want);
      expect(got).not.toBe(other);
    }
    expect(() => baseOtSenderFinish(s.state, r.message, choices.length, 1)).toThrow(/already used/);
  });
  it("rejects invalid points and the identity, blaming the peer", () => {
    const rng = seededRng("bad");
    const bad = new Uint8Array(32).fill(0xff);
    expect(() => baseOtReceive(utf8("s"), new Uint8Array([1]), bad, rng, 3)).toThrow(ProtocolAbort);
    expect(() => baseOtReceive(utf8("s"), new Uint8Array([1]), new Uint8Array(32), rng, 3)).toThrow(/identity/);
    const s = baseOtSenderStart(utf8("s"), rng);
    try { baseOtSenderFinish(s.state, bad, 1, 2); expect.unreachable(); } catch (e) {
      expect((e as ProtocolAbort).code).toBe("bad-encoding"); expect((e as ProtocolAbort).culprits).toEqual([2]);
    }
  });
  it("keys are bound to the session id", () => {
    const choices = new Uint8Array([1]);
    const s1 = baseOtSenderStart(utf8("a"), seededRng("x"));
    const s2 = baseOtSenderStart(utf8("b"), seededRng("x"));
    const r1 = baseOtReceive(utf8("a"), choices, s1.message, seededRng("y"), 0);
    const f1 = baseOtSenderFinish(s1.state, r1.message, 1, 1);
    const f2 = baseOtSenderFinish(s2.state, r1.message, 1, 1);
    expect(toHex(f1.k1)).not.toBe(toHex(f2.k1));
  });
});
