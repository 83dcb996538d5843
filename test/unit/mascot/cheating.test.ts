/** Malicious parties through the party API: each deviation is caught by the check meant for it. */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { offlineParty } from "../../../protocol/mascot/testing/cheating-offline.ts";
import { DIGIT_COPE_WIDTH, digitCopeSetupLength } from "../../../protocol/mascot/digit-cope.ts";
import type { Envelope } from "../../../protocol/mascot/testing/transport.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { SID, run, runWithDealer } from "./helpers.ts";

const inputs3 = [[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0]].map((x) => m61.fromInts(x));
/** input.cope = GGM setup (32·k bytes = 4·k elements) ‖ DIGITS blocks of E corrections (digit-cope.ts). */
const SETUP_ELEMENTS = digitCopeSetupLength(m61) / 8;
const DIGITS = Math.ceil(m61.bits / DIGIT_COPE_WIDTH);

function flipElement(payload: Uint8Array, index = 0): Uint8Array {
  const p = payload.slice();
  const v = m61.decode(p.subarray(8 * index, 8 * index + 8));
  m61.set(v, 0, (m61.get(v, 0) + 1n) % m61.p);
  p.set(m61.encode(v), 8 * index);
  return p;
}
const tamper = (from: number, phase: string, f: (e: Envelope) => Envelope | Envelope[] | null) =>
  (e: Envelope) => (e.from === from && e.phase === phase ? f(e) : e);
/**
 * Honest parties never output; those that stopped did so with a ProtocolAbort (the others
 * stall, i.e. they would time out). Returns the aborts (at least one).
 */
function honestErrors(parties: Array<{ done: boolean }>, errors: unknown[], cheater: number): ProtocolAbort[] {
  const out: ProtocolAbort[] = [];
  errors.forEach((e, i) => {
    if (i === cheater) return;
    expect(parties[i]!.done).toBe(false);
    if (e !== undefined) { expect(e).toBeInstanceOf(ProtocolAbort); out.push(e as ProtocolAbort); }
  });
  expect(out.length).toBeGreaterThan(0);
  return out;
}

describe("cheating parties are caught (validated mode)", () => {
  it("tampered share at opening → mac-check-failed", () => {
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(1, "open.sum", (e) => ({ ...e, payload: flipElement(e.payload, 2) })) });
    for (const e of honestErrors(parties, net.errors, 1)) expect(e.code).toBe("mac-check-failed");
  });
  it("tampered share of a validation opening (a proof query or zero check) → mac-check-failed before the sum is opened", () => {
    let sumOpened = false;
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [{ kind: "bits" }] }, {
      tamper: (e) => {
        if (e.phase === "open.sum") sumOpened = true;
        return e.from === 2 && e.phase === "valid.open" ? { ...e, payload: flipElement(e.payload, 1) } : e;
      },
    });
    for (const e of honestErrors(parties, net.errors, 2)) expect(e.code).toBe("mac-check-failed");
    expect(sumOpened).toBe(false);
  });
  it("product proof changed on the wire (the owner's view differs from the others') → mac-check-failed before the sum is opened", () => {
    let sumOpened = false;
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [{ kind: "range", bits: 2 }] }, {
      tamper: (e) => {
        if (e.phase === "open.sum") sumOpened = true;
        return e.from === 1 && e.phase === "input.mask" ? { ...e, payload: flipElement(e.payload, 0) } : e;
      },
    });
    for (const e of honestErrors(parties, net.errors, 1)) expect(e.code).toBe("mac-check-failed");
    expect(sumOpened).toBe(false);
  });
  it("MAC-key share inconsistent with the party's MAC shares → mac-check-failed", () => {
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [{ kind: "bits" }], badAlpha: 1 });
    expect(net.errors.every((e) => e instanceof ProtocolAbort && e.code === "mac-check-failed")).toBe(true);
  });
  it("wrong COPE correction on an input → caught by the Fig. 7 input check", () => {
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(0, "input.cope", (e) => {
      if (e.to !== 2) return e;
      // Shift the correction of entry 0 in every digit instance i (entry 0 of each length-E block
      // after the GGM setup, E = 5): the receiver's MAC moves by α_2 ≠ 0, which only the Fig. 7
      // check can notice.
      let p = e.payload;
      for (let i = 0; i < DIGITS; i++) p = flipElement(p, SETUP_ELEMENTS + i * 5);
      return { ...e, payload: p };
    }) });
    for (const e of honestErrors(parties, net.errors, 0)) expect(e.code).toBe("mac-check-failed");
  });
  it("digit COPE on the input, a sender deviating in one digit: caught iff the key holder's α digit is ≠ 0 (selective failure)", () => {
    // The dealer's α shares (helpers.ts dealer, seed "s"): party 2's digits of α_2.
    const alpha2 = m61.get(m61.random(3, seededRng("dealer/s")), 2);
    const digit = (i: number) => Number((alpha2 >> BigInt(DIGIT_COPE_WIDTH * i)) & BigInt((1 << DIGIT_COPE_WIDTH) - 1));
    const nonzero = [...Array(DIGITS).keys()].find((i) => digit(i) !== 0)!;
    // With a predicate the dealer supplies α and the input's COPE seeds (without one, α is drawn by the party).
    const one = (i: number) => runWithDealer({ n: 3, inputs: inputs3, predicates: [{ kind: "bits" }] }, { tamper: tamper(0, "input.cope", (e) => {
      if (e.to !== 2) return e;
      const E = (e.payload.length / 8 - SETUP_ELEMENTS) / DIGITS;
      return { ...e, payload: flipElement(e.payload, SETUP_ELEMENTS + i * E) };
    }) });
    const caught = one(nonzero);
    for (const e of honestErrors(caught.parties, caught.net.errors, 0)) expect(e.code).toBe("mac-check-failed");
    // A digit whose value is 0 multiplies the error by 0: the run passes — exactly the one bit of
    // leakage ("Δ_i = 0") the selective-failure budget charges (docs/mascot.md, "COPE").
    const zero = [...Array(DIGITS).keys()].find((i) => digit(i) === 0);
    expect(zero).toBeDefined(); // seed "s", w = 3: α_2's digits 9 and 17 are 0
    expect(one(zero!).net.errors).toEqual([undefined, undefined, undefined]);
  });
  it("digit COPE on the input: a corrupted GGM setup correction → mac-check-failed; a malformed setup → bad-encoding naming the sender", () => {
    const corrupt = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(0, "input.cope", (e) => {
      if (e.to !== 2) return e;
      const p = e.payload.slice();
      for (let b = 32 * 5; b < 32 * 6; b++) p[b]! ^= 0x81; // both halves of base OT 5's correction: whichever α bit 5 picks is wrong
      return { ...e, payload: p };
    }) });
    for (const e of honestErrors(corrupt.parties, corrupt.net.errors, 0)) expect(e.code).toBe("mac-check-failed");
    const short = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(0, "input.cope", (e) => (e.to === 2 ? { ...e, payload: e.payload.subarray(8) } : e)) });
    const err = short.net.errors[2] as ProtocolAbort;
    expect(err).toBeInstanceOf(ProtocolAbort);
    expect(err.code).toBe("bad-encoding");
    expect(err.culprits).toEqual([0]);
    expect(short.parties.some((p) => p.done)).toBe(false);
  });
  it("wrong input-check value y → mac-check-failed", () => {
    const { net, parties } = runWithDealer({ n: 2, inputs: inputs3.slice(0, 2), predicates: [] }, { tamper: tamper(1, "input.y", (e) => ({ ...e, payload: flipElement(e.payload) })) });
    for (const e of honestErrors(parties, net.errors, 1)) expect(e.code).toBe("mac-check-failed");
  });
  it("wrong coin-toss opening → commitment-mismatch naming the cheater", () => {
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(2, "coin.open", (e) => { const p = e.payload.slice(); p[40]! ^= 4; return { ...e, payload: p }; }) });
    for (const e of honestErrors(parties, net.errors, 2)) { expect(e.code).toBe("commitment-mismatch"); expect(e.culprits).toEqual([2]); }
  });
  it("wrong σ opening in the MAC check → commitment-mismatch", () => {
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(1, "maccheck.open", (e) => ({ ...e, payload: flipElement(e.payload, 4) })) });
    for (const e of honestErrors(parties, net.errors, 1)) { expect(e.code).toBe("commitment-mismatch"); expect(e.culprits).toEqual([1]); }
  });
  it("equivocating broadcast (different open.sum shares to different parties) → abort", () => {
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(1, "open.sum", (e) => (e.to === 0 ? { ...e, payload: flipElement(e.payload) } : e)) });
    expect(parties[0]!.done || parties[2]!.done).toBe(false);
    expect(net.errors[0]).toBeInstanceOf(ProtocolAbort);
  });
  it("equivocating echo → equivocation", () => {
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(2, "echo", (e) => (e.to === 0 ? { ...e, payload: new Uint8Array(32) } : e)) });
    expect((net.errors[0] as ProtocolAbort).code).toBe("equivocation");
    expect((net.errors[0] as ProtocolAbort).culprits).toEqual([2]);
  });
  it("replayed message → replay", () => {
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(1, "coin.commit", (e) => (e.to === 0 ? [e, { ...e }] : e)) });
    expect((net.errors[0] as ProtocolAbort).code).toBe("replay");
    expect((net.errors[0] as ProtocolAbort).culprits).toEqual([1]);
  });
  it("reordered messages on a channel → unexpected-message", () => {
    let held: Envelope | undefined;
    const { net, parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, {
      tamper: (e) => {
        if (e.from === 1 && e.to === 0 && e.phase === "input.seed") { held = e; return null; }
        if (held && e.from === 1 && e.to === 0 && e.phase === "input.cope") { const h = held; held = undefined; return [e, h]; }
        return e;
      },
    });
    expect((net.errors[0] as ProtocolAbort).code).toBe("unexpected-message");
  });
  it("message of the wrong phase → unexpected-message", () => {
    const { net, parties } = runWithDealer({ n: 2, inputs: inputs3.slice(0, 2), predicates: [] }, { tamper: tamper(1, "coin.open", (e) => ({ ...e, phase: "maccheck.open" })) });
    expect((net.errors[0] as ProtocolAbort).code).toBe("unexpected-message");
  });
  it("dropped message → a gap is unexpected-message; a dropped last message stalls until timeout() names the silent party", () => {
    const gap = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(1, "maccheck.open", (e) => (e.to === 0 ? null : e)) });
    expect((gap.net.errors[0] as ProtocolAbort).code).toBe("unexpected-message");
    const { parties } = runWithDealer({ n: 3, inputs: inputs3, predicates: [] }, { tamper: tamper(1, "echo", (e) => (e.to === 0 ? null : e)) }); // without predicates the one echo is party 1's last message
    expect(parties[0]!.done).toBe(false);
    expect(parties[0]!.waitingFor).toEqual([1]);
    let err: unknown;
    try { parties[0]!.timeout(); } catch (e) { err = e; }
    expect((err as ProtocolAbort).code).toBe("timeout");
    expect((err as ProtocolAbort).culprits).toEqual([1]);
    expect(parties[0]!.phase).toBe("aborted");
    expect(() => parties[2]!.timeout()).not.toThrow(); // party 2 finished: no-op
  });
  it("no predicates, real offline setup (its base OTs seed the input COPE): a corrupted base-OT or COPE Initialize message aborts, named, before any sum is opened", () => {
    // The attacker of the former cope.ot.B tamper (a peer corrupting its base-OT answer for
    // the COPE keys), now on the one base-OT path: the offline setup with count = 0.
    const codes: Record<string, string[]> = {};
    // The pair is new, so one direction runs public-key base OTs (party 0 the OT-extension
    // sender: party 1 sends A in setup1, party 0 answers φ in setup2, party 1 sends its GGM
    // trees and extend in setup3) and the other is derived from it (party 0's setup4).
    for (const [phase, from, at] of [["offline.setup1", 1, 5], ["offline.setup2", 0, 40], ["offline.setup3", 1, 40], ["offline.setup4", 0, 40]] as const) {
      let opened = false;
      const { net, parties } = run({ n: 2, inputs: inputs3.slice(0, 2), mode: "validated", predicates: [] }, {
        tamper: (e) => {
          if (e.phase === "open.sum") opened = true;
          if (e.from !== from || e.phase !== phase) return e;
          const p = e.payload.slice(); p[at]! ^= 1; return { ...e, payload: p };
        },
      });
      expect(parties.some((p) => p.done), phase).toBe(false);
      expect(opened, phase).toBe(false);
      codes[phase] = net.errors.filter((e): e is ProtocolAbort => e instanceof ProtocolAbort).map((e) => `${e.code}:${e.culprits.join(",")}`);
    }
    // A bad A_0 ‖ A_1 or a bad extension message fails the receiving sender's OT check, naming
    // the sender of that message; a bad φ (party 0 is the base-OT receiver) leaves the pair
    // with inconsistent base OTs, which party 0's own check of party 1's setup3 reports: the
    // OT check names the peer whose message failed, the pair is what it proves inconsistent.
    // A bad derived setup (setup4) fails party 1's check of it, naming party 0.
    expect(codes).toEqual({ "offline.setup1": ["ot-check-failed:1"], "offline.setup2": ["ot-check-failed:1"], "offline.setup3": ["ot-check-failed:1"], "offline.setup4": ["ot-check-failed:0"] });
  });
  // The offline phase's own cheats (OT-extension choice bits, a bad triple, the Authenticate
  // step's digit COPE) are in test/unit/mascot-offline/offline.test.ts: a validated run makes
  // no triples (its product proof needs none), so they cannot occur inside one.
});

describe("cheating parties are caught (linear-only mode)", () => {
  it("replayed lin.commit → replay; start() twice → unexpected-message", () => {
    const { net, parties } = run({ n: 3, inputs: inputs3, mode: "linear-only" }, { tamper: tamper(2, "lin.commit", (e) => (e.to === 1 ? [e, e] : e)) });
    expect((net.errors[1] as ProtocolAbort).code).toBe("replay");
    expect(() => parties[0]!.start()).toThrow(ProtocolAbort);
  });
  it("message from a non-member → unexpected-message", () => {
    const { parties } = run({ n: 2, inputs: inputs3.slice(0, 2), mode: "linear-only" });
    expect(() => parties[0]!.receive({ from: 7, phase: "lin.seed", seq: 0, payload: new Uint8Array(32) })).toThrow(ProtocolAbort);
  });
});
