/**
 * Pinned transcript hashes of seeded validated runs: every broadcast (phase, sender, step,
 * bytes) feeds the echoed transcript, so an equal hash means a byte-identical protocol run.
 * A refactor of the step engine (online.ts, party.ts, offline.ts) must keep these; a
 * deliberate change of the schedule or of a message updates them (and says so in the commit).
 * Last deliberate change: a digit-COPE leaf element is one masked 8-byte word (a word equal to
 * p skipped) instead of a wide reduction of 16 bytes, so every COPE share changes (issue 13,
 * nineteenth session). Before: a new pair's second OT-extension direction is derived from the
 * first (count = 0: its setup in setup4), so the parties draw their randomness in another
 * order. Before that: the product proof became zero-knowledge (random seed calls, its queries
 * opened and checked in the clear: product-proof.ts), so a validated run makes no triples and
 * has no Beaver layers.
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { toHex } from "../../../protocol/encoding.ts";
import { SecureSumParty, type PartyDeps, type Predicate } from "../../../protocol/mascot/party.ts";
import type { NoiseConfig } from "../../../protocol/mascot/noise.ts";
import { runNetwork } from "../../../protocol/mascot/testing/transport.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { dealer, SID } from "./helpers.ts";

const f = m61;
const d = 6;
const noise: NoiseConfig = { segments: [{ start: 0, end: d, sigma2: { num: 4n, den: 1n } }] };
const CASES: Array<{ name: string; predicates: Predicate[]; noise?: NoiseConfig; deps?: (me: number) => PartyDeps; hash: string }> = [
  { name: "no predicates, real offline setup (count = 0)", predicates: [], hash: "cd262941205fe8e3e62746f0bb43695c8241d26e7ac3d6c0d1d2d9830943869b" },
  { name: "bits, dealer", predicates: [{ kind: "bits" }], deps: (me) => ({ offline: dealer(f, 3, me, "pin") }), hash: "2803278e743e90162d14e0655946e517226b0b1695ee99c99fbc659876159299" },
  { name: "PINE l2, real offline phase", predicates: [{ kind: "l2-norm", bound: 16n, method: "pine" }], hash: "5a2da872cc734ae2a0cce716df3eca71ce17e36da0495e72d4061ff8ebe2cddc" },
  { name: "PINE l2 + noise, dealer", predicates: [{ kind: "l2-norm", bound: 16n, method: "pine" }], noise, deps: (me) => ({ offline: dealer(f, 3, me, "pin") }), hash: "08894189752c995def65234834de299591a39178f7411651a6b38c01c9d6ec2a" },
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
