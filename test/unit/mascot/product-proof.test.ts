/**
 * The product proof (FLPCP with the ParallelSum gadget, product-proof.ts) on its own: the
 * Lagrange basis interpolates, an honest proof passes the query at any challenge and its
 * head sums to the inner product, and a proof that is not Σ A_i·B_i fails at a random
 * challenge even when its claimed sum is unchanged.
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { lagrangeBasis, MAX_PROOF_CALLS, proofShape, proveProducts, queryProducts } from "../../../protocol/mascot/product-proof.ts";
import { seededRng } from "../../../protocol/rng.ts";
import type { FieldVec } from "../../../protocol/field/types.ts";

const f = m61;
const rng = seededRng("product-proof-test");
const clear = (v: FieldVec) => ({ value: v, mac: f.zeros(v.length) });
/** H(r) − Σ_i A_i(r)·B_i(r) and the claimed sum, on clear values. */
function check(a: FieldVec, b: FieldVec, h: FieldVec, r: bigint): { residue: bigint; sum: bigint } {
  const shape = proofShape(a.length);
  const q = queryProducts(f, shape, clear(a), clear(b), clear(h), r);
  const residue = (f.get(q.hr.value, 0) - f.dot(q.ar.value, q.br.value) + f.p) % f.p;
  return { residue, sum: f.get(q.sum.value, 0) };
}

describe("product proof", () => {
  it("proofShape: s·L covers P, L ≤ the cap, s grows like √P", () => {
    for (const P of [1, 2, 31, 710, 5000, 72_000, 300_000]) {
      const s = proofShape(P);
      expect(s.width * s.calls).toBeGreaterThanOrEqual(P);
      expect(s.width * (s.calls - 1)).toBeLessThan(P);
      expect(s.calls).toBeLessThanOrEqual(MAX_PROOF_CALLS);
      expect(s.length).toBe(2 * s.calls - 1);
    }
    expect(proofShape(710).width).toBeLessThan(10); // 710 Beaver products become < 10
    expect(() => proofShape(0)).toThrow(RangeError);
  });

  it("lagrangeBasis interpolates a degree N−1 polynomial at a random point and at a node", () => {
    const N = 9;
    const coeffs = f.toBigInts(f.random(N, rng));
    const poly = (x: bigint) => coeffs.reduceRight((acc, c) => (acc * x + c) % f.p, 0n);
    const values = Array.from({ length: N }, (_, i) => poly(BigInt(i + 1)));
    for (const r of [f.get(f.random(1, rng), 0), 4n, 0n, 1000n]) {
      const lam = lagrangeBasis(f, N, r);
      expect(values.reduce((acc, v, i) => (acc + v * lam[i]!) % f.p, 0n)).toBe(poly(r));
    }
  });

  for (const P of [1, 7, 710, 2500, 33_000, 70_000]) { // 33k: L ≈ 1000; 70k: L ≈ 1490 (the m61 prover flushes its float64 sums every 1024 rows)
    it(`honest proof for P = ${P}: passes at any challenge and sums to Σ a_t·b_t`, () => {
      const a = f.random(P, rng), b = f.random(P, rng);
      const h = proveProducts(f, proofShape(P), a, b);
      for (const r of [f.get(f.random(1, rng), 0), 1n, 3n]) {
        const { residue, sum } = check(a, b, h, r);
        expect(residue).toBe(0n);
        expect(sum).toBe(f.dot(a, b));
      }
    });
  }

  it("a proof shifted to claim a different sum, or with an unchanged sum but not Σ A_i·B_i, fails at a random challenge", () => {
    const P = 710;
    const a = f.random(P, rng), b = f.random(P, rng);
    const shape = proofShape(P);
    const h = proveProducts(f, shape, a, b);
    const bump = (i: number, by: bigint) => { const v = f.slice(h, 0, h.length); f.set(v, i, (f.get(v, i) + by + f.p) % f.p); return v; };
    const wrongSum = bump(0, 5n); // claims Σ a·b + 5
    const sameSum = bump(1, 7n); f.set(sameSum, 2, (f.get(sameSum, 2) - 7n + f.p) % f.p);
    const tail = bump(shape.calls + 3, 1n); // beyond the summed head
    for (const forged of [wrongSum, sameSum, tail]) {
      const r = f.get(f.random(1, rng), 0);
      expect(check(a, b, forged, r).residue).not.toBe(0n);
    }
    expect(check(a, b, wrongSum, 1n).sum).toBe((f.dot(a, b) + 5n) % f.p);
  });

  it("throws on length mismatches", () => {
    const shape = proofShape(10);
    expect(() => proveProducts(f, shape, f.zeros(9), f.zeros(10))).toThrow(RangeError);
    expect(() => queryProducts(f, shape, clear(f.zeros(10)), clear(f.zeros(10)), clear(f.zeros(3)), 5n)).toThrow(RangeError);
  });
});
