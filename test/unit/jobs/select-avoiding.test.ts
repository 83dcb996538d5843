import { describe, expect, it } from "vitest";
import { selectAvoiding, type Candidate } from "../../../durable-objects/core/selection.ts";
import { seededRng } from "../../../protocol/rng.ts";

const now = 1_000_000;
const node = (id: string): Candidate => ({
  nodeId: id, identityKey: "k", kxKey: "k", rows: 100, commitment: "c", reliability: 0.5, lastSeen: now - 1000,
  cores: 4, memoryMb: 4096, bandwidthMbps: 100, availFrom: null, availTo: null, onBattery: false, online: true,
});
const spec = { committee: { size: 4, min: 3 }, eligibility: { minRows: 1, minCores: 0, minMemoryMb: 0, minBandwidthMbps: 0, allowOnBattery: true } };

describe("reselection after unattributed aborts", () => {
  const pool = ["a", "b", "c", "x"].map(node);
  it("never re-chooses a superset of a failed committee, and shrinks towards min", () => {
    for (let seed = 0; seed < 50; seed++) {
      const opts = { now, livenessMs: 60_000, rng: seededRng(`s${seed}`) };
      const c = selectAvoiding(pool, spec, [["a", "b", "c", "x"], ["a", "b", "x"]], opts).map((n) => n.nodeId).sort();
      expect(c).toHaveLength(3);
      expect(c.join()).not.toBe("a,b,x");
    }
  });
  it("a single cheater is avoided within k − min + 1 further attempts whatever the draws", () => {
    for (let seed = 0; seed < 30; seed++) {
      const opts = { now, livenessMs: 60_000, rng: seededRng(`t${seed}`) };
      const failed: string[][] = [["a", "b", "c", "x"]];
      let attempts = 0;
      for (;;) {
        const c = selectAvoiding(pool, spec, failed, opts).map((n) => n.nodeId);
        attempts++;
        expect(c.length).toBeGreaterThanOrEqual(3);
        if (!c.includes("x")) break;
        failed.push(c);
      }
      expect(attempts).toBeLessThanOrEqual(4 - 3 + 1 + 2);
    }
  });
  it("returns the plain selection when nothing failed, and nothing when no committee is admissible", () => {
    const opts = { now, livenessMs: 60_000, rng: seededRng("u") };
    expect(selectAvoiding(pool, spec, [], opts)).toHaveLength(4);
    expect(selectAvoiding(pool.slice(0, 3), spec, [["a", "b", "c"]], opts)).toEqual([]);
  });
});
