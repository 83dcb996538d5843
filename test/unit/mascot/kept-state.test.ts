/**
 * A validated secure sum between parties that met before (offline.ts KeptOtStore): each
 * pair's SoftSpokenOT state continues, and the COPE Initialize extend rides on setup1 with the
 * offer. The checks a peer meets on that path, each played by a deviating peer: a setup1 of
 * the wrong length, a tampered extend, a "reuse" of nothing offered, and an input sent before
 * the offline message that completes the recipient's side of the COPE Initialize. And a first
 * meeting: one public-key direction per pair, the other derived from it (setup4), both kept.
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { SecureSumParty, type InboundMessage, type OutboundMessage } from "../../../protocol/mascot/party.ts";
import type { KeptOtStore } from "../../../protocol/mascot/offline.ts";
import { memoryOtStore } from "../../../protocol/mascot/testing/memory-ot-store.ts";
import { runNetwork, type Envelope, type MessageParty } from "../../../protocol/mascot/testing/transport.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { utf8 } from "../../../protocol/encoding.ts";
import { plainSum } from "./helpers.ts";

const f = m61, n = 3, d = 6;
const inputs = Array.from({ length: n }, (_, me) => f.fromInts(Array.from({ length: d }, (_, k) => (k + me) % 4)));
const predicates = [{ kind: "range" as const, bits: 3 }, { kind: "l2-norm" as const, bound: 200n }];

function session(stores: KeptOtStore[], sid: string): SecureSumParty[] {
  return inputs.map((x, me) => new SecureSumParty({ field: f, parties: n, me, mode: "validated", length: d, predicates, sessionId: utf8(sid) }, x, seededRng(`${sid}/${me}`), { baseOts: stores[me]! }));
}

/** Stores filled by one clean session among all parties. */
function met(): KeptOtStore[] {
  const stores = inputs.map(() => memoryOtStore());
  const first = session(stores, "kept/first");
  expect(runNetwork(first).errors).toEqual([undefined, undefined, undefined]);
  return stores;
}

function abortOf(e: unknown): string {
  return e instanceof ProtocolAbort ? `${e.code}:${e.culprits.join(",")}` : String(e);
}

/**
 * Party `inner` as seen through a relay that delivers sender `from`'s `held` message only after
 * its `after` message, numbering messages per sender in delivery order (as a node's relay
 * session does on receipt): what a peer that sends `after` first looks like.
 */
class Reordered implements MessageParty {
  private readonly heldBack: InboundMessage[] = [];
  private seq = new Map<number, number>();
  private released = false;
  constructor(private readonly inner: SecureSumParty, private readonly from: number, private readonly held: string, private readonly after: string) {}
  get done(): boolean { return this.inner.done; }
  start(): OutboundMessage[] { return this.inner.start(); }
  receive(m: InboundMessage): OutboundMessage[] {
    if (m.from === this.from && m.phase === this.held && !this.released) { this.heldBack.push(m); return []; }
    const out = this.deliver(m);
    if (m.from === this.from && m.phase === this.after && !this.released) {
      this.released = true;
      for (const h of this.heldBack.splice(0)) out.push(...this.deliver(h));
    }
    return out;
  }
  private deliver(m: InboundMessage): OutboundMessage[] {
    const s = this.seq.get(m.from) ?? 0;
    this.seq.set(m.from, s + 1);
    return this.inner.receive({ ...m, seq: s });
  }
}

describe("validated sum between parties that met: the kept-state path's checks", () => {
  it("an honest second session is correct, with the extend in setup1 and an empty setup3", () => {
    const stores = met();
    const sizes = new Map<string, number[]>();
    const ps = session(stores, "kept/second");
    const net = runNetwork(ps, { tamper: (e: Envelope) => { if (e.phase.startsWith("offline.")) sizes.set(e.phase, [...(sizes.get(e.phase) ?? []), e.payload.length]); return e; } });
    expect(net.errors).toEqual([undefined, undefined, undefined]);
    for (const p of ps) expect(f.toBigInts(p.result!.sum)).toEqual(plainSum(f, inputs));
    expect(sizes.get("offline.setup3")!.every((b) => b === 0)).toBe(true);
    expect(sizes.get("offline.setup2")!.every((b) => b === 5)).toBe(true); // "reuse"
    expect(sizes.get("offline.setup1")!.every((b) => b > 96)).toBe(true); // A ‖ tag ‖ extend
  });

  it("a setup1 offer whose extend has the wrong length → bad-encoding naming its sender", () => {
    const stores = met();
    const net = runNetwork(session(stores, "kept/short"), {
      tamper: (e: Envelope) => (e.from === 1 && e.to === 0 && e.phase === "offline.setup1" ? { ...e, payload: e.payload.subarray(0, e.payload.length - 1) } : e),
    });
    expect(abortOf(net.errors[0])).toBe("bad-encoding:1");
  });

  it("a tampered extend on a kept state → ot-check-failed naming its sender, before any input is authenticated", () => {
    const stores = met();
    let inputSent = false;
    const net = runNetwork(session(stores, "kept/tampered"), {
      tamper: (e: Envelope) => {
        if (e.to === 0 && e.phase === "input.cope") inputSent = true;
        if (e.from !== 1 || e.to !== 0 || e.phase !== "offline.setup1") return e;
        const p = e.payload.slice();
        p[96 + 3]! ^= 1; // first byte of the correction columns after A ‖ tag
        return { ...e, payload: p };
      },
    });
    expect(abortOf(net.errors[0])).toBe("ot-check-failed:1");
    expect(inputSent && net.errors[0] === undefined).toBe(false);
  });

  it("a \"reuse\" answer to an offer that was never made → bad-encoding naming the peer", () => {
    const stores = met();
    // Party 0 forgot everything: it offers nothing, and party 1 answers "reuse" anyway.
    const fresh = [memoryOtStore(), stores[1]!, stores[2]!];
    const net = runNetwork(session(fresh, "kept/unoffered"), {
      tamper: (e: Envelope) => (e.from === 1 && e.to === 0 && e.phase === "offline.setup2" ? { ...e, payload: utf8("reuse") } : e),
    });
    expect(abortOf(net.errors[0])).toBe("bad-encoding:1");
  });

  it("an input sent before the offline message that completes the recipient's COPE Initialize with its sender → unexpected-message naming the sender, no sum opened", () => {
    const stores = met();
    const ps = session(stores, "kept/early-input");
    let sumOpened = false;
    const wrapped: MessageParty[] = [new Reordered(ps[0]!, 1, "offline.setup2", "coin.commit"), ps[1]!, ps[2]!];
    const net = runNetwork(wrapped, { tamper: (e: Envelope) => { if (e.phase === "open.sum" || e.phase === "sum.commit") sumOpened = true; return e; } });
    expect(abortOf(net.errors[0])).toBe("unexpected-message:1");
    expect(ps[0]!.done).toBe(false);
    expect(sumOpened).toBe(false);
  });

  it("a first meeting runs public-key base OTs in one direction per pair and derives the other (setup4); both are kept and continue", () => {
    const stores = inputs.map(() => memoryOtStore());
    const phi: string[] = [], setup4: string[] = [];
    const ps = session(stores, "kept/derive-1");
    const net = runNetwork(ps, {
      tamper: (e: Envelope) => {
        if (e.phase === "offline.setup2" && e.payload.length > 64) phi.push(`${e.from}->${e.to}`);
        if (e.phase === "offline.setup4" && e.payload.length > 0) setup4.push(`${e.from}->${e.to}`);
        return e;
      },
    });
    expect(net.errors).toEqual([undefined, undefined, undefined]);
    for (const p of ps) expect(f.toBigInts(p.result!.sum)).toEqual(plainSum(f, inputs));
    // The lower index answers the higher one's base-OT message (φ); its setup4 carries the derived direction.
    expect(phi.sort()).toEqual(["0->1", "0->2", "1->2"]);
    expect(setup4.sort()).toEqual(["0->1", "0->2", "1->2"]);
    const again = session(stores, "kept/derive-2");
    const sizes: number[] = [];
    expect(runNetwork(again, { tamper: (e: Envelope) => { if (e.phase === "offline.setup2") sizes.push(e.payload.length); return e; } }).errors).toEqual([undefined, undefined, undefined]);
    for (const p of again) expect(f.toBigInts(p.result!.sum)).toEqual(plainSum(f, inputs));
    expect(sizes.every((b) => b === 5)).toBe(true); // "reuse" in both directions of every pair
  });

  it("a pair where one side still holds its states and the other forgot them runs both directions fresh, correctly; the next session continues", () => {
    const stores = met();
    const forgot = [stores[0]!, stores[1]!, memoryOtStore()];
    const s2 = session(forgot, "kept/forgot");
    expect(runNetwork(s2).errors).toEqual([undefined, undefined, undefined]);
    for (const p of s2) expect(f.toBigInts(p.result!.sum)).toEqual(plainSum(f, inputs));
    const s3 = session(forgot, "kept/forgot-2");
    const sizes: number[] = [];
    expect(runNetwork(s3, { tamper: (e: Envelope) => { if (e.phase === "offline.setup2") sizes.push(e.payload.length); return e; } }).errors).toEqual([undefined, undefined, undefined]);
    expect(sizes.every((b) => b === 5)).toBe(true);
  });

  it("setup4: a derived setup where none is due, or one of the wrong length → bad-encoding naming its sender", () => {
    const extra = runNetwork(session(inputs.map(() => memoryOtStore()), "kept/setup4-extra"), {
      tamper: (e: Envelope) => (e.from === 2 && e.to === 0 && e.phase === "offline.setup4" ? { ...e, payload: new Uint8Array(40) } : e),
    });
    expect(abortOf(extra.errors[0])).toBe("bad-encoding:2");
    const short = runNetwork(session(inputs.map(() => memoryOtStore()), "kept/setup4-short"), {
      tamper: (e: Envelope) => (e.from === 0 && e.to === 2 && e.phase === "offline.setup4" ? { ...e, payload: e.payload.subarray(1) } : e),
    });
    expect(abortOf(short.errors[2])).toBe("bad-encoding:0");
  });
});
