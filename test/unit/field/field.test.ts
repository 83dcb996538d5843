import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { m61, p128, fieldByName, type Field } from "../../../protocol/field/index.ts";
import { M61Vec, m61DoubleAddWords, m61SubAddWords } from "../../../protocol/field/m61.ts";
import { seededRng } from "../../../protocol/rng.ts";

const fields: Field[] = [m61, p128];

for (const F of fields) {
  const P = F.p;
  const elem = fc.bigInt({ min: 0n, max: P - 1n });
  const edge = fc.constantFrom(0n, 1n, 2n, P - 1n, P - 2n, P / 2n, (P + 1n) / 2n, (1n << 32n) - 1n, 1n << 32n, (1n << 60n) + 12345n);
  const el = fc.oneof(elem, edge);
  const pairVecs = fc.integer({ min: 0, max: 20 }).chain((n) => fc.tuple(fc.array(el, { minLength: n, maxLength: n }), fc.array(el, { minLength: n, maxLength: n })));
  const mod = (x: bigint) => ((x % P) + P) % P;

  describe(`field ${F.name}`, () => {
    it("add/sub/mul/neg match BigInt", () => {
      fc.assert(fc.property(pairVecs, ([xs, ys]) => {
        const a = F.fromBigInts(xs), b = F.fromBigInts(ys);
        expect(F.toBigInts(F.add(a, b))).toEqual(xs.map((x, i) => mod(x + ys[i]!)));
        expect(F.toBigInts(F.sub(a, b))).toEqual(xs.map((x, i) => mod(x - ys[i]!)));
        expect(F.toBigInts(F.mul(a, b))).toEqual(xs.map((x, i) => mod(x * ys[i]!)));
        expect(F.toBigInts(F.neg(a))).toEqual(xs.map((x) => mod(-x)));
        expect(F.dot(a, b)).toBe(mod(xs.reduce((s, x, i) => s + x * ys[i]!, 0n)));
        expect(F.sum(a)).toBe(mod(xs.reduce((s, x) => s + x, 0n)));
        const acc = F.slice(a, 0, a.length);
        F.addInPlace(acc, b);
        expect(F.toBigInts(acc)).toEqual(F.toBigInts(F.add(a, b)));
      }), { numRuns: 300 });
    });
    it("scale, fromBigInts reduction, fromInts negatives", () => {
      fc.assert(fc.property(fc.array(el, { maxLength: 10 }), fc.bigInt({ min: -(P * 3n), max: P * 3n }), (xs, s) => {
        expect(F.toBigInts(F.scale(F.fromBigInts(xs), s))).toEqual(xs.map((x) => mod(x * s)));
        expect(F.get(F.fromBigInts([s]), 0)).toBe(mod(s));
      }));
      fc.assert(fc.property(fc.array(fc.oneof(fc.integer(), fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 32, -(2 ** 32)))), (xs) => {
        expect(F.toBigInts(F.fromInts(xs))).toEqual(xs.map((x) => mod(BigInt(x))));
      }));
    });
    it("encode/decode round-trip; decode rejects non-canonical and bad length", () => {
      fc.assert(fc.property(fc.array(el, { maxLength: 10 }), (xs) => {
        const v = F.fromBigInts(xs);
        const bytes = F.encode(v);
        expect(bytes.length).toBe(F.byteLength * xs.length);
        expect(F.toBigInts(F.decode(bytes))).toEqual(xs);
        // little-endian
        if (xs.length) expect(bytes[0]).toBe(Number(xs[0]! & 0xffn));
      }));
      const bad = new Uint8Array(F.byteLength).fill(0xff);
      expect(() => F.decode(bad)).toThrow(RangeError);
      const pBytes = F.encode(F.fromBigInts([P - 1n]));
      pBytes[0]! += 1; // = p exactly
      expect(() => F.decode(pBytes)).toThrow(RangeError);
      expect(() => F.decode(new Uint8Array(F.byteLength + 1))).toThrow(RangeError);
    });
    it("slice/concat/get/set/zeros", () => {
      const v = F.fromInts([1, 2, 3, 4, 5]);
      expect(F.toBigInts(F.slice(v, 1, 3))).toEqual([2n, 3n]);
      expect(F.toBigInts(F.concat([F.slice(v, 0, 2), F.slice(v, 2, 5)]))).toEqual([1n, 2n, 3n, 4n, 5n]);
      F.set(v, 0, -1n);
      expect(F.get(v, 0)).toBe(P - 1n);
      expect(F.toBigInts(F.zeros(3))).toEqual([0n, 0n, 0n]);
      expect(() => F.get(v, 5)).toThrow(RangeError);
      expect(() => F.slice(v, 3, 2)).toThrow(RangeError);
      expect(() => F.add(v, F.zeros(2))).toThrow(RangeError);
    });
    it("fromUniformBytes = little-endian integer mod p (property, incl. edge patterns)", () => {
      const U = F.uniformByteLength;
      const toInt = (b: Uint8Array, off: number) => { let x = 0n; for (let j = U - 1; j >= 0; j--) x = (x << 8n) | BigInt(b[off + j]!); return x; };
      const edgeByte = fc.constantFrom(0, 0xff, 0x1f, 0x20, 0xe0, 0x7f, 0x80);
      fc.assert(fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), edgeByte), { minLength: U * 3, maxLength: U * 3 }), (arr) => {
        const bytes = new Uint8Array(arr);
        expect(F.toBigInts(F.fromUniformBytes(bytes, 3))).toEqual([0, 1, 2].map((i) => toInt(bytes, i * U) % P));
      }), { numRuns: 500 });
    });
    it("random and fromUniformBytes are canonical and deterministic under a seeded rng", () => {
      const a = F.random(200, seededRng("r")), b = F.random(200, seededRng("r"));
      expect(F.toBigInts(a)).toEqual(F.toBigInts(b));
      for (const x of F.toBigInts(a)) expect(x < P).toBe(true);
      const bytes = seededRng("u").bytes(F.uniformByteLength * 50);
      const u = F.fromUniformBytes(bytes, 50);
      const ref: bigint[] = [];
      for (let i = 0; i < 50; i++) {
        let x = 0n;
        for (let j = F.uniformByteLength - 1; j >= 0; j--) x = (x << 8n) | BigInt(bytes[i * F.uniformByteLength + j]!);
        ref.push(x % P);
      }
      expect(F.toBigInts(u)).toEqual(ref);
      expect(() => F.fromUniformBytes(bytes, 51)).toThrow(RangeError);
      // wide reduction of all-ones
      expect(F.toBigInts(F.fromUniformBytes(new Uint8Array(F.uniformByteLength).fill(0xff), 1))).toEqual([((1n << BigInt(8 * F.uniformByteLength)) - 1n) % P]);
    });
  });
}

describe("m61 word kernels", () => {
  const P = m61.p;
  const el = fc.oneof(fc.bigInt({ min: 0n, max: P - 1n }), fc.constantFrom(0n, 1n, P - 1n, P - 2n, (1n << 60n), (1n << 32n) - 1n));
  it("doubleAdd and subAdd match BigInt", () => {
    fc.assert(fc.property(fc.array(fc.tuple(el, el, el), { minLength: 1, maxLength: 16 }), (rows) => {
      const A = m61.fromBigInts(rows.map((r) => r[0])) as M61Vec, B = m61.fromBigInts(rows.map((r) => r[1])) as M61Vec, C = m61.fromBigInts(rows.map((r) => r[2])) as M61Vec;
      const acc = new M61Vec(A.d.slice());
      m61DoubleAddWords(acc.d, B.d);
      expect(m61.toBigInts(acc)).toEqual(rows.map(([a, b]) => (2n * a + b) % P));
      const out = new M61Vec(new Uint32Array(A.d.length));
      m61SubAddWords(out.d, A.d, B.d, C.d);
      expect(m61.toBigInts(out)).toEqual(rows.map(([a, b, c]) => (((a - b + c) % P) + P) % P));
    }), { numRuns: 300 });
  });
});

describe("fieldByName", () => {
  it("finds both fields and rejects others", () => {
    expect(fieldByName("m61")).toBe(m61);
    expect(fieldByName("p128")).toBe(p128);
    expect(() => fieldByName("gf2")).toThrow(RangeError);
  });
  it("rejects vectors of the other field", () => {
    expect(() => m61.add(p128.zeros(1), m61.zeros(1))).toThrow(TypeError);
  });
});
