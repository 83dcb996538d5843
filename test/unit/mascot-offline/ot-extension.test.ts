/**
 * The OT-extension primitives SoftSpokenOT shares (protocol/mascot/ot-extension.ts): the
 * transpose, GF(2^128) multiplication and the in-process base-OT pair used by tests, vectors
 * and benches. SoftSpokenOT's own checks are tested in softspoken.test.ts.
 */
import { describe, expect, it } from "vitest";
import { baseOtPairInProcess, gfMul, KAPPA, transposeColumns } from "../../../protocol/mascot/ot-extension.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { toHex, utf8 } from "../../../protocol/encoding.ts";

describe("OT-extension primitives", () => {
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
  it("baseOtPairInProcess: the sender holds k_{Δ_l} of each base OT, not the other key; same tag; deterministic", () => {
    const { receiver, sender } = baseOtPairInProcess(utf8("bases"), seededRng("bases"));
    expect(toHex(receiver.tag)).toBe(toHex(sender.tag));
    let ones = 0;
    for (let l = 0; l < KAPPA; l++) {
      const d = (sender.delta[l >>> 5]! >>> (l & 31)) & 1;
      ones += d;
      const mine = toHex(sender.keys.subarray(16 * l, 16 * l + 16));
      expect(mine).toBe(toHex((d ? receiver.k1 : receiver.k0).subarray(16 * l, 16 * l + 16)));
      expect(mine).not.toBe(toHex((d ? receiver.k0 : receiver.k1).subarray(16 * l, 16 * l + 16)));
    }
    expect(ones > 0 && ones < KAPPA).toBe(true);
    expect(toHex(baseOtPairInProcess(utf8("bases"), seededRng("bases")).sender.keys)).toBe(toHex(sender.keys));
  });
});
