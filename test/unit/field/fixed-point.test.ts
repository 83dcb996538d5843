import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { m61, p128 } from "../../../protocol/field/index.ts";
import { assertNoOverflow, decodeFixed, encodeFixed } from "../../../protocol/field/fixed-point.ts";

describe("fixed point", () => {
  for (const F of [m61, p128]) {
    it(`${F.name}: decode(encode(x)) within 2^-f-1, clipped to bound`, () => {
      fc.assert(fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true })), fc.integer({ min: 0, max: 24 }), (xs, f) => {
        const bound = 1000;
        const d = decodeFixed(F, encodeFixed(F, xs, { fracBits: f, bound }), f);
        xs.forEach((x, i) => expect(Math.abs(d[i]! - Math.min(bound, Math.max(-bound, x)))).toBeLessThanOrEqual(2 ** (-f - 1) + 1e-9));
      }));
    });
    it(`${F.name}: sums of encodings decode to the sum of roundings`, () => {
      fc.assert(fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 20 }), (xs) => {
        const v = encodeFixed(F, xs, { fracBits: 16, bound: 100 });
        const s = F.fromBigInts([F.sum(v)]);
        const want = xs.reduce((a, x) => a + Math.round(x * 65536), 0) / 65536;
        expect(decodeFixed(F, s, 16)[0]).toBeCloseTo(want, 9);
      }));
    });
  }
  it("assertNoOverflow enforces parties·terms·bound·2^f < p/2", () => {
    expect(() => assertNoOverflow(m61, { parties: 5, bound: 2 ** 20, fracBits: 16, terms: 100 })).not.toThrow();
    expect(() => assertNoOverflow(m61, { parties: 8, bound: 2 ** 28, fracBits: 32 })).toThrow(RangeError); // 2^3·2^28·2^32 = 2^63
    expect(() => assertNoOverflow(m61, { parties: 1, bound: 2 ** 27, fracBits: 32 })).not.toThrow(); // 2^59 < 2^60
    expect(() => assertNoOverflow(m61, { parties: 2, bound: 2 ** 28, fracBits: 32 })).toThrow(RangeError); // 2^61
    expect(() => assertNoOverflow(p128, { parties: 8, bound: 2 ** 28, fracBits: 32 })).not.toThrow();
    expect(() => encodeFixed(m61, [1], { fracBits: 53, bound: 1 })).toThrow(RangeError);
    expect(() => encodeFixed(m61, [Number.NaN], { fracBits: 8, bound: 1 })).toThrow(RangeError);
  });
});
