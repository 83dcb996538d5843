/**
 * Privacy accounting over time, in zCDP ρ (composition is additive: protocol/dp/zcdp.ts):
 *  - a multi-round job's accountant: a job's total ρ split over its releases (one per round),
 *    so that the rounds compose to no more than the total the submitter signed;
 *  - a data holder's budget for one dataset: ρ_max, optionally per sliding window of w days,
 *    checked against the charges already spent (its own ledger) before each new release.
 * Pure; every function throws RangeError for parameters outside its domain.
 */
import { compose } from "./zcdp.ts";
import { resolveRho, type PrivacySpec } from "./privacy.ts";

/**
 * Relative slack allowed when comparing composed ρ with a cap (1e-9): Σρ in floating point can
 * exceed the exact sum by a few ulps (0.1 + 0.2 > 0.3), and ten releases of a tenth of a budget
 * must fit it. 1e-9 of ρ_max is far below any meaningful privacy difference.
 */
export const RHO_TOLERANCE = 1e-9;

function positiveFinite(x: number, what: string): void {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`${what} must be a positive finite number, got ${x}`);
}

function releasesCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`releases must be a positive integer, got ${n}`);
}

/**
 * The ρ of each of `releases` equal releases whose composition is at most `total`: total/releases,
 * nudged down by ulps until compose() of them does not exceed `total` in floating point.
 */
export function splitRho(total: number, releases: number): number {
  positiveFinite(total, "total ρ");
  releasesCount(releases);
  let per = total / releases;
  while (per > 0 && compose(new Array<number>(releases).fill(per)) > total) per = Math.max(0, per - Math.max(Number.MIN_VALUE, per * Number.EPSILON));
  return per;
}

/**
 * The accountant of one multi-round job (DP-FedAvg, or any job releasing once per round):
 * `total` ρ over at most `releases` rounds, each round spending `perRelease`. Rounds compose
 * additively, so after k rounds the job has spent compose(k × perRelease) ≤ total.
 */
export class JobAccountant {
  /** ρ each release (round) spends. */
  readonly perRelease: number;

  /** Throws RangeError for a non-positive total or a release count that is not a positive integer. */
  constructor(readonly total: number, readonly releases: number) {
    this.perRelease = splitRho(total, releases);
  }

  /** ρ spent by the job once `rounds` releases happened (0 ≤ rounds ≤ releases). Throws RangeError outside. */
  spentAfter(rounds: number): number {
    if (!Number.isInteger(rounds) || rounds < 0 || rounds > this.releases) throw new RangeError(`rounds must be an integer in [0, ${this.releases}], got ${rounds}`);
    return compose(new Array<number>(rounds).fill(this.perRelease));
  }

  /** ρ of round `round` (0-based), or RangeError when the job's signed plan has no such release. */
  roundCost(round: number): number {
    if (!Number.isInteger(round) || round < 0) throw new RangeError(`round must be a non-negative integer, got ${round}`);
    if (round >= this.releases) throw new RangeError(`round ${round + 1} is beyond the job's ${this.releases} release(s)`);
    return this.perRelease;
  }
}

/**
 * How many releases a private learning job makes at most: min(jobMaxRounds, stoppingMaxRounds)
 * training rounds plus the final evaluation round. `jobMaxRounds` defaults to stoppingMaxRounds
 * (the coordinator refuses stopping.maxRounds > maxRounds, so for every job it runs they agree;
 * a node charging with the smaller value charges at least the ρ its noise spends). Throws
 * RangeError for a count that is not a positive integer.
 */
export function learningReleases(stoppingMaxRounds: number, jobMaxRounds: number = stoppingMaxRounds): number {
  for (const [v, w] of [[stoppingMaxRounds, "stopping.maxRounds"], [jobMaxRounds, "maxRounds"]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${w} must be a positive integer, got ${v}`);
  }
  return Math.min(stoppingMaxRounds, jobMaxRounds) + 1;
}

/** A private learning job's accountant (protocol/learning/dp.ts): total ρ of `privacy` over {@link learningReleases} releases. Throws RangeError as JobAccountant. */
export function learningAccountant(privacy: PrivacySpec, stoppingMaxRounds: number, jobMaxRounds?: number): JobAccountant {
  return new JobAccountant(resolveRho(privacy), learningReleases(stoppingMaxRounds, jobMaxRounds));
}

/** A data holder's cap on one dataset: ρ_max per window of `windowDays` (null: over the dataset's whole life). */
export interface PrivacyBudget {
  rho: number;
  windowDays: number | null;
  /** Whether releases without differential privacy are accepted on this dataset (they are not counted in ρ). */
  allowNonPrivate: boolean;
}

/** One release already charged to a dataset: when, and its ρ (null: a non-private release). */
export interface PrivacyCharge {
  at: number;
  rho: number | null;
}

/** Start (Unix ms) of the budget's window ending at `now`; -Infinity for a lifetime budget. */
export function windowStart(budget: Pick<PrivacyBudget, "windowDays">, now: number): number {
  return budget.windowDays === null ? Number.NEGATIVE_INFINITY : now - budget.windowDays * 86_400_000;
}

/** ρ composed over the private charges made at or after `since` (non-private charges carry no ρ). */
export function spentSince(charges: readonly PrivacyCharge[], since: number): number {
  return compose(charges.filter((c) => c.at >= since && c.rho !== null).map((c) => c.rho!));
}

/** The outcome of checking one more release against a budget. */
export type BudgetVerdict =
  | { ok: true; spent: number; remaining: number }
  | { ok: false; reason: "non-private" | "exceeds"; spent: number; remaining: number };

/**
 * Whether a release of `rho` (null: non-private) fits `budget`, given the charges already made:
 * spent-in-window + rho ≤ ρ_max (with {@link RHO_TOLERANCE}); a non-private release fits only
 * when the budget allows them. `spent`/`remaining` are before the new release.
 */
export function checkBudget(budget: PrivacyBudget, charges: readonly PrivacyCharge[], rho: number | null, now: number): BudgetVerdict {
  positiveFinite(budget.rho, "budget ρ");
  if (rho !== null && (!(rho >= 0) || !Number.isFinite(rho))) throw new RangeError(`ρ must be a non-negative finite number, got ${rho}`);
  const spent = spentSince(charges, windowStart(budget, now));
  const remaining = Math.max(0, budget.rho - spent);
  if (rho === null) return budget.allowNonPrivate ? { ok: true, spent, remaining } : { ok: false, reason: "non-private", spent, remaining };
  return spent + rho <= budget.rho * (1 + RHO_TOLERANCE) ? { ok: true, spent, remaining } : { ok: false, reason: "exceeds", spent, remaining };
}
