/**
 * The product proof (zero-knowledge FLPCP with the ParallelSum gadget, product-proof.ts) on
 * its own: the Lagrange basis interpolates, an honest proof passes the public check at any
 * allowed challenge and its head sums to the inner product, a proof that is not Σ A_i·B_i
 * fails at a random challenge even when its claimed sum is unchanged, the challenges avoid
 * the interpolation nodes, and the opened query values of an honest proof are uniform
 * whatever the input (zero knowledge: they move with the seeds, not with the input).
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import {
  lagrangeBasis, MAX_PROOF_CALLS, proofChallenges, proofCheckHolds, proofPoints, proofShape, proveProducts, queryProducts, type ProofShape,
} from "../../../protocol/mascot/product-proof.ts";
import { seededRng } from "../../../protocol/rng.ts";
import type { FieldVec } from "../../../protocol/field/types.ts";

const f = m61;
const rng = seededRng("product-proof-test");
const clear = (v: FieldVec) => ({ value: v, mac: f.zeros(v.length) });
/** The opened query at r on clear values: does the public check hold, and the claimed sum. */
function check(shape: ProofShape, a: FieldVec, b: FieldVec, seeds: FieldVec, h: FieldVec, r: bigint): { holds: boolean; sum: bigint; ar: bigint[]; br: bigint[] } {
  const [q] = queryProducts(f, shape, clear(a), clear(b), clear(seeds), clear(h), proofPoints(f, shape, [r]));
  if (!q) throw new Error("one point, one query");
  return { holds: proofCheckHolds(f, q.ar.value, q.br.value, f.get(q.hr.value, 0)), sum: f.get(q.sum.value, 0), ar: f.toBigInts(q.ar.value), br: f.toBigInts(q.br.value) };
}
const randomPoint = () => proofChallenges(f, { ...proofShape(1, f.p), queries: 1, seeds: 1 }, [f.get(f.random(1, rng), 0)])[0]!;

describe("product proof", () => {
  it("proofShape: s·L covers P, L ≤ the cap, s grows like √P; q seed calls per wire, proof over L + q nodes", () => {
    for (const P of [1, 2, 31, 710, 5000, 72_000, 300_000]) {
      const s = proofShape(P, f.p);
      expect(s.width * s.calls).toBeGreaterThanOrEqual(P);
      expect(s.width * (s.calls - 1)).toBeLessThan(P);
      expect(s.calls).toBeLessThanOrEqual(MAX_PROOF_CALLS);
      expect(s.seeds).toBe(s.queries);
      expect(s.queries).toBe(2); // m61: one point gives only ≈ 2^-60
      expect(s.length).toBe(2 * (s.calls + s.seeds) - 1);
      expect(s.seedLength).toBe(2 * s.seeds * s.width);
    }
    expect(proofShape(710).width).toBeLessThan(10);
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

  it("proofChallenges: distinct points outside the L + q nodes, even from colliding or node-valued coins", () => {
    const shape = proofShape(710, f.p);
    const N = BigInt(shape.calls + shape.seeds);
    const room = f.p - N - 1n;
    for (const u of [[0n, 0n], [room, 0n], [5n, 5n + room], [f.p - 1n, f.p - 1n], [1n, 2n]]) {
      const rs = proofChallenges(f, shape, u);
      expect(rs).toHaveLength(2);
      expect(rs[0]).not.toBe(rs[1]);
      for (const r of rs) { expect(r > N).toBe(true); expect(r < f.p).toBe(true); }
    }
    expect(() => proofChallenges(f, shape, [1n])).toThrow(RangeError);
  });

  for (const P of [1, 7, 710, 2500, 33_000, 70_000]) { // 33k: L ≈ 1000; 70k: L ≈ 1490 (the m61 prover flushes its float64 sums every 1024 rows)
    it(`honest proof for P = ${P}: passes at any allowed challenge and sums to Σ a_t·b_t`, () => {
      const shape = proofShape(P, f.p);
      const a = f.random(P, rng), b = f.random(P, rng), seeds = f.random(shape.seedLength, rng);
      const h = proveProducts(f, shape, a, b, seeds);
      for (const r of [randomPoint(), ...proofChallenges(f, shape, [1n, 3n])]) {
        const { holds, sum } = check(shape, a, b, seeds, h, r);
        expect(holds).toBe(true);
        expect(sum).toBe(f.dot(a, b));
      }
    });
  }

  it("a proof shifted to claim a different sum, or with an unchanged sum but not Σ A_i·B_i, or wrong on a seed call, fails at a random challenge", () => {
    const P = 710;
    const shape = proofShape(P, f.p);
    const a = f.random(P, rng), b = f.random(P, rng), seeds = f.random(shape.seedLength, rng);
    const h = proveProducts(f, shape, a, b, seeds);
    const bump = (i: number, by: bigint) => { const v = f.slice(h, 0, h.length); f.set(v, i, (f.get(v, i) + by + f.p) % f.p); return v; };
    const wrongSum = bump(0, 5n); // claims Σ a·b + 5
    const sameSum = bump(1, 7n); f.set(sameSum, 2, (f.get(sameSum, 2) - 7n + f.p) % f.p);
    const seedCall = bump(shape.calls, 1n); // H at the first seed node
    const tail = bump(shape.calls + shape.seeds + 3, 1n); // beyond the nodes
    for (const forged of [wrongSum, sameSum, seedCall, tail]) expect(check(shape, a, b, seeds, forged, randomPoint()).holds).toBe(false);
    expect(check(shape, a, b, seeds, wrongSum, randomPoint()).sum).toBe((f.dot(a, b) + 5n) % f.p);
  });

  it("zero knowledge: the opened A(r), B(r) are the same function of the seeds for any input, so with fresh seeds they are uniform", () => {
    // For two inputs (a, b) and (a', b'), seeds' = seeds + M^{-1}·(shift) reproduces exactly the
    // opened values of (a, b, seeds). Checked directly: the openings at r are affine in the
    // seeds with an invertible part, so for every target opening some seed vector yields it.
    const P = 40;
    const shape = proofShape(P, f.p);
    const [r1, r2] = proofChallenges(f, shape, [f.get(f.random(1, rng), 0), f.get(f.random(1, rng), 0)]);
    const N = shape.calls + shape.seeds, s = shape.width, half = shape.seeds * s;
    // The seed part of A_i(r_k) is Σ_m λ_{L+m}(r_k)·seed_{m,i}: a q×q matrix M per wire.
    const lam = [r1!, r2!].map((r) => lagrangeBasis(f, N, r));
    const M = lam.map((l) => [l[shape.calls]!, l[shape.calls + 1]!]);
    const det = ((M[0]![0]! * M[1]![1]! - M[0]![1]! * M[1]![0]!) % f.p + f.p) % f.p;
    expect(det).not.toBe(0n);
    // Two different inputs; choose the second's seeds so that every opened A_i(r_k), B_i(r_k) matches.
    const a = f.random(P, rng), b = f.random(P, rng), a2 = f.random(P, rng), b2 = f.random(P, rng);
    const seeds = f.random(shape.seedLength, rng);
    const open = (x: FieldVec, y: FieldVec, sd: FieldVec) => [r1!, r2!].map((r) => check(shape, x, y, sd, proveProducts(f, shape, x, y, sd), r));
    const target = open(a, b, seeds);
    const base = open(a2, b2, f.zeros(shape.seedLength)); // the input's own part at each r
    const inv = (x: bigint) => { let r = 1n, e = f.p - 2n, g = x % f.p; while (e > 0n) { if (e & 1n) r = (r * g) % f.p; g = (g * g) % f.p; e >>= 1n; } return r; };
    const dinv = inv(det);
    const seeds2 = f.zeros(shape.seedLength);
    for (const [side, off] of [["ar", 0], ["br", half]] as const) {
      for (let i = 0; i < s; i++) {
        const t0 = (target[0]![side][i]! - base[0]![side][i]! + f.p) % f.p, t1 = (target[1]![side][i]! - base[1]![side][i]! + f.p) % f.p;
        // solve M·[x0, x1] = [t0, t1]
        const x0 = (((M[1]![1]! * t0 - M[0]![1]! * t1) % f.p + f.p) % f.p * dinv) % f.p;
        const x1 = (((M[0]![0]! * t1 - M[1]![0]! * t0) % f.p + f.p) % f.p * dinv) % f.p;
        f.set(seeds2, off + i, x0);
        f.set(seeds2, off + s + i, x1);
      }
    }
    const other = open(a2, b2, seeds2);
    expect(other.map((o) => [o.ar, o.br])).toEqual(target.map((o) => [o.ar, o.br]));
    expect(other.every((o) => o.holds)).toBe(true);
  });

  it("queryProducts at several points at once: each query equals the one at its point alone, with authenticated shares (MACs) combined like the values", () => {
    const P = 1500, shape = proofShape(P, f.p);
    const a = f.random(P, rng), b = f.random(P, rng), seeds = f.random(shape.seedLength, rng);
    const h = proveProducts(f, shape, a, b, seeds);
    const delta = f.get(f.random(1, rng), 0);
    const auth = (v: FieldVec) => ({ value: v, mac: f.scale(v, delta) });
    const rs = proofChallenges(f, shape, [7n, 123456789n]);
    const both = queryProducts(f, shape, auth(a), auth(b), auth(seeds), auth(h), proofPoints(f, shape, rs));
    expect(both).toHaveLength(2);
    rs.forEach((r, k) => {
      const [one] = queryProducts(f, shape, auth(a), auth(b), auth(seeds), auth(h), proofPoints(f, shape, [r]));
      const q = both[k]!;
      for (const key of ["ar", "br", "hr", "sum"] as const) {
        expect(f.toBigInts(q[key].value)).toEqual(f.toBigInts(one![key].value));
        expect(f.toBigInts(q[key].mac)).toEqual(f.toBigInts(f.scale(q[key].value, delta)));
      }
      expect(proofCheckHolds(f, q.ar.value, q.br.value, f.get(q.hr.value, 0))).toBe(true);
    });
    expect(f.get(both[0]!.ar.value, 0)).not.toBe(f.get(both[1]!.ar.value, 0));
  });

  it("throws on length mismatches", () => {
    const shape = proofShape(10, f.p);
    const sd = f.zeros(shape.seedLength);
    expect(() => proveProducts(f, shape, f.zeros(9), f.zeros(10), sd)).toThrow(RangeError);
    expect(() => proveProducts(f, shape, f.zeros(10), f.zeros(10), f.zeros(1))).toThrow(RangeError);
    expect(() => queryProducts(f, shape, clear(f.zeros(10)), clear(f.zeros(10)), clear(sd), clear(f.zeros(3)), proofPoints(f, shape, [5n]))).toThrow(RangeError);
  });
});
