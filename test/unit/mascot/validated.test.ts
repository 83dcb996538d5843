import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { plainSum, randInputs, run } from "./helpers.ts";
import { uninstallNodeAes } from "../../../client/agent/party-aes.ts";

// The portable path (@noble AES and SHA-256: what a browser node runs), not the node project's
// node:crypto setup (test/unit/native-crypto.setup.ts).
uninstallNodeAes();

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

import { p128 } from "../../../protocol/field/index.ts";
import { runWithDealer } from "./helpers.ts";

describe("validated secure sum over p128 (k = 127 COPE instances, generic field path)", () => {
  it("n = 3 without predicates, and with a range predicate naming an offender", () => {
    const inputs = randInputs(p128, 3, 6, "p128v", 16);
    const { parties, net } = runWithDealer({ n: 3, inputs, predicates: [], field: p128 });
    expect(net.errors).toEqual([undefined, undefined, undefined]);
    for (const p of parties) expect(p128.toBigInts(p.result!.sum)).toEqual(plainSum(p128, inputs));
    const bad = [p128.fromInts([1, 2, 3]), p128.fromInts([1, 99, 3]), p128.fromInts([0, 0, 15])];
    const r = runWithDealer({ n: 3, inputs: bad, predicates: [{ kind: "range", bits: 4 }], field: p128 });
    for (const p of r.parties) {
      expect(p.result!.excluded).toEqual([1]);
      expect(p128.toBigInts(p.result!.sum)).toEqual(plainSum(p128, bad, [1]));
    }
  });
});
