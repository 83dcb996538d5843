import { describe, expect, it } from "vitest";
import { compose, epsilonOf, gaussianFor, rhoFor, rhoOfGaussian } from "../../../protocol/dp/zcdp.ts";

describe("zCDP accounting", () => {
  it("ρ → (ε, δ) is Bun–Steinke's ρ + 2√(ρ ln 1/δ), and rhoFor is its inverse", () => {
    expect(epsilonOf(0.5, 1e-6)).toBeCloseTo(0.5 + 2 * Math.sqrt(0.5 * Math.log(1e6)), 12);
    for (const eps of [0.1, 1, 3, 8]) for (const delta of [1e-5, 1e-9]) expect(epsilonOf(rhoFor(eps, delta), delta)).toBeCloseTo(eps, 9);
    expect(epsilonOf(0, 1e-6)).toBe(0);
  });

  it("composition adds ρ; a budget of ε = 1 at δ = 1e-6 allows ten releases of a tenth of it", () => {
    const per = rhoFor(1, 1e-6) / 10;
    expect(epsilonOf(compose(Array(10).fill(per)), 1e-6)).toBeCloseTo(1, 9);
    expect(epsilonOf(compose(Array(11).fill(per)), 1e-6)).toBeGreaterThan(1);
  });

  it("the discrete Gaussian's σ² is rounded up, so the ρ achieved never exceeds the target", () => {
    const g = gaussianFor(1, 0.5);
    expect(g.sigma2).toEqual({ num: 1n << 20n, den: 1n << 20n });
    expect(g.rho).toBe(0.5);
    for (const [sens, rho] of [[1, 0.013], [90, 0.2], [4 * 256, 0.05]] as const) {
      const h = gaussianFor(sens, rho);
      expect(h.rho).toBeLessThanOrEqual(rho);
      expect(h.rho).toBeGreaterThan(rho * 0.999);
      expect(rhoOfGaussian(sens, h.sigma2)).toBe(h.rho);
    }
  });

  it("refuses parameters outside their domain", () => {
    expect(() => epsilonOf(-1, 1e-6)).toThrow(RangeError);
    expect(() => epsilonOf(1, 0)).toThrow(RangeError);
    expect(() => rhoFor(0, 1e-6)).toThrow(RangeError);
    expect(() => gaussianFor(0, 1)).toThrow(RangeError);
    expect(() => compose([0.1, Number.NaN])).toThrow(RangeError);
  });
});
