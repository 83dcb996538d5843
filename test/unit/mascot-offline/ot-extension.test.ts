import { describe, expect, it } from "vitest";
import {
  gfMul, kosReceiverExtend, kosReceiverExtendAsync, kosSenderExtendAsync, kosReceiverSetupFinish, kosReceiverSetupStart, kosSenderExtend, kosSenderSetup, transposeColumns,
} from "../../../protocol/mascot/ot-extension.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { toHex, utf8 } from "../../../protocol/encoding.ts";

function setup(seed: string) {
  const rng = seededRng(seed), sid = utf8("kos-test");
  const a = kosReceiverSetupStart(sid, rng);
  const s = kosSenderSetup(sid, a.message, rng, 0);
  const r = kosReceiverSetupFinish(sid, a.pending, s.message, 1);
  return { rng, S: s.state, R: r };
}

describe("KOS15 OT extension", () => {
  it("transpose matches the naive definition", () => {
    const W = 3, rng = seededRng("t");
    const cols = new Uint32Array(rng.bytes(128 * W * 4).buffer);
    const rows = transposeColumns(cols, W);
    for (let j = 0; j < 32 * W; j += 7) for (let l = 0; l < 128; l += 5) {
      expect((rows[4 * j + (l >> 5)]! >>> (l & 31)) & 1).toBe((cols[l * W + (j >> 5)]! >>> (j & 31)) & 1);
    }
  });
  it("gfMul: X·X^127 = X^128 = X^7+X^2+X+1 and commutes", () => {
    const x = new Uint32Array([2, 0, 0, 0]), x127 = new Uint32Array([0, 0, 0, 0x80000000]);
    expect([...gfMul(x, x127)]).toEqual([0x87, 0, 0, 0]);
    const rng = seededRng("g");
    const a = new Uint32Array(rng.bytes(16).buffer), b = new Uint32Array(rng.bytes(16).buffer);
    expect([...gfMul(a, b)]).toEqual([...gfMul(b, a)]);
  });
  it("random OTs are correct over several extends and output lengths", () => {
    const { rng, S, R } = setup("ok");
    for (const [m, ob] of [[100, 1], [37, 3], [1, 2]] as const) {
      const x = new Uint8Array(m).map(() => rng.bytes(1)[0]! & 1);
      const r = kosReceiverExtend(R, x, rng, ob);
      const { v0, v1 } = kosSenderExtend(S, m, r.message, 1, ob);
      const B = 16 * ob;
      for (let j = 0; j < m; j++) {
        const got = toHex(r.outputs.subarray(B * j, B * j + B));
        expect(got).toBe(toHex((x[j] ? v1 : v0).subarray(B * j, B * j + B)));
        expect(got).not.toBe(toHex((x[j] ? v0 : v1).subarray(B * j, B * j + B)));
      }
    }
  });
  it("async (WebCrypto) extend equals the sync extend, and checks too", async () => {
    const a = setup("same"), b = setup("same");
    const x = new Uint8Array(300).map((_, i) => (i * 7) & 1);
    const rs = kosReceiverExtend(a.R, x, a.rng, 3);
    const ra = await kosReceiverExtendAsync(b.R, x, b.rng, 3);
    expect(toHex(ra.message)).toBe(toHex(rs.message));
    expect(toHex(ra.outputs)).toBe(toHex(rs.outputs));
    const ss = kosSenderExtend(a.S, 300, rs.message, 1, 3);
    const sa = await kosSenderExtendAsync(b.S, 300, ra.message, 1, 3);
    expect(toHex(sa.v0)).toBe(toHex(ss.v0));
    expect(toHex(sa.v1)).toBe(toHex(ss.v1));
    const bad = kosReceiverExtend(a.R, x, a.rng, 1, { columns: [...Array(64).keys()], bit: 3 });
    const badB = kosReceiverExtend(b.R, x, b.rng, 1, { columns: [...Array(64).keys()], bit: 3 });
    await expect(kosSenderExtendAsync(b.S, 300, badB.message, 1)).rejects.toThrow(/ot-check-failed/);
    expect(() => kosSenderExtend(a.S, 300, bad.message, 1)).toThrow(/ot-check-failed/);
  });
  it("inconsistent receiver choice bits are caught by the correlation check", () => {
    const sets = [[...Array(64).keys()], [...Array(40).keys()].map((i) => 3 * i), [...Array(127).keys()]];
    for (const [k, columns] of sets.entries()) {
      const { rng, S, R } = setup(`cheat${k}`);
      const x = new Uint8Array(64).fill(1);
      const r = kosReceiverExtend(R, x, rng, 1, { columns, bit: 5 });
      try { kosSenderExtend(S, 64, r.message, 1); expect.unreachable(); } catch (e) {
        expect(e).toBeInstanceOf(ProtocolAbort);
        expect((e as ProtocolAbort).code).toBe("ot-check-failed");
        expect((e as ProtocolAbort).culprits).toEqual([1]);
      }
    }
  });
  it("tampered check values or length are caught", () => {
    const { rng, S, R } = setup("tamper");
    const r = kosReceiverExtend(R, new Uint8Array(10), rng);
    const msg = r.message.slice(); msg[msg.length - 1]! ^= 1;
    expect(() => kosSenderExtend(S, 10, msg, 1)).toThrow(/ot-check-failed/);
    expect(() => kosSenderExtend(S, 10, msg.subarray(1), 1)).toThrow(/bad-encoding/);
  });
});
