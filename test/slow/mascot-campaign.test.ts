/** `npm run test:slow`: ≥ 1000 randomised cheating runs must show 0 undetected deviations. */
import { describe, expect, it } from "vitest";
import { campaign } from "../unit/mascot/campaign.ts";

describe("MASCOT cheating campaign", () => {
  it("1200 cheating runs, 0 undetected deviations", () => {
    const t0 = Date.now();
    const { reports, tally } = campaign(1200, "slow");
    const byAttack: Record<string, Record<string, number>> = {};
    for (const r of reports) { (byAttack[r.attack] ??= {})[r.outcome] = ((byAttack[r.attack] ??= {})[r.outcome] ?? 0) + 1; }
    console.log(JSON.stringify({ runs: reports.length, tally, byAttack, seconds: (Date.now() - t0) / 1000 }));
    expect(reports.filter((r) => r.outcome === "UNDETECTED")).toEqual([]);
    expect(reports.length).toBeGreaterThanOrEqual(1000);
  });
});
