import { describe, expect, it } from "vitest";
import vector from "../../vectors/mascot/pine.json" with { type: "json" };
import { makeVector } from "../../vectors/mascot/generate-pine.ts";

describe("PINE known-answer vector (test/vectors/mascot/pine.json)", () => {
  it("regenerates identically (parameters, z, ⟨z, x⟩, window values, late inputs, zero terms)", () => {
    expect(makeVector()).toEqual(vector);
  });
  it("the honest input passes every check it claims and every zero term vanishes", () => {
    const claimed = vector.late.successBits.map((g, k) => (g === "1" ? k : -1)).filter((k) => k >= 0);
    expect(claimed.length).toBe(vector.params.successes);
    for (const k of claimed) expect(vector.pass[k]).toBe(true);
    expect(vector.terms.every((t) => t === "0")).toBe(true);
    // window value = ⟨z, x⟩ + h over the integers for this small x
    const x = vector.x.map(BigInt);
    vector.z.forEach((z, k) => {
      const dot = z.reduce((a, zi, i) => a + BigInt(zi) * x[i]!, 0n);
      expect(BigInt(vector.window[k]!)).toBe(dot + BigInt(vector.params.half));
    });
  });
});
