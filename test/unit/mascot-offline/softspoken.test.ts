/**
 * SoftSpokenOT (protocol/mascot/softspoken.ts): correctness for every k, sync = async, and
 * the negative tests of its two checks — the punctured-PRF consistency check at setup and
 * the subspace-VOLE consistency check of every Extend.
 */
import { describe, expect, it } from "vitest";
import { baseOtPairInProcess } from "../../../protocol/mascot/ot-extension.ts";
import {
  ssBlockSizes, ssMessageLength, ssReceiverCorrections, ssReceiverExtend, ssReceiverExtendAsync, ssReceiverFinish, ssReceiverFinishAsync, ssReceiverSetup, ssSenderExtend, ssSenderExtendAsync, ssSenderSetup, ssSetupMessageLength,
} from "../../../protocol/mascot/softspoken.ts";
import { flipChoiceBit } from "../../../protocol/mascot/testing/cheating-offline.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { toHex, utf8 } from "../../../protocol/encoding.ts";

function bases(seed: string) {
  const rng = seededRng(seed), sid = utf8(`ss-base/${seed}`);
  const b = baseOtPairInProcess(sid, rng);
  return { rng, rBase: b.receiver, sBase: b.sender };
}

function setup(seed: string, k: number) {
  const { rng, rBase, sBase } = bases(seed);
  const sid = utf8(`ss-session/${seed}`);
  const r = ssReceiverSetup(sid, rBase, k, rng);
  const S = ssSenderSetup(sid, sBase, k, r.message, 1);
  return { rng, R: r.state, S, setupMessage: r.message, sid, rBase, sBase };
}

function code(f: () => unknown): string {
  try { f(); return "no-throw"; } catch (e) { return e instanceof ProtocolAbort ? `${e.code}:${e.culprits.join(",")}` : `other:${String(e)}`; }
}

function expectOts(x: Uint8Array, outputs: Uint8Array, v0: Uint8Array, v1: Uint8Array, ob: number) {
  const B = 16 * ob;
  for (let j = 0; j < x.length; j++) {
    const got = toHex(outputs.subarray(B * j, B * j + B));
    expect(got).toBe(toHex((x[j] ? v1 : v0).subarray(B * j, B * j + B)));
    expect(got).not.toBe(toHex((x[j] ? v0 : v1).subarray(B * j, B * j + B)));
  }
}

describe("SoftSpokenOT", () => {
  it("block sizes cover 128 bits for every k; k outside [2, 8] is refused", () => {
    for (let k = 2; k <= 8; k++) expect(ssBlockSizes(k).reduce((a, b) => a + b, 0)).toBe(128);
    expect(ssBlockSizes(5)).toEqual([...new Array(25).fill(5), 3]);
    for (const k of [1, 9, 2.5]) expect(() => ssBlockSizes(k)).toThrow(RangeError);
    expect(ssMessageLength(4, 1000)).toBe((32 * 1216) / 8 + 32);
  });

  for (let k = 2; k <= 8; k++) {
    it(`k = ${k}: random OTs are correct over several extends and output lengths`, () => {
      const { rng, S, R } = setup(`ok${k}`, k);
      for (const [m, ob] of [[100, 1], [37, 3], [1, 2]] as const) {
        const x = new Uint8Array(m).map(() => rng.bytes(1)[0]! & 1);
        const r = ssReceiverExtend(R, x, rng, ob);
        expect(r.message.length).toBe(ssMessageLength(k, m));
        const { v0, v1 } = ssSenderExtend(S, m, r.message, 1, ob);
        expectOts(x, r.outputs, v0, v1, ob);
      }
    });
  }

  it("Δ of the outputs is the base-OT choice bits: v1 = H(q ⊕ Δ) pairs up as KOS (q_j ⊕ t_j = x_j·Δ)", async () => {
    const a = setup("same", 3), b = setup("same", 3);
    const x = new Uint8Array(300).map((_, i) => (i * 7) & 1);
    const rs = ssReceiverExtend(a.R, x, a.rng, 3);
    const ra = await ssReceiverExtendAsync(b.R, x, b.rng, 3);
    expect(toHex(ra.message)).toBe(toHex(rs.message));
    expect(toHex(ra.outputs)).toBe(toHex(rs.outputs));
    const ss = ssSenderExtend(a.S, 300, rs.message, 1, 3);
    const sa = await ssSenderExtendAsync(b.S, 300, ra.message, 1, 3);
    expect(toHex(sa.v0)).toBe(toHex(ss.v0));
    expect(toHex(sa.v1)).toBe(toHex(ss.v1));
    expectOts(x, rs.outputs, ss.v0, ss.v1, 3);
  });

  it("inconsistent choice bits in some columns (blocks) are caught, sync and async, naming the receiver", async () => {
    const sets = [[0], [5], [127], [...Array(64).keys()], [...Array(40).keys()].map((i) => 3 * i)];
    for (const k of [2, 4, 8]) {
      for (const [n, columns] of sets.entries()) {
        const { rng, S, R } = setup(`cheat${k}/${n}`, k);
        const x = new Uint8Array(64).fill(1);
        // the cheater's corrections as sent; χ, x̃ and t̃ then follow them (an adaptive cheater)
        const part = ssReceiverCorrections(R, x, rng);
        flipChoiceBit(R, part.corrections, columns, 5);
        const r = ssReceiverFinish(R, part, 1);
        expect(code(() => ssSenderExtend(S, 64, r.message, 1))).toBe("ot-check-failed:1");
      }
      const { rng, S, R } = setup(`cheat-async${k}`, k);
      const part = ssReceiverCorrections(R, new Uint8Array(10), rng);
      flipChoiceBit(R, part.corrections, [3], 9);
      const r = await ssReceiverFinishAsync(R, part, 1);
      await expect(ssSenderExtendAsync(S, 10, r.message, 1)).rejects.toThrow(/ot-check-failed/);
      // the honest parts (no flip) pass: the check, not the two-part form, catches the cheat
      const h = setup(`honest-parts${k}`, k);
      const hp = ssReceiverCorrections(h.R, new Uint8Array(10), h.rng);
      expect(() => ssReceiverCorrections(h.R, new Uint8Array(10), h.rng)).toThrow(RangeError); // one pending Extend per state
      const hr = ssReceiverFinish(h.R, hp, 1);
      expect(() => ssReceiverFinish(h.R, hp, 1)).toThrow(RangeError); // finished once
      expect(code(() => ssSenderExtend(h.S, 10, hr.message, 1))).toBe("no-throw");
    }
  });

  it("a tampered correction, x̃ or t̃ is caught; a short, long or replayed extend message is refused", () => {
    const { rng, S, R } = setup("tamper", 4);
    const r = ssReceiverExtend(R, new Uint8Array(10), rng);
    for (const at of [0, 77, r.message.length - 40, r.message.length - 20, r.message.length - 1]) {
      const msg = r.message.slice(); msg[at]! ^= 1;
      const S2 = setup("tamper", 4).S; // a fresh copy of the same sender state
      expect(code(() => ssSenderExtend(S2, 10, msg, 1))).toBe("ot-check-failed:1");
    }
    expect(code(() => ssSenderExtend(S, 10, r.message.subarray(1), 1))).toBe("bad-encoding:1");
    expect(code(() => ssSenderExtend(S, 10, new Uint8Array(r.message.length + 1), 1))).toBe("bad-encoding:1");
    expect(code(() => ssSenderExtend(S, 10, r.message, 1))).toBe("no-throw");
    // the same message again: the streams and the counter have moved on
    expect(code(() => ssSenderExtend(S, 10, r.message, 1))).toBe("ot-check-failed:1");
  });

  it("setup: a tampered GGM correction, τ or PPRF hash is caught; a short message is refused", () => {
    const { rBase, sBase, setupMessage, sid } = setup("ggm", 4);
    expect(setupMessage.length).toBe(ssSetupMessageLength(4));
    // Level l's pair (c_{l,0}, c_{l,1}) is at 32·l; S decrypts side 1 − δ_l only.
    const read = (l: number) => 32 * l + 16 * (1 - ((sBase.delta[l >>> 5]! >>> (l & 31)) & 1));
    for (const at of [read(0), read(1) + 15, read(77) + 3, read(127), 32 * 128 + 5, setupMessage.length - 1]) {
      const msg = setupMessage.slice(); msg[at]! ^= 0x40;
      expect(code(() => ssSenderSetup(sid, sBase, 4, msg, 1))).toBe("ot-check-failed:1");
    }
    // The side S cannot decrypt does not enter its view (a receiver learns nothing from it either).
    const other = setupMessage.slice(); other[read(5) ^ 16]! ^= 1;
    expect(code(() => ssSenderSetup(sid, sBase, 4, other, 1))).toBe("no-throw");
    expect(code(() => ssSenderSetup(sid, sBase, 4, setupMessage.subarray(1), 1))).toBe("bad-encoding:1");
    // a setup message for another session (sid) does not verify
    expect(code(() => ssSenderSetup(utf8("other"), sBase, 4, setupMessage, 1))).toBe("ot-check-failed:1");
    // a different k is a length mismatch
    expect(code(() => ssSenderSetup(sid, sBase, 8, setupMessage, 1))).toBe("bad-encoding:1");
    void rBase;
  });

  it("kept bases give independent sessions (outputs differ per sid)", () => {
    const { rng, rBase, sBase } = bases("reuse");
    const outs = ["s1", "s2"].map((name) => {
      const r = ssReceiverSetup(utf8(name), rBase, 4, rng);
      const S = ssSenderSetup(utf8(name), sBase, 4, r.message, 1);
      const x = new Uint8Array(20).fill(0);
      const e = ssReceiverExtend(r.state, x, rng);
      const { v0 } = ssSenderExtend(S, 20, e.message, 1);
      expect(toHex(e.outputs)).toBe(toHex(v0));
      return toHex(v0);
    });
    expect(outs[0]).not.toBe(outs[1]);
  });
});
