/**
 * Randomised cheating campaign shared by the fast sample (test/unit/mascot/campaign.test.ts)
 * and the slow campaign (test/slow/mascot-campaign.test.ts). Each run: a random committee
 * (n, mode, predicates, honest inputs satisfying them), one cheating party, and one
 * deviation on one of its messages in flight: bit flip, random bytes, truncation,
 * extension, drop, replay, reorder, equivocation (only towards one recipient), or a wrong
 * phase name. Outcome classes:
 *  - "abort":    no honest party outputs (they abort with ProtocolAbort or stall → timeout);
 *  - "harmless": honest parties that output all output the ideal result (the deviation had
 *                no effect, e.g. a COPE correction for a bit where the peer's α bit is 0,
 *                or a dropped message that left only some honest parties stalled);
 *  - "substitution": linear-only seed tampering changes the cheater's effective input —
 *                allowed by the ideal functionality; honest outputs must still agree;
 *  - "no-deviation": the chosen occurrence of the phase never happened (nothing tampered)
 *                and the honest run finished correctly;
 *  - "UNDETECTED": an honest party output something else, threw a non-protocol error, or
 *                an untampered run did not finish correctly.
 *                Must never happen.
 * Offline triples and COPE base OTs come from the test dealers (speed); the real offline
 * party and base OTs are exercised in cheating.test.ts and full-offline.test.ts.
 */
import { m61 } from "../../../protocol/field/index.ts";
import type { FieldVec } from "../../../protocol/field/types.ts";
import { SecureSumParty, type AggregationMode, type Predicate } from "../../../protocol/mascot/party.ts";
import { runNetwork, type Envelope } from "../../../protocol/mascot/testing/transport.ts";
import { randomBelow, seededRng, type Rng } from "../../../protocol/rng.ts";
import { bytesEqual } from "../../../protocol/encoding.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { SID, dealer } from "./helpers.ts";

export type Outcome = "abort" | "harmless" | "substitution" | "no-deviation" | "UNDETECTED";
export const ATTACKS = ["flip", "random", "truncate", "extend", "drop", "replay", "reorder", "equivocate", "wrong-phase"] as const;
export type Attack = (typeof ATTACKS)[number];

export interface RunReport { i: number; mode: AggregationMode; n: number; cheater: number; phase: string; attack: Attack; outcome: Outcome; codes: string[] }

const f = m61;

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[randomBelow(rng, xs.length)]!;
}

/** Phases a party sends, per configuration (what the campaign may tamper with). */
function phasesFor(mode: AggregationMode, predicates: Predicate[]): string[] {
  if (mode === "linear-only") return ["lin.seed", "lin.commit", "lin.open"];
  // (COPE comes pre-seeded from the test dealer, as from the offline party in a real run.)
  const base = ["input.seed", "input.cope", "coin.commit", "coin.open", "input.y", "maccheck.commit", "maccheck.open", "echo"];
  return predicates.length === 0 ? [...base, "open.sum"] : [...base, "open.sum", "sum.commit", "valid.open"];
}

export function campaignRun(i: number, seed: string): RunReport {
  const rng = seededRng(`campaign/${seed}/${i}`);
  const mode: AggregationMode = randomBelow(rng, 10) < 7 ? "validated" : "linear-only";
  const n = mode === "linear-only" ? pick(rng, [2, 3, 5]) : pick(rng, [2, 3]);
  const d = 2 + randomBelow(rng, 4);
  const predicates: Predicate[] = mode === "linear-only" ? [] : pick(rng, [[], [{ kind: "bits" }], [{ kind: "range", bits: 3 }]] as Predicate[][]);
  const inputs: FieldVec[] = Array.from({ length: n }, () => f.fromInts(Array.from({ length: d }, () => randomBelow(rng, predicates.length ? 2 : 1000))));
  const cheater = randomBelow(rng, n);
  const phase = pick(rng, phasesFor(mode, predicates));
  const occurrence = phase === "coin.open" || phase === "maccheck.open" || phase === "maccheck.commit" || phase === "echo" ? randomBelow(rng, 2) : 0;
  const attack = pick(rng, ATTACKS);
  const victim = pick(rng, [...Array(n).keys()].filter((j) => j !== cheater));
  const sid = SID;
  const parties = inputs.map((x, me) => new SecureSumParty(
    { field: f, parties: n, me, mode, length: d, predicates, sessionId: sid }, x, seededRng(`campaign/${seed}/${i}/party/${me}`),
    mode === "validated" ? { offline: dealer(f, n, me, `${seed}/${i}`) } : {}));

  // Occurrence counting per recipient (a broadcast is one envelope per recipient).
  const seen = new Map<number, number>();
  let held: Envelope | undefined;
  let fired = false;
  const tamper = (e: Envelope): Envelope | Envelope[] | null => {
    if (held && e.from === held.from && e.to === held.to) { const h = held; held = undefined; return [e, h]; }
    if (e.from !== cheater || e.phase !== phase) return e;
    const k = seen.get(e.to) ?? 0;
    seen.set(e.to, k + 1);
    if (k !== occurrence) return e;
    if (attack === "equivocate" && e.to !== victim) return e;
    fired = true;
    const p = e.payload.slice();
    switch (attack) {
      case "flip": case "equivocate":
        if (p.length === 0) return { ...e, payload: new Uint8Array([1]) };
        p[randomBelow(rng, p.length)]! ^= 1 << randomBelow(rng, 8);
        return { ...e, payload: p };
      case "random": return { ...e, payload: rng.bytes(Math.max(1, p.length)) };
      case "truncate": return p.length === 0 ? { ...e, payload: new Uint8Array([0]) } : { ...e, payload: p.subarray(0, randomBelow(rng, p.length)) };
      case "extend": return { ...e, payload: new Uint8Array([...p, 0]) };
      case "drop": return null;
      case "replay": return [e, { ...e }];
      case "reorder": held = e; return null;
      case "wrong-phase": return { ...e, phase: pick(rng, ["coin.open", "open.sum", "lin.open", "echo", "offline.0.kos"].filter((x) => x !== e.phase)) };
    }
  };
  const net = runNetwork(parties, { tamper, schedule: rng });
  const honest = [...Array(n).keys()].filter((j) => j !== cheater);
  const codes = honest.map((j) => (net.errors[j] instanceof ProtocolAbort ? (net.errors[j] as ProtocolAbort).code : net.errors[j] === undefined ? (parties[j]!.done ? "done" : "stalled") : `error:${String(net.errors[j])}`));
  const outputs = honest.filter((j) => parties[j]!.done).map((j) => parties[j]!.result!);
  const ideal = f.zeros(d);
  for (const x of inputs) f.addInPlace(ideal, x);
  let outcome: Outcome;
  if (codes.some((c) => c.startsWith("error:"))) outcome = "UNDETECTED"; // a non-protocol exception is a bug
  else if (outputs.length === 0) outcome = "abort";
  else {
    const agree = outputs.every((o) => bytesEqual(f.encode(o.sum), f.encode(outputs[0]!.sum)) && o.excluded.join() === outputs[0]!.excluded.join());
    const correct = outputs.every((o) => bytesEqual(f.encode(o.sum), f.encode(ideal)) && o.excluded.length === 0);
    if (correct) outcome = "harmless";
    else if (agree && mode === "linear-only" && phase === "lin.seed") outcome = "substitution";
    else outcome = "UNDETECTED";
  }
  // The chosen occurrence never happened: an honest run, which must finish correctly
  // (an abort here would be a false positive, counted as a failure too).
  if (!fired) outcome = outcome === "harmless" ? "no-deviation" : "UNDETECTED";
  return { i, mode, n, cheater, phase, attack, outcome, codes };
}

export function campaign(count: number, seed: string): { reports: RunReport[]; tally: Record<Outcome, number> } {
  const reports: RunReport[] = [];
  const tally: Record<Outcome, number> = { abort: 0, harmless: 0, substitution: 0, "no-deviation": 0, UNDETECTED: 0 };
  for (let i = 0; i < count; i++) {
    const r = campaignRun(i, seed);
    reports.push(r);
    tally[r.outcome]++;
  }
  return { reports, tally };
}
