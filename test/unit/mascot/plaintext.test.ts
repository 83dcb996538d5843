/** The benchmark-only plaintext baseline: correct sums, and it refuses predicates and bad encodings. */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { SecureSumParty } from "../../../protocol/mascot/party.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { plainSum, randInputs, run } from "./helpers.ts";

describe("plaintext baseline (benchmark only)", () => {
  for (const n of [2, 5]) {
    it(`sums correctly with n = ${n}; every party has the same transcript hash`, () => {
      const inputs = randInputs(m61, n, 40, `plain${n}`);
      const { parties, net } = run({ n, inputs, mode: "plaintext" });
      expect(net.errors.every((e) => e === undefined)).toBe(true);
      for (const p of parties) {
        expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs));
        expect(p.result!.transcriptHash).toEqual(parties[0]!.result!.transcriptHash);
      }
    });
  }
  it("refuses predicates (it cannot check anything)", () => {
    expect(() => new SecureSumParty({ field: m61, parties: 2, me: 0, mode: "plaintext", length: 1, predicates: [{ kind: "bits" }], sessionId: new Uint8Array(8) }, m61.fromInts([1]), seededRng("x"))).toThrow(/plaintext mode cannot check predicates/);
  });
  it("names a party whose broadcast has the wrong length", () => {
    const inputs = randInputs(m61, 3, 10, "len");
    const { net } = run({ n: 3, inputs, mode: "plaintext" }, {
      tamper: (e) => (e.from === 1 && e.phase === "plain.open" ? { ...e, payload: e.payload.slice(0, e.payload.length - 8) } : e),
    });
    const err = net.errors.find((x) => x !== undefined) as ProtocolAbort;
    expect(err.code).toBe("bad-encoding");
    expect(err.culprits).toEqual([1]);
  });
});
