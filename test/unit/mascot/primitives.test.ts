import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { m61, p128 } from "../../../protocol/field/index.ts";
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { addPublic, addShares, scaleShare, type AuthShare } from "../../../protocol/mascot/shares.ts";
import { Transcript } from "../../../protocol/mascot/echo.ts";

/** Shares x among n parties with MACs under α = Σ alphas (test helper). */
function share(f: Field, x: FieldVec, alphas: bigint[], seed: string): AuthShare[] {
  const rng = seededRng(seed);
  const alpha = alphas.reduce((a, b) => (a + b) % f.p, 0n);
  const mac = f.scale(x, alpha);
  const out: AuthShare[] = [];
  let v = f.zeros(x.length), m = f.zeros(x.length);
  for (let i = 0; i < alphas.length - 1; i++) {
    const a = f.random(x.length, rng), b = f.random(x.length, rng);
    out.push({ value: a, mac: b }); f.addInPlace(v, a); f.addInPlace(m, b);
  }
  out.push({ value: f.sub(x, v), mac: f.sub(mac, m) });
  return out;
}
function open(f: Field, xs: AuthShare[], alphas: bigint[]): FieldVec {
  const v = f.zeros(xs[0]!.value.length), m = f.zeros(v.length);
  for (const x of xs) { f.addInPlace(v, x.value); f.addInPlace(m, x.mac); }
  const alpha = alphas.reduce((a, b) => (a + b) % f.p, 0n);
  expect(f.toBigInts(m)).toEqual(f.toBigInts(f.scale(v, alpha))); // MACs stay consistent
  return v;
}

describe("online-phase primitives on authenticated shares", () => {
  for (const f of [m61, p128]) {
    it(`${f.name}: linear ops keep MACs consistent`, () => {
      fc.assert(fc.property(fc.integer({ min: 2, max: 5 }), fc.string({ maxLength: 8 }), (n, seed) => {
        const rng = seededRng(`prim/${seed}`);
        const alphas = f.toBigInts(f.random(n, rng));
        const d = 6;
        const x = f.random(d, rng), y = f.random(d, rng);
        const X = share(f, x, alphas, `${seed}x`), Y = share(f, y, alphas, `${seed}y`);
        const ctx = (i: number) => ({ field: f, me: i, alpha: alphas[i]! });
        // linear: 3x + y + 7
        const lin = X.map((xi, i) => addPublic(ctx(i), addShares(f, scaleShare(f, xi, 3n), Y[i]!), f.fromInts(new Array(d).fill(7))));
        expect(f.toBigInts(open(f, lin, alphas))).toEqual(f.toBigInts(f.add(f.add(f.scale(x, 3n), y), f.fromInts(new Array(d).fill(7)))));
      }), { numRuns: 15 });
    });
  }
  it("transcript digests do not depend on arrival order and change with any payload", () => {
    const sid = new Uint8Array([1, 2, 3]);
    const t1 = new Transcript(sid), t2 = new Transcript(sid), t3 = new Transcript(sid);
    t1.record(0, "a", 0, new Uint8Array([1])); t1.record(0, "a", 1, new Uint8Array([2])); t1.closeThrough(0);
    t2.record(0, "a", 1, new Uint8Array([2])); t2.record(0, "a", 0, new Uint8Array([1])); t2.closeThrough(0);
    t3.record(0, "a", 1, new Uint8Array([3])); t3.record(0, "a", 0, new Uint8Array([1])); t3.closeThrough(0);
    expect(t1.digest()).toEqual(t2.digest());
    expect(t1.digest()).not.toEqual(t3.digest());
    expect(() => t1.record(0, "b", 0, new Uint8Array())).toThrow(RangeError);
  });
});
