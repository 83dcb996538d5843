import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { DIGIT_COPE_WIDTH, digitCopeSetupLength } from "../../../protocol/mascot/digit-cope.ts";
import { plainSum, run } from "./helpers.ts";

describe("validated secure sum with the real offline phase (OfflineParty triples, real base OTs)", () => {
  it("n = 2, bits predicate, one offender excluded; the online input's COPE is seeded by the offline phase (no base-OT messages)", () => {
    const inputs = [[1, 0, 1], [0, 3, 1]].map((x) => m61.fromInts(x));
    const baseOtBytes: number[] = [];
    const { parties, net } = run({ n: 2, inputs, mode: "validated", predicates: [{ kind: "bits" }] }, {
      tamper: (e) => { if (e.phase.startsWith("cope.ot.")) baseOtBytes.push(e.payload.length); return e; },
    });
    expect(net.errors).toEqual([undefined, undefined]);
    expect(baseOtBytes).toEqual([]); // no cope.ot.A / cope.ot.B round at all (they were empty messages)
    for (const p of parties) {
      expect(p.result!.excluded).toEqual([1]);
      expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs, [1]));
    }
  });

  it("a wrong COPE correction on an input with offline-seeded COPE → cope/MAC check aborts, no sum is opened", () => {
    const inputs = [[1, 0, 1], [0, 1, 1], [1, 1, 0]].map((x) => m61.fromInts(x));
    let sumOpened = false;
    const { parties, net } = run({ n: 3, inputs, mode: "validated", predicates: [{ kind: "bits" }] }, {
      tamper: (e) => {
        if (e.phase === "open.sum") sumOpened = true;
        if (e.from !== 0 || e.to !== 2 || e.phase !== "input.cope") return e;
        // After the GGM setup, entry 0 of every digit instance i (digit-major blocks of E
        // elements, 8 bytes each) off by ±1: inconsistent x across digits, which
        // q = Σ 2^{o_i} q_i turns into a MAC error.
        const p = e.payload.slice(), head = digitCopeSetupLength(m61), digits = Math.ceil(m61.bits / DIGIT_COPE_WIDTH);
        const block = (p.length - head) / digits;
        for (let i = 0; i < digits; i++) p[head + i * block]! ^= 1;
        return { ...e, payload: p };
      },
    });
    expect(parties.some((p) => p.done)).toBe(false);
    expect(net.errors.some((e) => e instanceof ProtocolAbort && e.code === "mac-check-failed")).toBe(true);
    expect(sumOpened).toBe(false);
  });
});
