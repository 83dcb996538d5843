import { describe, expect, it } from "vitest";
import { campaign } from "./campaign.ts";

describe("randomised cheating campaign (fast sample; the ≥1000-run campaign is test/slow/mascot-campaign.test.ts)", () => {
  it("60 cheating runs: no undetected deviation", () => {
    const { reports, tally } = campaign(60, "fast");
    const bad = reports.filter((r) => r.outcome === "UNDETECTED");
    expect(bad).toEqual([]);
    expect(tally.abort).toBeGreaterThan(30);
  });
});
