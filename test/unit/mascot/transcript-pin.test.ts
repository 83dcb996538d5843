/**
 * Pinned transcript hashes of seeded validated runs: every broadcast (phase, sender, step,
 * bytes) feeds the echoed transcript, so an equal hash means a byte-identical protocol run.
 * A refactor of the step engine (online.ts, party.ts, offline.ts) must keep these; a
 * deliberate change of the schedule or of a message updates them (and says so in the commit).
 * Last deliberate change: issue 13's merged schedule (no empty cope.ot rounds, input beside
 * the offline batch, committed sum opening).
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { toHex } from "../../../protocol/encoding.ts";
import { SecureSumParty, type PartyDeps, type Predicate } from "../../../protocol/mascot/party.ts";
import type { NoiseConfig } from "../../../protocol/mascot/noise.ts";
import { runNetwork } from "../../../protocol/mascot/transport.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { dealer, SID } from "./helpers.ts";

const f = m61;
const d = 6;
const noise: NoiseConfig = { segments: [{ start: 0, end: d, sigma2: { num: 4n, den: 1n } }] };
const CASES: Array<{ name: string; predicates: Predicate[]; noise?: NoiseConfig; deps?: (me: number) => PartyDeps; hash: string }> = [
  { name: "no predicates, real base OTs", predicates: [], hash: "679864e0e235b1c0a7563338d62439472769f809f51a88d15f01a66ed18a4063" },
  { name: "bits, dealer", predicates: [{ kind: "bits" }], deps: (me) => ({ offline: dealer(f, 3, me, "pin", { cope: true }) }), hash: "66c037ac0150fd9bc938b09fa97932d70bfa92fa188ad62013b6d3ecdef3451f" },
  { name: "PINE l2, real offline phase", predicates: [{ kind: "l2-norm", bound: 16n, method: "pine" }], hash: "9e675e38e8617813bce40c25c809273795dd823f9bff70fc19eaf6ae46887411" },
  { name: "PINE l2 + noise, dealer", predicates: [{ kind: "l2-norm", bound: 16n, method: "pine" }], noise, deps: (me) => ({ offline: dealer(f, 3, me, "pin", { cope: true }) }), hash: "deedb5a1ea122d27c25045857a27fe2fc43310f1d4868424a6e152445a7eb706" },
];

describe("pinned transcripts of seeded runs", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const ps = [0, 1, 2].map((me) => new SecureSumParty(
        { field: f, parties: 3, me, mode: "validated", length: d, predicates: c.predicates, sessionId: SID, ...(c.noise ? { noise: c.noise } : {}) },
        f.fromInts(Array.from({ length: d }, (_, k) => (k + me) % 2)), seededRng(`pin/${me}`), c.deps?.(me) ?? {}));
      const net = runNetwork(ps);
      expect(net.errors).toEqual([undefined, undefined, undefined]);
      const hashes = ps.map((p) => toHex(p.result!.transcriptHash));
      expect(new Set(hashes).size).toBe(1);
      expect(hashes[0]).toBe(c.hash);
    });
  }
});
