/**
 * Statistical parameters sized for the field actually used (DESIGN §4, docs/mascot.md
 * "Checks, coins and soundness"): triple Combine τ, the number of challenge points of the
 * product proof, the projection tail t and its minimum rows, and the triple count they imply.
 */
import { describe, expect, it } from "vitest";
import { m61, p128 } from "../../../protocol/field/index.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { combine, combineTau, STAT_SECURITY } from "../../../protocol/mascot/triples.ts";
import { MAX_PROOF_CALLS, PROOF_SOUNDNESS_BITS, proofQueries, proofShape } from "../../../protocol/mascot/product-proof.ts";
import { MIN_PROJECTION_ROWS, PROJECTION_TAIL_T, ValidationPlan } from "../../../protocol/mascot/validation.ts";

const log2 = (x: bigint) => x.toString(2).length - 1; // ⌊log2 x⌋

describe("triple Combine τ (MASCOT Fig. 9, leftover hash lemma: s ≤ (τ − 1)·k/3)", () => {
  it("m61 needs τ = 4 for ≥ 60 bits (τ = 3 gives only ≈ 40); p128 keeps τ = 3 (≈ 84 bits)", () => {
    expect(combineTau(m61)).toBe(4);
    expect(combineTau(p128)).toBe(3);
    for (const f of [m61, p128]) {
      const tau = combineTau(f), k = log2(f.p);
      expect(((tau - 1) * k) / 3).toBeGreaterThanOrEqual(STAT_SECURITY);
      expect(((tau - 2) * k) / 3 < STAT_SECURITY || tau === 3).toBe(true); // the least such τ (≥ 3)
    }
    expect((2 * log2(m61.p)) / 3).toBeLessThan(41); // what τ = 3 gave in m61
  });
  it("combine with τ = 4 keeps c = a·b for the combined and the sacrificed triple", () => {
    const rng = seededRng("combine-tau4");
    const f = m61, m = 5, tau = combineTau(f);
    const a = f.random(m * tau, rng), b = f.random(m, rng);
    const bRep = f.fromBigInts(Array.from({ length: m * tau }, (_, i) => f.get(b, Math.floor(i / tau))));
    const c = f.mul(a, bRep);
    const r = f.random(m * tau, rng), rHat = f.random(m * tau, rng);
    const out = combine(f, a, c, r, rHat);
    expect(f.toBigInts(out.c)).toEqual(f.toBigInts(f.mul(out.a, b)));
    expect(f.toBigInts(out.cHat)).toEqual(f.toBigInts(f.mul(out.aHat, b)));
    expect(() => combine(f, a, c, r, rHat, 3)).toThrow(RangeError); // 20 is not a multiple of 3
  });
});

describe("product proof: challenge points for ((2N − 2)/(p − N − 1))^q ≤ 2^-64, N = L + q nodes", () => {
  it("m61 takes q = 2, p128 q = 1; the bound holds for every shape with its seed calls", () => {
    for (const P of [1, 2, 3, 50, 713, 5000, 100_000, 2_000_000]) {
      for (const f of [m61, p128]) {
        const s = proofShape(P, f.p);
        expect(s.width * s.calls).toBeGreaterThanOrEqual(P);
        expect(s.calls).toBeLessThanOrEqual(MAX_PROOF_CALLS);
        const N = s.calls + s.seeds;
        expect(s.seeds).toBe(s.queries);
        const deg = BigInt(2 * N - 2), room = f.p - BigInt(N) - 1n;
        expect(deg ** BigInt(s.queries) << BigInt(PROOF_SOUNDNESS_BITS) <= room ** BigInt(s.queries)).toBe(true);
        expect(s.queries).toBe(f === p128 ? 1 : 2);
      }
    }
    expect(proofQueries(m61.p, 1)).toBe(1); // N = 1: the identity is a constant, checked exactly
    expect(proofQueries(m61.p, 2)).toBe(2); // (2/p) = 2^-60 > 2^-64
    expect(proofShape(713).queries).toBe(1); // without the modulus: layout only
  });
  it("an owner's proof: 2·q·s seeds and 2(L + q) − 1 proof inputs (32-entry update, 20-bit ranges, L2 bound)", () => {
    const preds = [{ kind: "range" as const, bits: 20 }, { kind: "l2-norm" as const, bound: (1n << 40n) - 1n }];
    const plan = new ValidationPlan(m61, 32, preds);
    expect(plan.products).toBe(32 * 20 + 32 + 40);
    expect(plan.proof).toMatchObject({ width: 5, queries: 2, seeds: 2, calls: 143, length: 2 * 145 - 1, seedLength: 20 });
    expect(plan.maskLength).toBe(plan.lateLength + 20);
    expect(new ValidationPlan(p128, 32, preds).proof).toMatchObject({ queries: 1, seeds: 1, seedLength: 10 });
  });
});

describe("random projection for the L2 bound", () => {
  it("t = 42 (e^-t ≤ 2^-60) and at least 4t + 1 rows (the soundness bound needs m > 4t)", () => {
    expect(Math.exp(-PROJECTION_TAIL_T)).toBeLessThanOrEqual(2 ** -60);
    expect(MIN_PROJECTION_ROWS).toBe(4 * PROJECTION_TAIL_T + 1);
    const pred = (rows: number) => [{ kind: "l2-norm" as const, bound: 100n, projection: { rows } }];
    expect(() => new ValidationPlan(m61, 50, pred(MIN_PROJECTION_ROWS - 1))).toThrow(/projection rows/);
    expect(new ValidationPlan(m61, 50, pred(MIN_PROJECTION_ROWS)).projectionRows).toBe(MIN_PROJECTION_ROWS);
  });
});
