import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { DIGIT_COPE_WIDTH, digitCopeSetupLength } from "../../../protocol/mascot/digit-cope.ts";
import { OfflineParty, type KeptOtStore } from "../../../protocol/mascot/offline.ts";
import { SecureSumParty } from "../../../protocol/mascot/party.ts";
import { runNetwork } from "../../../protocol/mascot/testing/transport.ts";
import { memoryOtStore } from "../../../protocol/mascot/testing/memory-ot-store.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { plainSum, run } from "./helpers.ts";


describe("validated secure sum with the real offline phase (OfflineParty triples, real base OTs)", () => {
  it("n = 2, bits predicate, one offender excluded; the online input's COPE is seeded by the offline phase (no base-OT messages)", () => {
    const inputs = [[1, 0, 1], [0, 3, 1]].map((x) => m61.fromInts(x));
    const baseOtBytes: number[] = [];
    const { parties, net } = run({ n: 2, inputs, mode: "validated", predicates: [{ kind: "bits" }] }, {
      tamper: (e) => { if (e.phase.startsWith("cope.ot.")) baseOtBytes.push(e.payload.length); return e; },
    });
    expect(net.errors).toEqual([undefined, undefined]);
    expect(baseOtBytes).toEqual([]); // the online phase runs no base OTs of its own (issue 13: one base-OT design)
    for (const p of parties) {
      expect(p.result!.excluded).toEqual([1]);
      expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs, [1]));
    }
  });

  it("with predicates (range + L2, PINE): the offline phase sends only its setup and makes no triple; the validation opens its proof queries in one valid.open", () => {
    const d = 6;
    const inputs = [[1, 2, 3, 0, 1, 2], [3, 3, 0, 1, 2, 0], [0, 1, 1, 2, 3, 1]].map((x) => m61.fromInts(x));
    for (const predicates of [[{ kind: "range" as const, bits: 2 }, { kind: "l2-norm" as const, bound: 64n }], [{ kind: "l2-norm" as const, bound: 64n, method: "pine" as const }]]) {
      const phases = new Set<string>();
      const sid = new TextEncoder().encode(`no-triples/${predicates.length}`);
      // The default offline phase (what a node runs), no test dependency injected.
      const parties = inputs.map((x, me) => new SecureSumParty(
        { field: m61, parties: 3, me, mode: "validated", length: d, predicates, sessionId: sid }, x, seededRng(`nt/${me}`)));
      const net = runNetwork(parties, { tamper: (e) => { phases.add(e.phase); return e; } });
      expect(net.errors).toEqual([undefined, undefined, undefined]);
      for (const p of parties) expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs));
      expect([...phases].filter((ph) => ph.startsWith("offline.")).sort()).toEqual(["offline.setup1", "offline.setup2", "offline.setup3", "offline.setup4"]);
      expect(phases.has("valid.open")).toBe(true);
      expect(phases.has("mult.open")).toBe(false); // no Beaver opening
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
  it("no predicates: the offline setup alone (count = 0) gives α and the input COPE; its base OTs are kept and reused by the next session", () => {
    const n = 3;
    const inputs = [[1, 2, 3], [4, 5, 6], [7, 8, 9]].map((x) => m61.fromInts(x));
    const stores = inputs.map(() => memoryOtStore());
    const session = (sid: string) => {
      const offline: OfflineParty[] = [];
      const phases = new Set<string>();
      const parties = inputs.map((x, me) => new SecureSumParty(
        { field: m61, parties: n, me, mode: "validated", length: 3, predicates: [], sessionId: new TextEncoder().encode(sid) }, x, seededRng(`${sid}/${me}`),
        { offline: () => { const o = new OfflineParty({ field: m61, parties: n, me, sessionId: new TextEncoder().encode(sid), count: 0 }, seededRng(`${sid}/off/${me}`), { baseOts: stores[me]! }); offline.push(o); return o; } }));
      const net = runNetwork(parties, { tamper: (e) => { phases.add(e.phase); return e; } });
      expect(net.errors).toEqual([undefined, undefined, undefined]);
      for (const p of parties) expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs));
      expect(offline.every((o) => o.done && o.triples().a.value.length === 0)).toBe(true);
      // The only offline messages are the setup: base OTs (setup1, setup2), COPE Initialize (setup3) and the derived direction's setup (setup4).
      expect([...phases].filter((ph) => ph.startsWith("offline.")).sort()).toEqual(["offline.setup1", "offline.setup2", "offline.setup3", "offline.setup4"]);
      return offline.map((o) => o.reusedBaseOts);
    };
    expect(session("no-pred/1")).toEqual([0, 0, 0]);
    expect(session("no-pred/2")).toEqual([2, 2, 2]); // no public-key OT at all in the second session
  });
});
