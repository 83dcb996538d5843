/**
 * Pinned transcript hashes of seeded validated runs: every broadcast (phase, sender, step,
 * bytes) feeds the echoed transcript, so an equal hash means a byte-identical protocol run.
 * A refactor of the step engine (online.ts, party.ts, offline.ts) must keep these; a
 * deliberate change of the schedule or of a message updates them (and says so in the commit).
 * Last deliberate change: a new pair's second OT-extension direction is derived from the first
 * (count = 0: its setup in setup4), so the parties draw their randomness in another order
 * (issue 13). Before: the product proof became zero-knowledge (random seed calls, its queries
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
  { name: "no predicates, real offline setup (count = 0)", predicates: [], hash: "429a36ab14e5d0bcdf7e9937d8dcb4e7ceba756094dd7d0b4ead0e64bc7fcf83" },
  { name: "bits, dealer", predicates: [{ kind: "bits" }], deps: (me) => ({ offline: dealer(f, 3, me, "pin") }), hash: "ae4c6d5a9e0a7d51b4797737c6d79d65e2393400b92ba7c3b0a7af5bbabdaa72" },
  { name: "PINE l2, real offline phase", predicates: [{ kind: "l2-norm", bound: 16n, method: "pine" }], hash: "8cc9230fbfd76b563ba725cd9a845a4cbae7361584916aab34737df95ca49709" },
  { name: "PINE l2 + noise, dealer", predicates: [{ kind: "l2-norm", bound: 16n, method: "pine" }], noise, deps: (me) => ({ offline: dealer(f, 3, me, "pin") }), hash: "4b8f6d1fa9d1d9530556b1863e7924d4bb9c64f4a75ee34f8a5da69b8b3084d4" },
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
