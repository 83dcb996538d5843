/**
 * Base OTs kept across sessions (offline.ts KeptOtStore, client/agent/base-ot-cache.ts):
 * a second session between the same nodes reuses them (no public-key base OTs), still
 * produces correct authenticated triples with different outputs, falls back to fresh base
 * OTs when one side has forgotten, and a cheat in a reusing session is still caught.
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { offlineParty, type OfflineCheat } from "../../../protocol/mascot/testing/cheating-offline.ts";
import { runOfflineInMemory } from "../../../protocol/mascot/testing/transport.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { utf8 } from "../../../protocol/encoding.ts";
import { BaseOtCache } from "../../../client/agent/base-ot-cache.ts";
import { keptTag } from "../../../protocol/mascot/offline.ts";
import { ssReceiverExtend, ssSetupMessageLength, SS_DEFAULT_K } from "../../../protocol/mascot/softspoken.ts";

const F = m61;
const NODES = ["node-a", "node-b", "node-c"];

/** One session among `order` (node ids in party order), each node with its own cache. */
function session(caches: Map<string, BaseOtCache>, order: string[], sid: string, cheat?: { who: number; cheat: OfflineCheat }) {
  const parties = order.map((id, me) => offlineParty({ field: F, parties: order.length, me, sessionId: utf8(sid), count: 6, batchSize: 6 }, seededRng(`${sid}/${id}`),
    { baseOts: caches.get(id)!.forSession(order), ...(me === cheat?.who ? { cheat: cheat.cheat } : {}) }));
  const reused: number[] = [];
  const r = runOfflineInMemory(parties);
  for (const p of parties) reused.push(p.reusedBaseOts);
  return { r, reused, setup: parties.map((p) => (p.bytesByStep["setup1"] ?? 0) + (p.bytesByStep["setup3"] ?? 0)) };
}

function checkTriples(r: ReturnType<typeof runOfflineInMemory>) {
  const alpha = r.alphas.reduce((s, a) => s + a, 0n) % F.p;
  const open = (k: "a" | "b" | "c", w: "value" | "mac") => r.triples.reduce((acc, t) => F.add(acc, t[k][w]), F.zeros(6));
  expect(F.toBigInts(open("c", "value"))).toEqual(F.toBigInts(F.mul(open("a", "value"), open("b", "value"))));
  for (const k of ["a", "b", "c"] as const) expect(F.toBigInts(open(k, "mac"))).toEqual(F.toBigInts(F.scale(open(k, "value"), alpha)));
  return F.toBigInts(open("a", "value"));
}

describe("OT-extension base OTs reused across sessions", () => {
  it("second session reuses every ordered pair, triples stay correct and fresh; a new party order maps by node id", () => {
    const caches = new Map(NODES.map((id) => [id, new BaseOtCache()]));
    const first = session(caches, NODES, "round-1");
    expect(first.reused).toEqual([0, 0, 0]);
    const a1 = checkTriples(first.r);
    const second = session(caches, NODES, "round-2");
    expect(second.reused).toEqual([2, 2, 2]); // each party reused its base with both peers
    const a2 = checkTriples(second.r);
    expect(a2).not.toEqual(a1);
    // Public-key base OTs run in one direction per pair (the lower party index is the
    // OT-extension sender): a new order keeps a→b (a is still below b) but flips c's pairs, which
    // run fresh base OTs once; from then on both orientations are kept.
    const shuffled = session(caches, [NODES[2]!, NODES[0]!, NODES[1]!], "round-3");
    expect(shuffled.reused).toEqual([0, 1, 1]);
    checkTriples(shuffled.r);
    expect(session(caches, [NODES[2]!, NODES[0]!, NODES[1]!], "round-4").reused).toEqual([2, 2, 2]);
    expect(session(caches, NODES, "round-5").reused).toEqual([2, 2, 2]);
  });

  it("a node that forgot its peers' bases gets fresh base OTs with them; the others keep reusing among themselves", () => {
    const caches = new Map(NODES.map((id) => [id, new BaseOtCache()]));
    session(caches, NODES, "round-1");
    caches.get("node-c")!.forget(["node-a", "node-b"]);
    const s = session(caches, NODES, "round-2");
    // a and b reuse with each other (1 pair each); c reuses nothing; a and b re-do theirs with c.
    expect(s.reused).toEqual([1, 1, 0]);
    checkTriples(s.r);
    expect(session(caches, NODES, "round-3").reused).toEqual([2, 2, 2]);
  });

  it("a cheat in a reusing session is still caught (SoftSpokenOT consistency check on the kept Δ, COPE check)", () => {
    const cases: Array<[OfflineCheat, string]> = [[{ kosColumns: [...Array(64).keys()] }, "ot-check-failed"], [{ copeBit: 3 }, "cope-check-failed"]];
    for (const [cheat, code] of cases) {
      const caches = new Map(NODES.map((id) => [id, new BaseOtCache()]));
      session(caches, NODES, "round-1");
      try {
        session(caches, NODES, "round-2", { who: 1, cheat });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolAbort);
        expect((e as ProtocolAbort).code).toBe(code);
      }
    }
  });

  it("a kept state continues its streams: later sessions send no GGM setup, and their triples stay correct and fresh", () => {
    const caches = new Map(NODES.map((id) => [id, new BaseOtCache()]));
    const first = session(caches, NODES, "cont-1");
    const seen = [checkTriples(first.r)];
    for (const sid of ["cont-2", "cont-3", "cont-4"]) {
      const s = session(caches, NODES, sid);
      expect(s.reused).toEqual([2, 2, 2]);
      // One public-key direction per pair (derived base OTs): the party that sends its setup
      // for it (the higher index, as OT-extension receiver) no longer sends the GGM trees (its
      // extend moves from setup3 into setup1). The derived direction's setup, carried ahead of
      // batch 0, is fresh every session.
      const saved = first.setup.map((b, me) => b - s.setup[me]!);
      expect(saved).toEqual([0, 1, 2].map((me) => me * ssSetupMessageLength(SS_DEFAULT_K)));
      const a = checkTriples(s.r);
      for (const b of seen) expect(a).not.toEqual(b);
      seen.push(a);
    }
  });

  /**
   * After one session among NODES: node-c (party 2), the OT-extension receiver towards node-a
   * (party 0), extends its kept state once more on its own, so its streams and counter move on;
   * it saves it back under the tag of its new position (`retag`) or of its old one.
   */
  function advanceKept(sid: string, retag: boolean): Map<string, BaseOtCache> {
    const caches = new Map(NODES.map((id) => [id, new BaseOtCache()]));
    session(caches, NODES, sid);
    const store = caches.get("node-c")!.forSession(NODES);
    const k = store.receiver(0)!;
    ssReceiverExtend(k.state, new Uint8Array(10), seededRng("extra"));
    store.saveReceiver(0, retag ? { ...k, tag: keptTag(k.baseTag, k.state.k, k.state.counter) } : k);
    return caches;
  }

  it("a state out of step with its peer's copy (another position) is not reused: fresh base OTs, correct triples", () => {
    const caches = advanceKept("step-1", true);
    const s = session(caches, NODES, "step-2");
    expect(s.reused).toEqual([1, 2, 1]); // the pair a–c ran fresh base OTs; a–b and b–c continued
    checkTriples(s.r);
  });

  it("a state whose streams moved on but which claims its old position is caught by the consistency check, naming its holder", () => {
    const caches = advanceKept("lie-1", false); // the old tag: node-a accepts the reuse, but the leaf streams no longer match its copy
    try {
      session(caches, NODES, "lie-2");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolAbort);
      expect((e as ProtocolAbort).code).toBe("ot-check-failed");
      expect((e as ProtocolAbort).culprits).toEqual([2]);
    }
  });

  it("a session that aborts drops the states it took; the next session runs fresh base OTs where they are gone and is correct", () => {
    const caches = new Map(NODES.map((id) => [id, new BaseOtCache()]));
    session(caches, NODES, "abort-1");
    expect(() => session(caches, NODES, "abort-2", { who: 1, cheat: { kosColumns: [...Array(64).keys()] } })).toThrow(ProtocolAbort);
    const s = session(caches, NODES, "abort-3");
    expect(s.reused.some((r) => r < 2)).toBe(true); // the aborted session's states were not handed back
    checkTriples(s.r);
    expect(session(caches, NODES, "abort-4").reused).toEqual([2, 2, 2]);
  });

  it("receiver halves prepared while idle serve a first meeting: each node's pool gives 128 per pair where it is the base-OT receiver, the triples are correct, and a cheat is still caught", async () => {
    const caches = new Map(NODES.map((id) => [id, new BaseOtCache({ preparedTarget: 256 })]));
    for (const c of caches.values()) expect(await c.prepare()).toBe(256);
    checkTriples(session(caches, NODES, "round-1").r);
    // one public-key direction per pair, the lower index as base-OT receiver: a with b and c, b with c
    expect(NODES.map((id) => caches.get(id)!.prepared)).toEqual([0, 128, 256]);
    const cheated = new Map(NODES.map((id) => [id, new BaseOtCache({ preparedTarget: 256 })]));
    for (const c of cheated.values()) await c.prepare();
    let code = "none";
    try { session(cheated, NODES, "round-x", { who: 0, cheat: { kosColumns: [1, 2, 3] } }); } catch (e) { code = e instanceof ProtocolAbort ? `${e.code}:${e.culprits.join(",")}` : String(e); }
    expect(code).toBe("ot-check-failed:0");
  });
});
