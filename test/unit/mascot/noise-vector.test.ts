import { describe, expect, it } from "vitest";
import vector from "../../vectors/mascot/noise.json" with { type: "json" };
import { makeVector } from "../../vectors/mascot/generate-noise.ts";
import { NOISE_TAIL_T } from "../../../protocol/mascot/noise.ts";

describe("DP noise known-answer vector (test/vectors/mascot/noise.json)", () => {
  it("regenerates identically (bound, predicate, sampled noise, signs, release)", () => {
    expect(makeVector()).toEqual(vector);
  });
  it("B follows the Laurent–Massart formula; y = Σx + r ⊙ Σz entry by entry; the predicate covers [d, 2d)", () => {
    const s2 = vector.segments.flatMap((s) => { const [a, b] = s.sigma2.split("/").map(Number); return new Array<number>(s.end - s.start).fill(a! / b!); });
    const sum = s2.reduce((a, v) => a + v, 0), sq = s2.reduce((a, v) => a + v * v, 0), max = Math.max(...s2);
    const raw = sum + 2 * Math.sqrt(NOISE_TAIL_T * sq) + 2 * NOISE_TAIL_T * max;
    expect(Number(vector.normBound)).toBeGreaterThanOrEqual(raw);
    expect(Number(vector.normBound)).toBeLessThanOrEqual(Math.ceil(raw) + 1);
    expect(vector.predicate).toEqual({ kind: "l2-norm", bound: vector.normBound, indices: [vector.d, 2 * vector.d], method: "pine" });
    for (let k = 0; k < vector.d; k++) {
      const x = BigInt(vector.x[0]![k]!) + BigInt(vector.x[1]![k]!);
      const z = BigInt(vector.z[0]![k]!) + BigInt(vector.z[1]![k]!);
      expect(BigInt(vector.y[k]!)).toBe(x + BigInt(vector.signs[k]!) * z);
    }
    for (const z of vector.z) expect(z.reduce((a, v) => a + BigInt(v) ** 2n, 0n)).toBeLessThanOrEqual(BigInt(vector.normBound));
  });
});
