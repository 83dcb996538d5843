import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { m61, p128 } from "../../../protocol/field/index.ts";
import { copeExtendReceiver, copeExtendSender, decodeCorrection, encodeCorrection } from "../../../protocol/mascot/input.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { seededRng } from "../../../protocol/rng.ts";

describe("COPE Extend (input.ts): q − t = Δ·x", () => {
  for (const f of [m61, p128]) {
    it(`${f.name}: random and extreme inputs and keys`, () => {
      fc.assert(fc.property(fc.string({ maxLength: 6 }), fc.boolean(), (seed, extreme) => {
        const rng = seededRng(`cope/${seed}`);
        const k = f.bits;
        const k0 = Array.from({ length: k }, () => rng.bytes(16)), k1 = Array.from({ length: k }, () => rng.bytes(16));
        const delta = extreme ? f.p - 1n : f.get(f.random(1, rng), 0);
        const kDelta = k0.map((s, l) => (((delta >> BigInt(l)) & 1n) === 1n ? k1[l]! : s));
        const x = extreme ? f.fromBigInts([0n, 1n, f.p - 1n, f.p - 2n, (f.p - 1n) / 2n]) : f.random(7, rng);
        const { u, t } = copeExtendSender(f, { k0, k1 }, x, "lab");
        const wire = decodeCorrection(f, encodeCorrection(f, u).slice(), u.length, 1);
        const q = copeExtendReceiver(f, { delta, kDelta }, wire, x.length, "lab", 1);
        expect(f.toBigInts(f.sub(q, t))).toEqual(f.toBigInts(f.scale(x, delta)));
      }), { numRuns: 10 });
    });
  }
  it("rejects a correction of the wrong length or with a non-canonical element", () => {
    expect(() => decodeCorrection(m61, new Uint8Array(12), 2, 3)).toThrow(ProtocolAbort);
    const bad = new Uint8Array(16).fill(0xff);
    expect(() => decodeCorrection(m61, bad, 2, 3)).toThrow(ProtocolAbort);
  });
});
