/**
 * A short run of the whole-core simulation (test/sim/simulator.ts: JobDO runner + RoundDO
 * referee + simulated nodes, with crashes, storage faults, outages and misbehaving nodes) in
 * the node project, with the real @noble Ed25519, so `npm test` exercises it too; the CI run
 * of ≥ 10,000 schedules is `npm run test:sim`.
 */
import { describe, expect, it } from "vitest";
import { simulate } from "../../sim/simulator.ts";

describe("whole-core simulation (short)", () => {
  it("holds every invariant over 60 seeded schedules (seeds 50000–50059, outside the CI run's default range)", async () => {
    const from = 50_000;
    for (let seed = from; seed < from + 60; seed++) {
      const r = await simulate(seed, { everyStepLog: seed < from + 10 });
      expect(r.problems, `seed ${seed} (replay: SIM_SEED=${seed} npm run test:sim)`).toEqual([]);
    }
  });
});
