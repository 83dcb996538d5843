import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { plainSum, run } from "./helpers.ts";

describe("validated secure sum with the real offline phase (OfflineParty triples, real base OTs)", () => {
  it("n = 2, bits predicate, one offender excluded", () => {
    const inputs = [[1, 0, 1], [0, 3, 1]].map((x) => m61.fromInts(x));
    const { parties, net } = run({ n: 2, inputs, mode: "validated", predicates: [{ kind: "bits" }] });
    expect(net.errors).toEqual([undefined, undefined]);
    for (const p of parties) {
      expect(p.result!.excluded).toEqual([1]);
      expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs, [1]));
    }
  });
});
