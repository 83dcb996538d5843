/** Pure parts of encrypted training: polynomial, schedule, layout, parameter sizing, export, metrics. */
import { describe, expect, it } from "vitest";
import { auc, blockLevels, fitSigmoid, galoisSteps, layoutFor, nagPlain, nagSchedule, packRows, packWeights, SIGMOID_COEFFS, sigmoidPoly, stateFromBetas, standardisation, toDenseModel, unpackWeights, zRows, DEFAULT_NAG, AUTO_LR_FACTOR, autoLearningRate, secondMomentNorm } from "../../../client/fhe/training/nag.ts";
import { keyBytes, MAX_KEY_BYTES, maxLevels, planTraining, trainingParams } from "../../../client/fhe/training/params.ts";
import { MAX_BITS_128 } from "../../../client/fhe/params.ts";
import { denseForward } from "../../../protocol/learning/dense.ts";

describe("sigmoid polynomial", () => {
  it("coefficients are the least-squares fit on [-8, 8] (degree 3 = Kim et al. 2018)", () => {
    for (const d of [3, 5, 7] as const) fitSigmoid(d).forEach((c, i) => expect(c).toBeCloseTo(SIGMOID_COEFFS[d]![i]!, 10));
    expect(SIGMOID_COEFFS[3][0]).toBeCloseTo(-1.20096, 5);
    expect(SIGMOID_COEFFS[3][1]).toBeCloseTo(0.81562, 4);
  });
  it("approximates σ(−x) on [−8, 8]", () => {
    for (const [d, tol] of [[3, 0.12], [5, 0.07], [7, 0.04]] as const)
      for (let x = -8; x <= 8; x += 0.25) expect(Math.abs(sigmoidPoly(d, x) - 1 / (1 + Math.exp(x)))).toBeLessThan(tol);
    expect(sigmoidPoly(3, 0)).toBe(0.5);
  });
});

describe("NAG schedule", () => {
  it("matches Kim et al.'s code (λ0 = 0.01, η = (1 − λ_t)/λ_{t+1}, α = 10/(t+1))", () => {
    const s = nagSchedule({ iterations: 5, learningRate: 10, lambda0: 0.01 });
    const ref = [0.989901, 0, -0.281783, -0.434061, -0.531076];
    s.forEach((x, t) => expect(x.eta).toBeCloseTo(ref[t]!, 3)); // their table rounds η_1 = −6e-5 to 0
    expect(s.map((x) => x.alpha)).toEqual([10, 5, 10 / 3, 2.5, 2]);
  });
  it("the plaintext reference: continuing from a state rebuilt from (β_t, β_{t−1}) equals one run", () => {
    const x = Array.from({ length: 40 }, (_, i) => [Math.sin(i), Math.cos(3 * i), (i % 7) - 3]);
    const y = x.map((r) => (r[0]! + 0.5 * r[1]! > 0 ? 1 : 0));
    const z = zRows(x, y, standardisation(x));
    const cfg = { ...DEFAULT_NAG, iterations: 6, learningRate: 2 };
    const full = nagPlain(z, cfg);
    const b3 = nagPlain(z, cfg, 3);
    const b2 = nagPlain(z, cfg, 2);
    const resumed = nagPlain(z, cfg, 6, stateFromBetas(3, b3.beta, b2.beta, cfg));
    resumed.beta.forEach((b, j) => expect(b).toBeCloseTo(full.beta[j]!, 12));
  });
});

describe("automatic learning rate", () => {
  it("λ_max of (1/n)Σ z zᵀ by power iteration; lr = AUTO_LR_FACTOR / λ_max", () => {
    // rows ±e_j scaled: (1/n)Σ z zᵀ = diag(4/3, 1/3, 1/12)
    const z = [[2, 0, 0], [-2, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 0.5], [0, 0, -0.5]].map((r) => Float64Array.from(r));
    expect(secondMomentNorm(z)).toBeCloseTo(4 / 3, 6); // (1/6)·(4 + 4)
    expect(autoLearningRate(z)).toBeCloseTo(AUTO_LR_FACTOR / (4 / 3), 6);
    // two identical correlated columns double the top eigenvalue
    const c = [[1, 1], [-1, -1], [1, 1], [-1, -1]].map((r) => Float64Array.from(r));
    expect(secondMomentNorm(c)).toBeCloseTo(2, 6);
    expect(() => secondMomentNorm([])).toThrow(RangeError);
  });
});

describe("layout", () => {
  it("packs each row twice in 2f slots and replicates weights in every half-row", () => {
    const l = layoutFor(5, 3, 64); // width 4, f 4, 8 rows per ciphertext
    expect(l).toMatchObject({ width: 4, f: 4, rowsPerCiphertext: 8, ciphertexts: 1 });
    const z = Array.from({ length: 5 }, (_, i) => Float64Array.from([1, i, 2 * i, 3 * i]));
    const [v] = packRows(z, l, 0.5);
    expect(Array.from(v!.subarray(8, 16))).toEqual([0.5, 0.5, 1, 1.5, 0.5, 0.5, 1, 1.5]);
    expect(Array.from(v!.subarray(40, 48))).toEqual(new Array(8).fill(0));
    const w = packWeights([1, 2, 3, 4], l);
    expect(Array.from(w.subarray(0, 8))).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    expect(Array.from(unpackWeights(w, l))).toEqual([1, 2, 3, 4]);
    expect(layoutFor(1579, 18, 8192)).toMatchObject({ f: 32, rowsPerCiphertext: 128, ciphertexts: 13 });
    expect(galoisSteps({ slots: 8192 })).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]);
    expect(() => layoutFor(10, 5000, 8192)).toThrow(RangeError);
  });
  it("standardises with the owner's statistics and signs rows by the label", () => {
    const st = standardisation([[1, 5], [3, 5], [NaN, 5]]);
    expect(st).toEqual({ mean: [2, 5], std: [1, 1] });
    const z = zRows([[1, 5], [3, 5]], [0, 1], st);
    expect(Array.from(z[0]!)).toEqual([-1, 1, -0]);
    expect(Array.from(z[1]!)).toEqual([1, 1, 0]);
    expect(() => zRows([[1, 5]], [2], st)).toThrow(RangeError);
  });
});

describe("parameters", () => {
  it("levels per block: 1 + D(k − 1) from zero, D·k after a refresh (D = 3, 4, 5)", () => {
    expect(blockLevels(3, 3, true)).toBe(7);
    expect(blockLevels(3, 3, false)).toBe(9);
    expect(blockLevels(5, 2, true)).toBe(5);
    expect(blockLevels(7, 2, false)).toBe(10);
  });
  it("chooses the smallest 128-bit N with scale ≥ 2^36 and keys within the budget", () => {
    expect(trainingParams(7)).toEqual({ polyModulusDegree: 16384, coeffModulusBits: [60, 40, 40, 40, 40, 40, 40, 40, 60], scaleBits: 40, securityLevel: 128 });
    expect(trainingParams(1)!.polyModulusDegree).toBe(8192);
    // 3 levels (one degree-3 iteration after a refresh): N = 8192 with 50-bit outer primes (34 MB of keys, not N = 16384's 73 MB)
    expect(trainingParams(3)).toEqual({ polyModulusDegree: 8192, coeffModulusBits: [50, 39, 39, 39, 50], scaleBits: 39, securityLevel: 128 });
    expect(trainingParams(4)!.polyModulusDegree).toBe(16384);
    expect(planTraining({ ...DEFAULT_NAG, iterations: 7 }, 1).params.polyModulusDegree).toBe(8192);
    expect(maxLevels()).toBe(8);
    expect(trainingParams(9)).toBeUndefined(); // 9 × 36 > 318 bits at N = 16384; N = 32768 keys over 512 MiB
    expect(trainingParams(9, 2 ** 30)).toMatchObject({ polyModulusDegree: 32768, scaleBits: 40 });
    for (let l = 1; l <= maxLevels(); l++) {
      const p = trainingParams(l)!;
      expect(p.coeffModulusBits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(MAX_BITS_128[p.polyModulusDegree]!);
      expect(keyBytes(p.polyModulusDegree, l)).toBeLessThanOrEqual(MAX_KEY_BYTES);
    }
    expect(trainingParams(maxLevels() + 1)).toBeUndefined();
  });
  it("too many iterations for the depth: RangeError naming the refresh that fits", () => {
    expect(() => planTraining({ ...DEFAULT_NAG, iterations: 7 })).toThrow(/7 iterations .* need 19 levels.*--refresh-every 2/);
    expect(() => planTraining({ ...DEFAULT_NAG, iterations: 7 }, 3)).toThrow(RangeError);
    expect(planTraining({ ...DEFAULT_NAG, iterations: 7 }, 3, 2 ** 30).blocks).toEqual([{ from: 0, to: 3 }, { from: 3, to: 6 }, { from: 6, to: 7 }]);
    expect(planTraining({ ...DEFAULT_NAG, iterations: 7 }, 2).params).toMatchObject({ polyModulusDegree: 16384, coeffModulusBits: [60, 40, 40, 40, 40, 40, 40, 60] });
    expect(() => planTraining({ ...DEFAULT_NAG, iterations: 0 })).toThrow(RangeError);
    expect(() => planTraining({ ...DEFAULT_NAG, degree: 4 as 3, iterations: 2 })).toThrow(RangeError);
    expect(() => planTraining({ ...DEFAULT_NAG, degree: 7, iterations: 4 }, 2)).toThrow(RangeError);
    expect(() => planTraining({ ...DEFAULT_NAG, degree: 7, iterations: 4 }, 1)).not.toThrow();
  });
});

describe("export and metrics", () => {
  it("exports β as a 2pm-dense/v1 logistic regression with the standardisation", () => {
    const st = { mean: [1, 2], std: [2, 4] };
    const m = toDenseModel([0.5, 1, -1], st);
    const p = denseForward(m, [3, 2])[0]!;
    expect(p).toBeCloseTo(1 / (1 + Math.exp(-(0.5 + 1 * 1 - 1 * 0))), 12);
    expect(() => toDenseModel([1], st)).toThrow(RangeError);
  });
  it("AUC", () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(auc([1, 1], [0, 1])).toBe(0.5);
  });
});
