/**
 * A validated secure sum between parties that met before (offline.ts KeptOtStore): each
 * pair's SoftSpokenOT state continues, and the COPE Initialize extend rides on setup1 with the
 * offer. The checks a peer meets on that path, each played by a deviating peer: a setup1 of
 * the wrong length, a tampered extend, a "reuse" of nothing offered, and an input sent before
 * the offline message that completes the recipient's side of the COPE Initialize.
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
});
