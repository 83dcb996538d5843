import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { m61, p128, type Field } from "../../../protocol/field/index.ts";
import { copeExtendReceiver, copeExtendSender, copeMessageLength } from "../../../protocol/mascot/input.ts";
import { DIGIT_COPE_WIDTH, digitCopeSetupLength } from "../../../protocol/mascot/digit-cope.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { seededRng } from "../../../protocol/rng.ts";

function seeds(f: Field, seed: string, delta: bigint) {
  const rng = seededRng(`cope/${seed}`);
  const k0 = Array.from({ length: f.bits }, () => rng.bytes(16)), k1 = Array.from({ length: f.bits }, () => rng.bytes(16));
  const kDelta = k0.map((s, l) => (((delta >> BigInt(l)) & 1n) === 1n ? k1[l]! : s));
  return { k0, k1, kDelta };
}

function abortOf(f: () => unknown): ProtocolAbort {
  try { f(); } catch (e) { if (e instanceof ProtocolAbort) return e; throw e; }
  throw new Error("expected a ProtocolAbort");
}

describe("COPE Extend (input.ts, digit COPE): q − t = Δ·x", () => {
  for (const f of [m61, p128]) {
    it(`${f.name}: random and extreme inputs and keys`, () => {
      fc.assert(fc.property(fc.string({ maxLength: 6 }), fc.boolean(), (seed, extreme) => {
        const rng = seededRng(`cope-x/${seed}`);
        const delta = extreme ? f.p - 1n : f.get(f.random(1, rng), 0);
        const { k0, k1, kDelta } = seeds(f, seed, delta);
        const x = extreme ? f.fromBigInts([0n, 1n, f.p - 1n, f.p - 2n, (f.p - 1n) / 2n]) : f.random(7, rng);
        const { u, t } = copeExtendSender(f, { k0, k1 }, x, "lab");
        expect(u.length).toBe(copeMessageLength(f, x.length));
        const q = copeExtendReceiver(f, { delta, kDelta }, u.slice(), x.length, "lab", 1);
        expect(f.toBigInts(f.sub(q, t))).toEqual(f.toBigInts(f.scale(x, delta)));
      }), { numRuns: 10 });
    });
  }

  it("message = GGM setup (32·k bytes) ‖ ⌈k/w⌉·L corrections: 21 instead of 61 elements per entry at w = 3", () => {
    expect(DIGIT_COPE_WIDTH).toBe(3);
    expect(copeMessageLength(m61, 100)).toBe(32 * 61 + Math.ceil(61 / DIGIT_COPE_WIDTH) * 100 * 8);
  });

  it("the label keys independent streams: another label on one side breaks the relation", () => {
    const f = m61, delta = 123456789n, { k0, k1, kDelta } = seeds(f, "label", delta), x = f.fromInts([3, 4]);
    const { u, t } = copeExtendSender(f, { k0, k1 }, x, "a");
    expect(f.toBigInts(f.sub(copeExtendReceiver(f, { delta, kDelta }, u, 2, "a", 1), t))).toEqual(f.toBigInts(f.scale(x, delta)));
    expect(f.toBigInts(f.sub(copeExtendReceiver(f, { delta, kDelta }, u, 2, "b", 1), t))).not.toEqual(f.toBigInts(f.scale(x, delta)));
  });

  it("a malformed message (short setup, wrong length, non-canonical correction) → bad-encoding naming the sender", () => {
    const f = m61, delta = 77n, { k0, k1, kDelta } = seeds(f, "bad", delta), x = f.fromInts([1, 2]);
    const { u } = copeExtendSender(f, { k0, k1 }, x, "l");
    const head = digitCopeSetupLength(f);
    for (const bad of [u.subarray(0, head - 1), u.subarray(1), new Uint8Array(u.length + 8)]) {
      const e = abortOf(() => copeExtendReceiver(f, { delta, kDelta }, bad, 2, "l", 3));
      expect(e.code).toBe("bad-encoding");
      expect(e.culprits).toEqual([3]);
    }
    const nonCanonical = u.slice();
    nonCanonical.fill(0xff, head, head + 8);
    expect(abortOf(() => copeExtendReceiver(f, { delta, kDelta }, nonCanonical, 2, "l", 3)).culprits).toEqual([3]);
  });
});
