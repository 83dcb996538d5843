import { describe, expect, it } from "vitest";
import vector from "../../vectors/mascot/mac-check.json" with { type: "json" };
import { m61 } from "../../../protocol/field/index.ts";
import { fromHex } from "../../../protocol/encoding.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { MacCheckBatch, macCheckCoefficients, macCheckSigma, openSigma, verifyMacCheck } from "../../../protocol/mascot/mac-check.ts";
import { makeVector } from "../../vectors/mascot/generate-mac-check.ts";

const f = m61;
describe("MAC check known-answer vector (test/vectors/mascot/mac-check.json)", () => {
  it("the generator reproduces the committed vector", () => {
    expect(JSON.parse(JSON.stringify(makeVector()))).toEqual(vector);
  });
  it("coefficients, σ_i, openings and the acceptance rule match", () => {
    const opened = f.fromBigInts(vector.opened.map(BigInt));
    const r = macCheckCoefficients(f, fromHex(vector.coinSeed), vector.count);
    expect(f.toBigInts(r).map(String)).toEqual(vector.coefficients);
    const commits: Uint8Array[] = [], opens: Uint8Array[] = [];
    vector.perParty.forEach((p, i) => {
      expect(macCheckSigma(f, BigInt(p.alphaShare), opened, f.fromBigInts(p.macShares.map(BigInt)), r).toString()).toBe(p.sigma);
      const batch = new MacCheckBatch(f);
      batch.add(f.slice(opened, 0, 2), f.fromBigInts(p.macShares.slice(0, 2).map(BigInt)));
      batch.add(f.slice(opened, 2, 4), f.fromBigInts(p.macShares.slice(2).map(BigInt)));
      expect(batch.sigma(BigInt(p.alphaShare), fromHex(vector.coinSeed)).toString()).toBe(p.sigma);
      expect(openSigma(f, i, fromHex(p.commitPayload), fromHex(p.openPayload)).toString()).toBe(p.sigma);
      commits.push(fromHex(p.commitPayload)); opens.push(fromHex(p.openPayload));
    });
    expect(vector.sigmaSum).toBe("0");
    expect(() => verifyMacCheck(f, commits, opens)).not.toThrow();
    const tampered = opens.map((o) => o.slice());
    tampered[1]![35]! ^= 1;
    expect(() => verifyMacCheck(f, commits, tampered)).toThrow(ProtocolAbort);
  });
  it("a wrong opened value makes Σσ_i ≠ 0", () => {
    expect(vector.negative.sigmaSum).not.toBe("0");
  });
});
