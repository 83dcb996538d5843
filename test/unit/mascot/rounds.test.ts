/**
 * Relay round trips of a secure sum (testing/transport.ts `rounds`: a message's round is 1 + the
 * largest round its sender had received, so `rounds` is the sequential depth a relay must
 * carry). Pinned per configuration so that the schedule cannot silently grow; the schedule
 * and the argument for every merged step are in online.ts's header and docs/mascot.md.
 * Before issue 13's merges: 8 / 28 / 30 / 30 / 16 (same order as CASES; linear-only 3); with
 * the merges and Beaver-checked product proofs 9 / 21 / 21 / 22 / 13; the zero-knowledge
 * product proof (no triples, so no offline batch, and no Beaver layers) gives 9 / 14 / 16 / 17 / 11;
 * one public-key direction per new pair (the other derived, its setup in setup4) adds one at a
 * first meeting: 10 / 15 / 17 / 18; between parties that met before (kept SoftSpokenOT states:
 * the COPE Initialize extend rides on setup1) 7 / 12 / 14 / 15.
 * Also here: the coin order of the merged schedule (every coin opened by a party only after
 * it has received every message the coin covers from every peer) and the committed sum
 * opening (negative test).
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import type { FieldVec } from "../../../protocol/field/types.ts";
import { SecureSumParty, type AggregationMode, type InboundMessage, type OutboundMessage, type PartyDeps, type Predicate } from "../../../protocol/mascot/party.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { OfflineParty } from "../../../protocol/mascot/offline.ts";
import type { NoiseConfig } from "../../../protocol/mascot/noise.ts";
import { runNetwork, type MessageParty } from "../../../protocol/mascot/testing/transport.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { dealer, SID } from "./helpers.ts";
import { memoryOtStore } from "../../../protocol/mascot/testing/memory-ot-store.ts";
import type { KeptOtStore } from "../../../protocol/mascot/offline.ts";

const f = m61;

interface Case { name: string; n: number; mode: AggregationMode; predicates: Predicate[]; noise?: NoiseConfig; deps?: (me: number) => PartyDeps; rounds: number }

const d = 8;
const B = 64n;
const CASES: Case[] = [
  { name: "linear-only", n: 3, mode: "linear-only", predicates: [], rounds: 3 },
  { name: "validated, no predicates (offline setup alone: count = 0)", n: 3, mode: "validated", predicates: [], rounds: 10 },
  { name: "validated, range + l2 (offline prelude)", n: 3, mode: "validated", predicates: [{ kind: "range", bits: 4 }, { kind: "l2-norm", bound: B }], rounds: 15 },
  { name: "validated, PINE l2 (offline prelude; default learning round)", n: 3, mode: "validated", predicates: [{ kind: "l2-norm", bound: B, method: "pine" }], rounds: 17 },
  { name: "validated, PINE l2 + noise (offline prelude)", n: 3, mode: "validated", predicates: [{ kind: "l2-norm", bound: B, method: "pine" }], noise: { segments: [{ start: 0, end: d, sigma2: { num: 4n, den: 1n } }] }, rounds: 18 },
  { name: "validated, bits, dealer α and COPE (online phase alone)", n: 3, mode: "validated", predicates: [{ kind: "bits" }], deps: (me) => ({ offline: dealer(f, 3, me, "r") }), rounds: 11 },
];

/** What each coin covers: phases and how many messages of each from every peer must have arrived first. */
type Cover = Record<string, number>;
const COINS: Record<string, Cover[]> = {
  "validated, no predicates (offline setup alone: count = 0)": [
    { "input.seed": 1, "input.cope": 1 }, // A: Fig. 7 check coefficients
    { "input.y": 1, "open.sum": 1 }, // final: MAC check of y and the sum
  ],
  "validated, range + l2 (offline prelude)": [
    { "input.seed": 1, "input.cope": 1 }, // A: check coefficients and γ (no coin-A-dependent late input)
    { "input.y": 1, "input.mask": 1 }, // C: proof challenges, after every proof H
    { "valid.open": 1 }, // B: MAC check of every validation opening (proof queries and zero checks)
    { "sum.commit": 1 }, // final: covers the committed sum shares
  ],
  "validated, PINE l2 (offline prelude; default learning round)": [
    { "input.seed": 1, "input.cope": 1 }, // A: check coefficients, PINE vectors z_k
    { "input.y": 1, "input.mask": 1 }, // G: γ, after the PINE success and window bits
    { "input.mask": 2 }, // C: after every proof H
    { "valid.open": 1 }, // B
    { "sum.commit": 1 }, // final
  ],
  "validated, PINE l2 + noise (offline prelude)": [
    { "input.seed": 1, "input.cope": 1 }, // A
    { "input.y": 1, "input.mask": 1 }, // G
    { "input.mask": 2 }, // C
    { "valid.open": 1 }, // B
    { "valid.open": 1, "maccheck.commit": 1 }, // S: signs, after the exclusion decision and every σ commitment
    { "open.sum": 1 }, // final
  ],
};

/** Records, per party, every message received and every message sent, in order. */
class Logged implements MessageParty {
  log: Array<{ dir: "in"; m: InboundMessage } | { dir: "out"; m: OutboundMessage }> = [];
  constructor(readonly p: SecureSumParty) {}
  get done(): boolean { return this.p.done; }
  start(): OutboundMessage[] { const o = this.p.start(); for (const m of o) this.log.push({ dir: "out", m }); return o; }
  receive(m: InboundMessage): OutboundMessage[] { this.log.push({ dir: "in", m }); const o = this.p.receive(m); for (const x of o) this.log.push({ dir: "out", m: x }); return o; }
  /** Messages of `phase` received from `from` before log position `at`. */
  received(phase: string, from: number, at: number): number {
    return this.log.slice(0, at).filter((e) => e.dir === "in" && e.m.phase === phase && e.m.from === from).length;
  }
}

function parties(c: Case, stores?: KeptOtStore[], sid = SID): SecureSumParty[] {
  return Array.from({ length: c.n }, (_, me) => new SecureSumParty(
    { field: f, parties: c.n, me, mode: c.mode, length: d, predicates: c.predicates, sessionId: sid, ...(c.noise ? { noise: c.noise } : {}) },
    inputFor(c, me), seededRng(`rounds/${me}`), c.deps?.(me) ?? (stores ? { baseOts: stores[me]! } : {})));
}

/**
 * Parties of a second session among parties that met before: a first session filled their
 * stores with kept SoftSpokenOT states, so setup1 carries each COPE Initialize extend and the
 * input goes out one message round after the start instead of three (docs/mascot.md).
 */
function partiesThatMet(c: Case): SecureSumParty[] {
  const stores = Array.from({ length: c.n }, () => memoryOtStore());
  const first = parties(c, stores, new TextEncoder().encode("rounds/first"));
  expect(runNetwork(first).errors).toEqual(new Array(c.n).fill(undefined));
  return parties(c, stores);
}

/** Steady state (parties that met): three rounds fewer than the first meeting, for every validated case with the real offline phase. */
const MET_ROUNDS: Record<string, number> = {
  "validated, no predicates (offline setup alone: count = 0)": 7,
  "validated, range + l2 (offline prelude)": 12,
  "validated, PINE l2 (offline prelude; default learning round)": 14,
  "validated, PINE l2 + noise (offline prelude)": 15,
};

function inputFor(c: Case, me: number): FieldVec {
  return f.fromInts(Array.from({ length: d }, (_, k) => (c.predicates.some((p) => p.kind === "bits") ? (k + me) % 2 : (k + me) % 3)));
}

describe("relay round trips per configuration", () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.rounds} rounds`, () => {
      const ps = parties(c);
      const net = runNetwork(ps);
      expect(net.errors).toEqual(new Array(c.n).fill(undefined));
      expect(ps.every((p) => p.done)).toBe(true);
      expect(net.rounds).toBe(c.rounds);
    });
  }
});

describe("relay round trips between parties that met (kept SoftSpokenOT states)", () => {
  for (const c of CASES.filter((x) => MET_ROUNDS[x.name] !== undefined)) {
    it(`${c.name}: ${MET_ROUNDS[c.name]} rounds`, () => {
      const ps = partiesThatMet(c);
      const net = runNetwork(ps);
      expect(net.errors).toEqual(new Array(c.n).fill(undefined));
      expect(ps.every((p) => p.done)).toBe(true);
      expect(net.rounds).toBe(MET_ROUNDS[c.name]);
    });
  }
});

describe("the merged schedule keeps every coin after what it covers", () => {
  for (const [c, met] of CASES.filter((x) => COINS[x.name]).flatMap((x) => [[x, false], [x, true]] as const)) {
    it(`${c.name}${met ? ", parties that met" : ""}: each party opens each coin only after receiving every covered message from every peer`, () => {
      const ps = (met ? partiesThatMet(c) : parties(c)).map((p) => new Logged(p));
      // A random (per-channel FIFO) interleaving: a party may run ahead of the others.
      const net = runNetwork(ps, { schedule: seededRng(`rounds/schedule/${c.name}`) });
      expect(net.errors).toEqual(new Array(c.n).fill(undefined));
      const covers = COINS[c.name]!;
      for (const [me, lp] of ps.entries()) {
        const opens = lp.log.map((e, i) => ({ e, i })).filter(({ e }) => e.dir === "out" && e.m.phase === "coin.open");
        expect(opens.length).toBe(covers.length);
        opens.forEach(({ i }, k) => {
          for (const [phase, count] of Object.entries(covers[k]!)) {
            for (let j = 0; j < c.n; j++) if (j !== me) expect(lp.received(phase, j, i), `party ${me} coin ${k}: ${phase} from ${j}`).toBeGreaterThanOrEqual(count);
          }
        });
        // The validation openings only after every peer's offline setup (its OT-extension checks) was taken:
        // setup3 and setup4 with fresh base OTs, setup1 (which carries the extend) with a kept state.
        const firstValid = lp.log.findIndex((e) => e.dir === "out" && e.m.phase === "valid.open");
        const setup = met ? ["offline.setup1"] : ["offline.setup3", "offline.setup4"]; // setup4: the derived directions' setup
        if (firstValid >= 0 && c.deps === undefined) for (let j = 0; j < c.n; j++) if (j !== me) for (const ph of setup) expect(lp.received(ph, j, firstValid)).toBe(1);
        // The sum is opened only after the validation openings' MAC check (σ openings and echoes of every peer).
        const sum = lp.log.findIndex((e) => e.dir === "out" && e.m.phase === "open.sum");
        if (c.predicates.length) for (let j = 0; j < c.n; j++) if (j !== me) expect(lp.received("maccheck.open", j, sum)).toBe(1);
      }
    });
  }
});

describe("committed sum opening (with predicates, without noise)", () => {
  const c = CASES.find((x) => x.deps !== undefined)!;
  it("the sum share is committed before the final coin and opened after the first MAC check", () => {
    const ps = parties(c);
    const net = runNetwork(ps);
    expect(net.errors).toEqual([undefined, undefined, undefined]);
    const r = net.phaseRounds;
    expect(r["sum.commit"]![1]).toBeLessThan(r["open.sum"]![0]);
    expect(r["sum.commit"]![1]).toBeLessThan(r["maccheck.commit"]![0]);
  });
  it("an opening that does not match its commitment → commitment-mismatch naming the sender, no result", () => {
    const ps = parties(c);
    const net = runNetwork(ps, {
      tamper: (e) => {
        if (e.from !== 1 || e.phase !== "open.sum") return e;
        const p = e.payload.slice();
        p[p.length - 8]! ^= 1; // a canonical but different last element
        return { ...e, payload: p };
      },
    });
    for (const j of [0, 2]) {
      expect(ps[j]!.done).toBe(false);
      expect((net.errors[j] as ProtocolAbort).code).toBe("commitment-mismatch");
      expect((net.errors[j] as ProtocolAbort).culprits).toEqual([1]);
    }
  });
  it("a malformed opening or commitment → bad-encoding naming the sender", () => {
    for (const phase of ["open.sum", "sum.commit"]) {
      const ps = parties(c);
      const net = runNetwork(ps, { tamper: (e) => (e.from === 2 && e.phase === phase ? { ...e, payload: e.payload.subarray(1) } : e) });
      expect((net.errors[0] as ProtocolAbort).code).toBe("bad-encoding");
      expect((net.errors[0] as ProtocolAbort).culprits).toEqual([2]);
    }
  });
});

describe("offline prelude overlapped with the online input", () => {
  const rangeCase = CASES.find((x) => x.name.startsWith("validated, range"))!;
  it("OfflineParty.inputReady turns true (and inputCopeSeeds works) before the triples exist", () => {
    const sid = SID;
    const ps = [0, 1, 2].map((me) => new OfflineParty({ field: f, parties: 3, me, sessionId: sid, count: 4 }, seededRng(`ready/${me}`)));
    expect(() => ps[0]!.inputCopeSeeds()).toThrow(/not finished/);
    const queue: Array<{ to: number; m: InboundMessage }> = [];
    const seq = [0, 1, 2].map(() => [0, 0, 0]);
    const post = (from: number, outs: OutboundMessage[]) => {
      for (const o of outs) for (const to of o.to === "all" ? [0, 1, 2].filter((j) => j !== from) : [o.to]) queue.push({ to, m: { from, phase: o.phase, seq: seq[from]![to]!++, payload: o.payload } });
    };
    ps.forEach((p, i) => post(i, p.start()));
    const readyBeforeDone: boolean[] = [false, false, false];
    while (queue.length) {
      const { to, m } = queue.shift()!;
      post(to, ps[to]!.receive(m));
      ps.forEach((p, i) => {
        if (p.inputReady() && !p.done && !readyBeforeDone[i]) {
          readyBeforeDone[i] = true;
          const seeds = p.inputCopeSeeds();
          for (const j of [0, 1, 2].filter((x) => x !== i)) { expect(seeds.sender(j).k0.length).toBe(f.bits); expect(seeds.receiver(j).kDelta.length).toBe(f.bits); }
          expect(() => p.triples()).toThrow(/not finished/);
        }
      });
    }
    expect(ps.every((p) => p.done)).toBe(true);
    expect(readyBeforeDone).toEqual([true, true, true]);
  });
  it("a peer silent in the offline phase is named by waitingFor and timeout() while the online input waits on nothing", () => {
    const ps = parties(rangeCase);
    // party 2 goes silent towards party 0 from its last offline message on (a dropped message
    // followed by another on the same channel would be a seq gap instead)
    let silent = false;
    const net = runNetwork(ps, { tamper: (e) => { if (e.from === 2 && e.to === 0 && e.phase === "offline.setup3") silent = true; return silent && e.from === 2 && e.to === 0 ? null : e; } });
    expect(ps[0]!.done).toBe(false);
    expect(net.errors[0]).toBeUndefined();
    expect(ps[0]!.waitingFor).toEqual([2]);
    let err: unknown;
    try { ps[0]!.timeout(); } catch (e) { err = e; }
    expect((err as ProtocolAbort).code).toBe("timeout");
    expect((err as ProtocolAbort).culprits).toEqual([2]);
  });
  it("an offline message after the offline phase, or to a party without one, is unexpected-message", () => {
    const dealt = parties(CASES.find((x) => x.deps !== undefined)!); // the dealer's offline source is done at once
    dealt[0]!.start();
    expect(() => dealt[0]!.receive({ from: 1, phase: "offline.0.kos", seq: 0, payload: new Uint8Array(0) })).toThrow(/unexpected-message.*after the offline phase/);
    const none = parties(CASES.find((x) => x.mode === "linear-only")!); // every validated run has one (count = 0 without predicates)
    none[0]!.start();
    expect(() => none[0]!.receive({ from: 1, phase: "offline.setup1", seq: 0, payload: new Uint8Array(0) })).toThrow(/unexpected-message.*no offline phase/);
  });
});
