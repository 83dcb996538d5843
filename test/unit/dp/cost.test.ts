/**
 * A job's privacy cost, computed from its (signed) spec alone: statistics spend the query's
 * whole ρ in their one release, learning splits the job's ρ over its signed maximum of rounds
 * (composition stays within the total), a job without `privacy` is non-private (unbounded),
 * and a malformed field is an error rather than "free".
 */
import { describe, expect, it } from "vitest";
import { JobAccountant, splitRho } from "../../../protocol/dp/accountant.ts";
import { privacyCost, PrivacyCostError, roundCost } from "../../../protocol/dp/cost.ts";
import { compose, epsilonOf, rhoFor } from "../../../protocol/dp/zcdp.ts";

const stats = (privacy?: unknown) => ({ type: "stats" as const, maxRounds: 1, task: { query: { version: 1, measures: [{ kind: "count" }], minCount: 0, ...(privacy === undefined ? {} : { privacy }) }, schema: {} } });
const learning = (privacy: unknown, maxRounds: number, stopRounds?: number) => ({
  type: "learning" as const, maxRounds,
  task: { model: {}, ...(stopRounds === undefined ? {} : { stopping: { maxRounds: stopRounds } }), ...(privacy === undefined ? {} : { privacy }) },
});

describe("privacyCost", () => {
  it("a statistics query spends its whole ρ in its one release; (ε, δ) is converted exactly", () => {
    expect(privacyCost(stats({ rho: 0.25 }))).toEqual({ kind: "private", privacy: { rho: 0.25 }, total: 0.25, releases: 1, perRelease: 0.25 });
    const c = privacyCost(stats({ epsilon: 1, delta: 1e-6 }));
    expect(c.kind).toBe("private");
    if (c.kind !== "private") return;
    expect(c.total).toBe(rhoFor(1, 1e-6));
    expect(epsilonOf(c.perRelease, 1e-6)).toBeCloseTo(1, 9);
    expect(roundCost(c, 0)).toBe(c.total);
  });

  it("no privacy field: non-private, cost unbounded (null per round)", () => {
    const c = privacyCost(stats());
    expect(c).toEqual({ kind: "non-private", releases: 1 });
    expect(roundCost(c, 0)).toBeNull();
    expect(roundCost(c, 7)).toBeNull();
  });

  it("learning: the job's ρ split over min(maxRounds, stopping.maxRounds) training rounds and the final evaluation round, which compose to at most the total", () => {
    const c = privacyCost(learning({ rho: 1 }, 20, 8));
    expect(c).toMatchObject({ kind: "private", total: 1, releases: 9 });
    if (c.kind !== "private") return;
    expect(c.perRelease).toBeCloseTo(1 / 9, 12);
    expect(compose(Array.from({ length: 9 }, (_, r) => roundCost(c, r)!))).toBeLessThanOrEqual(1);
    expect(privacyCost(learning({ rho: 1 }, 5))).toMatchObject({ releases: 6 });
    expect(privacyCost(learning(undefined, 5, 3))).toEqual({ kind: "non-private", releases: 4 });
  });

  it("a round beyond the releases the signed spec allows is refused (more rounds would spend more than signed)", () => {
    const c = privacyCost(learning({ rho: 1 }, 4)); // 4 training rounds + the final evaluation
    expect(roundCost(c, 4)).toBe(c.kind === "private" ? c.perRelease : NaN);
    expect(() => roundCost(c, 5)).toThrow(/beyond the 5 release/);
    expect(() => roundCost(privacyCost(stats({ rho: 1 })), 1)).toThrow(RangeError);
    expect(() => roundCost(c, -1)).toThrow(RangeError);
  });

  it("a malformed privacy field or task is an error, never a free job", () => {
    for (const bad of [{ rho: 0 }, { rho: -1 }, { rho: 101 }, { epsilon: 1 }, { epsilon: 1, delta: 0.5 }, { rho: 1, epsilon: 1 }, "1", null]) {
      expect(() => privacyCost(stats(bad)), JSON.stringify(bad)).toThrow(PrivacyCostError);
    }
    expect(() => privacyCost({ type: "stats", maxRounds: 1, task: { query: "q.json" } })).toThrow(/task.query/);
    expect(() => privacyCost(learning({ rho: 1 }, 4, 0))).toThrow(/stopping.maxRounds/);
    expect(privacyCost(learning(undefined, 4, 0))).toEqual({ kind: "non-private", releases: 5 }); // the task's own parser reports it
    expect(new PrivacyCostError("x").code).toBe("privacy-cost");
  });
});

describe("the multi-round accountant", () => {
  it("splitRho: k releases never compose above the total, and lose at most a few ulps", () => {
    for (const total of [1, 0.1, 0.3, rhoFor(1, 1e-6), 7.77, 1e-5]) {
      for (const k of [1, 3, 7, 10, 49, 100, 1000]) {
        const per = splitRho(total, k);
        expect(compose(Array(k).fill(per))).toBeLessThanOrEqual(total);
        expect(per * k).toBeGreaterThan(total * (1 - 1e-12));
      }
    }
    expect(() => splitRho(0, 3)).toThrow(RangeError);
    expect(() => splitRho(1, 0)).toThrow(RangeError);
    expect(() => splitRho(1, 1.5)).toThrow(RangeError);
  });

  it("JobAccountant: spent after k rounds is k·ρ_round, all rounds together the total; no round beyond the plan", () => {
    const a = new JobAccountant(rhoFor(3, 1e-6), 30);
    expect(a.spentAfter(0)).toBe(0);
    expect(a.spentAfter(10)).toBeCloseTo(a.total / 3, 12);
    expect(a.spentAfter(30)).toBeLessThanOrEqual(a.total);
    expect(epsilonOf(a.spentAfter(30), 1e-6)).toBeCloseTo(3, 6);
    expect(a.roundCost(29)).toBe(a.perRelease);
    expect(() => a.roundCost(30)).toThrow(/beyond/);
    expect(() => a.spentAfter(31)).toThrow(RangeError);
  });
});
