import { describe, expect, it } from "vitest";
import { bernoulliExp, discreteGaussianPmf, sampleDiscreteGaussian, sampleDiscreteLaplace, uniformBelow } from "../../../protocol/dp/discrete-gaussian.ts";
import { bufferedRng, seededRng } from "../../../protocol/rng.ts";
import { chiSquare } from "./chi-square.ts";

describe("discrete Gaussian sampler (CKS20)", () => {
  it("uniformBelow covers [0, n) uniformly and refuses n < 1", () => {
    const rng = bufferedRng(seededRng("u"));
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 5000; i++) counts[Number(uniformBelow(rng, 5n))]!++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(6 * Math.sqrt(1000 * 0.8));
    expect(() => uniformBelow(rng, 0n)).toThrow(RangeError);
    expect(uniformBelow(rng, 1n)).toBe(0n);
  });

  it("Bernoulli(exp(−γ)) has mean exp(−γ) for γ = 3/2 and γ = 1/3 (20000 draws, 6 standard errors)", () => {
    const rng = bufferedRng(seededRng("bexp"));
    for (const [num, den] of [[3n, 2n], [1n, 3n]] as const) {
      const p = Math.exp(-Number(num) / Number(den));
      let hits = 0;
      for (let i = 0; i < 20000; i++) if (bernoulliExp(rng, num, den)) hits++;
      expect(Math.abs(hits / 20000 - p)).toBeLessThan(6 * Math.sqrt((p * (1 - p)) / 20000));
    }
    expect(() => bernoulliExp(rng, -1n, 2n)).toThrow(RangeError);
  });

  it("discrete Laplace(t = 3) is symmetric with P ∝ exp(−|x|/3) (χ², false alarm 1e-6)", () => {
    const rng = bufferedRng(seededRng("dlap"));
    const s = Array.from({ length: 20000 }, () => sampleDiscreteLaplace(rng, 3n));
    const z = (1 - Math.exp(-1 / 3)) / (1 + Math.exp(-1 / 3));
    const { stat, critical } = chiSquare(s, (x) => z * Math.exp(-Math.abs(x) / 3), 10);
    expect(stat).toBeLessThan(critical);
  });

  for (const [num, den] of [[4n, 1n], [5n, 2n], [1n, 10n]] as const) {
    const s2 = Number(num) / Number(den);
    it(`N_Z(0, ${s2}) matches its pmf (χ², false alarm 1e-6) and not that of a wider σ²`, () => {
      const rng = bufferedRng(seededRng(`dg-${s2}`));
      const s = Array.from({ length: 20000 }, () => sampleDiscreteGaussian(rng, { num, den }));
      const m = Math.max(2, Math.ceil(3 * Math.sqrt(s2)));
      const ok = chiSquare(s, (x) => discreteGaussianPmf(s2, x, 200), m);
      expect(ok.stat).toBeLessThan(ok.critical);
      // The test has power: the same samples against σ² × 1.5 are rejected.
      const wrong = chiSquare(s, (x) => discreteGaussianPmf(s2 * 1.5, x, 200), m);
      expect(wrong.stat).toBeGreaterThan(wrong.critical);
      const mean = s.reduce((a, b) => a + Number(b), 0) / s.length;
      expect(Math.abs(mean)).toBeLessThan(6 * Math.sqrt(s2 / s.length));
    });
  }

  it("large σ (σ² = 2^20): sample variance within 5 % (20000 draws)", () => {
    const rng = bufferedRng(seededRng("dg-big"));
    const s2 = 2 ** 20;
    let sum2 = 0;
    for (let i = 0; i < 20000; i++) sum2 += Number(sampleDiscreteGaussian(rng, { num: BigInt(s2), den: 1n })) ** 2;
    expect(Math.abs(sum2 / 20000 / s2 - 1)).toBeLessThan(0.05);
  });

  it("refuses σ² ≤ 0", () => {
    expect(() => sampleDiscreteGaussian(seededRng("x"), { num: 0n, den: 1n })).toThrow(RangeError);
  });
});
