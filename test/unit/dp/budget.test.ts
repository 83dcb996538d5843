/**
 * A data holder's budget over time (protocol/dp/accountant.ts): releases compose additively
 * within the window, older ones drop out, the cap is inclusive up to float rounding, and a
 * non-private release fits only a budget that allows it.
 */
import { describe, expect, it } from "vitest";
import { checkBudget, RHO_TOLERANCE, spentSince, windowStart, type PrivacyBudget, type PrivacyCharge } from "../../../protocol/dp/accountant.ts";
import { rhoFor } from "../../../protocol/dp/zcdp.ts";

const DAY = 86_400_000;
const now = 1_000 * DAY;
const budget = (o: Partial<PrivacyBudget> = {}): PrivacyBudget => ({ rho: 1, windowDays: null, allowNonPrivate: false, ...o });

describe("a dataset's privacy budget", () => {
  it("composition across jobs: ten releases of a tenth of ρ_max fit exactly, the eleventh does not", () => {
    const charges: PrivacyCharge[] = [];
    for (let i = 0; i < 10; i++) {
      const v = checkBudget(budget(), charges, 0.1, now);
      expect(v.ok, `release ${i + 1}`).toBe(true);
      charges.push({ at: now - i * DAY, rho: 0.1 });
    }
    expect(spentSince(charges, -Infinity)).toBeGreaterThan(1 - 1e-12); // 0.1 × 10 in floating point
    const v = checkBudget(budget(), charges, 0.1, now);
    expect(v).toMatchObject({ ok: false, reason: "exceeds" });
    expect(v.remaining).toBeLessThan(1e-12);
  });

  it("the same in (ε, δ): a budget of ε = 1 at δ = 1e-6 holds four jobs of a quarter of its ρ", () => {
    const cap = rhoFor(1, 1e-6), per = cap / 4;
    const charges = [1, 2, 3].map((d) => ({ at: now - d * DAY, rho: per }));
    expect(checkBudget(budget({ rho: cap }), charges, per, now).ok).toBe(true);
    expect(checkBudget(budget({ rho: cap }), [...charges, { at: now, rho: per }], per, now).ok).toBe(false);
  });

  it("a window: releases older than windowDays no longer count; a lifetime budget never forgets", () => {
    const charges = [{ at: now - 40 * DAY, rho: 0.9 }, { at: now - 5 * DAY, rho: 0.05 }];
    expect(checkBudget(budget({ windowDays: 30 }), charges, 0.9, now)).toMatchObject({ ok: true, spent: 0.05 });
    expect(checkBudget(budget(), charges, 0.9, now)).toMatchObject({ ok: false, reason: "exceeds" });
    expect(checkBudget(budget({ windowDays: 50 }), charges, 0.9, now).ok).toBe(false);
    expect(windowStart(budget({ windowDays: 30 }), now)).toBe(now - 30 * DAY);
    expect(windowStart(budget(), now)).toBe(-Infinity);
  });

  it("non-private releases: refused unless allowed; they carry no ρ", () => {
    const charges = [{ at: now, rho: null }, { at: now, rho: 0.5 }];
    expect(checkBudget(budget(), charges, null, now)).toMatchObject({ ok: false, reason: "non-private" });
    expect(checkBudget(budget({ allowNonPrivate: true }), charges, null, now)).toMatchObject({ ok: true, spent: 0.5 });
    expect(spentSince(charges, 0)).toBe(0.5);
  });

  it("the cap is inclusive up to the stated float tolerance only", () => {
    expect(checkBudget(budget(), [{ at: now, rho: 0.7 }], 0.3, now).ok).toBe(true);
    expect(checkBudget(budget(), [{ at: now, rho: 0.7 }], 0.3 + 10 * RHO_TOLERANCE, now).ok).toBe(false);
  });

  it("refuses parameters outside the domain", () => {
    expect(() => checkBudget(budget({ rho: 0 }), [], 0.1, now)).toThrow(RangeError);
    expect(() => checkBudget(budget(), [], -0.1, now)).toThrow(RangeError);
    expect(() => checkBudget(budget(), [], Number.NaN, now)).toThrow(RangeError);
  });
});
