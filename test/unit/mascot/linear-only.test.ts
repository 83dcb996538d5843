import { describe, expect, it } from "vitest";
import { m61, p128 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { plainSum, randInputs, run } from "./helpers.ts";
import { seededRng } from "../../../protocol/rng.ts";

describe("linear-only secure sum", () => {
  for (const n of [2, 3, 5]) {
    it(`sums correctly with n = ${n}`, () => {
      const inputs = randInputs(m61, n, 50, `lin${n}`);
      const { parties, net } = run({ n, inputs, mode: "linear-only" });
      expect(net.errors.every((e) => e === undefined)).toBe(true);
      const want = plainSum(m61, inputs);
      for (const p of parties) {
        expect(p.done).toBe(true);
        expect(m61.toBigInts(p.result!.sum)).toEqual(want);
        expect(p.result!.transcriptHash).toEqual(parties[0]!.result!.transcriptHash);
      }
    });
  }
  it("works over p128 with random interleaving", () => {
    const inputs = randInputs(p128, 3, 20, "p128");
    const { parties } = run({ n: 3, inputs, mode: "linear-only", field: p128 }, { schedule: seededRng("sched") });
    for (const p of parties) expect(p128.toBigInts(p.result!.sum)).toEqual(plainSum(p128, inputs));
  });
  it("catches a tampered opening", () => {
    const inputs = randInputs(m61, 3, 10, "t");
    const { parties, net } = run({ n: 3, inputs, mode: "linear-only" }, {
      tamper: (e) => { if (e.from === 1 && e.phase === "lin.open") { const p = e.payload.slice(); p[70]! ^= 1; return { ...e, payload: p }; } return e; },
    });
    expect(parties[0]!.done || parties[2]!.done).toBe(false);
    const err = net.errors[0] as ProtocolAbort;
    expect(err.code).toBe("commitment-mismatch");
    expect(err.culprits).toEqual([1]);
  });
  it("catches an equivocated commitment", () => {
    const inputs = randInputs(m61, 3, 10, "t");
    const { net } = run({ n: 3, inputs, mode: "linear-only" }, {
      tamper: (e) => { if (e.from === 2 && e.to === 0 && e.phase === "lin.commit") { const p = e.payload.slice(); p[0]! ^= 1; return { ...e, payload: p }; } return e; },
    });
    expect((net.errors[0] as ProtocolAbort).code).toBe("equivocation");
  });
});
