import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { plainSum, randInputs, run } from "./helpers.ts";

describe("validated secure sum (no predicates)", () => {
  for (const n of [2, 3, 5]) {
    it(`sums correctly with n = ${n}`, () => {
      const inputs = randInputs(m61, n, 40, `val${n}`);
      const { parties, net } = run({ n, inputs, mode: "validated" });
      expect(net.errors).toEqual(new Array(n).fill(undefined));
      const want = plainSum(m61, inputs);
      for (const p of parties) {
        expect(p.done).toBe(true);
        expect(m61.toBigInts(p.result!.sum)).toEqual(want);
        expect(p.result!.excluded).toEqual([]);
        expect(p.result!.transcriptHash).toEqual(parties[0]!.result!.transcriptHash);
      }
    });
  }
});
