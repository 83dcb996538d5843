import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { m61 } from "../../../protocol/field/index.ts";
import { M61Vec, m61ChooserRowWords, m61SenderRowWords } from "../../../protocol/field/m61.ts";

// The fused Horner-row kernels (COPE Fig. 4, Gilboa products of MASCOT Fig. 9) against BigInt.
const P = m61.p;
const mod = (x: bigint) => ((x % P) + P) % P;
/** 16 little-endian bytes → the 128-bit integer (the wide reduction reduces it mod p). */
const int128 = (b: Uint8Array, e: number) => { let x = 0n; for (let i = 15; i >= 0; i--) x = (x << 8n) | BigInt(b[16 * e + i]!); return x; };
const block = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.constantFrom(new Uint8Array(16), new Uint8Array(16).fill(0xff), Uint8Array.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0]), Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0])),
);
const el = fc.oneof(fc.bigInt({ min: 0n, max: P - 1n }), fc.constantFrom(0n, 1n, P - 1n, P - 2n, (1n << 32n) - 1n, 1n << 32n));
const cat = (bs: Uint8Array[], off: number) => { const o = new Uint8Array(off + 16 * bs.length); bs.forEach((b, i) => o.set(b, off + 16 * i)); return o.subarray(off); };
const rows = fc.integer({ min: 0, max: 12 }).chain((n) => fc.record({
  r0: fc.array(block, { minLength: n, maxLength: n }), r1: fc.array(block, { minLength: n, maxLength: n }),
  x: fc.array(el, { minLength: n, maxLength: n }), acc: fc.array(el, { minLength: n, maxLength: n }), off: fc.constantFrom(0, 4, 1),
}));

describe("m61 fused Horner rows", () => {
  it("sender row: u = w0 − w1 + x, acc ← 2·acc + w0 (aligned and unaligned input)", () => {
    fc.assert(fc.property(rows, ({ r0, r1, x, acc, off }) => {
      const n = x.length, b0 = cat(r0, off), b1 = cat(r1, off);
      const A = m61.fromBigInts(acc) as M61Vec, u = new Uint32Array(2 * n);
      m61SenderRowWords(u, A.d, b0, b1, (m61.fromBigInts(x) as M61Vec).d, n);
      const w0 = x.map((_, e) => mod(int128(b0, e))), w1 = x.map((_, e) => mod(int128(b1, e)));
      expect(m61.toBigInts(new M61Vec(u))).toEqual(x.map((xe, e) => mod(w0[e]! - w1[e]! + xe)));
      expect(m61.toBigInts(A)).toEqual(acc.map((a, e) => mod(2n * a + w0[e]!)));
    }), { numRuns: 300 });
  });
  it("chooser rows: acc ← 2·acc + w + bit_h(x)·d", () => {
    fc.assert(fc.property(rows, fc.integer({ min: 0, max: 60 }), ({ r0, x, acc, off }, h) => {
      const n = x.length, b = cat(r0, off), w = x.map((_, e) => mod(int128(b, e)));
      // chooser: d at element offset 3, choice bits from the elements of `acc` (reused as x)
      const C = m61.fromBigInts(acc) as M61Vec, d = m61.fromBigInts([0n, 0n, 0n, ...x]) as M61Vec, xs = m61.fromBigInts(acc) as M61Vec;
      m61ChooserRowWords(C.d, b, n, d.d, 3, xs.d, h);
      expect(m61.toBigInts(C)).toEqual(acc.map((a, e) => mod(2n * a + w[e]! + ((a >> BigInt(h)) & 1n) * x[e]!)));
    }), { numRuns: 300 });
  });
});
