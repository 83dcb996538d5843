/**
 * Differentially private learning (DP-FedSGD with per-example clipping; docs/dp.md "Learning
 * (DP-FedAvg)"): the job's DP parameters, the per-round ρ (the one definition the node's budget
 * (protocol/dp/cost.ts), the node's noise and the coordinator's result all use), and the noise
 * every party adds inside MASCOT, derived from the signed task alone. Pure and deterministic.
 *
 * Privacy unit and neighbouring relation: one training example (row) of one node's dataset,
 * **replace-one** (the node's row count is fixed; one row is replaced by an arbitrary row).
 * The held-out split is by row position, so under replacement each row stays in its
 * partition: a training row affects only training rounds, a held-out row only the final
 * evaluation round.
 *
 * Training round. The node samples a uniform batch of exactly B (public) of its training
 * rows, clips each per-example gradient to L2 ≤ C and inputs q = round(2^f·Σ clip(g_i)) with
 * the constant count B. Replacing one row changes Σ clip(g_i) by at most 2C in L2 (the same
 * batch positions; an unsampled row changes nothing), and the per-entry rounding by < 1 each,
 * so Δ = 2C·2^f + √d in encoded units (d = update entries + count; the count is the constant B).
 * The three evaluation entries of a training round carry constant zeros (no per-round
 * evaluation is released in a private job), so they cost no ρ; they still get unit noise
 * because MASCOT noises every opened entry.
 *
 * Final evaluation round. [Σloss, Σcorrect, count] over the held-out rows: replacing one row
 * changes them by at most MAX_ROW_LOSS, 1 and 0 (plus < 1 of rounding each, in encoded units);
 * the round's ρ is split equally over the three entries.
 *
 * Accounting. The job's total ρ (task.privacy) is split evenly over R = min(job maxRounds,
 * stopping.maxRounds) + 1 releases ({@link learningReleases}); each round's noise is
 * gaussianFor(Δ, ρ_round), so each round is ≤ ρ_round-zCDP for every honest node (its own
 * noise alone) and the job composes to ≤ total.
 */
import { z } from "zod";
import { learningAccountant } from "../dp/accountant.ts";
import type { Rational } from "../dp/discrete-gaussian.ts";
import { describePrivacy, type PrivacySpec } from "../dp/privacy.ts";

export { learningAccountant, learningReleases } from "../dp/accountant.ts";
import { epsilonOf, gaussianFor } from "../dp/zcdp.ts";
import { noiseNormBound, type NoiseConfig } from "../mascot/noise.ts";
import { pineShape } from "../mascot/validation.ts";
import { MAX_ROW_LOSS } from "./bounds.ts";

/** DP training parameters of a private learning job: per-example clip C and the fixed batch size B per node and round. */
export const LearningDp = z.strictObject({
  /** Per-example gradient clip C (L2). */
  clip: z.number({ error: "dp.clip must be a positive number" }).positive("dp.clip must be a positive number").max(1e6, "dp.clip must be at most 1e6"),
  /** Rows each node samples per round (exactly; public). A node with fewer training rows declines. */
  batchSize: z.int({ error: "dp.batchSize must be an integer" }).min(1, "dp.batchSize must be at least 1").max(1_000_000, "dp.batchSize must be at most 1e6"),
});
export type LearningDp = z.infer<typeof LearningDp>;

/** Entries of the evaluation vector (Σloss, Σcorrect, count). */
const EVAL_LEN = 3;

/** Unit noise variance for entries that do not depend on the data (they cost no ρ). */
const UNIT: Rational = { num: 1n, den: 1n };

/** What a private learning job's rounds add, for every honest node. */
export interface LearningNoisePlan {
  /** ρ of each release (round). */
  rhoRound: number;
  /** Training rounds: the noise config over the whole opened vector (update + count + 3 eval zeros). */
  training: { noise: NoiseConfig; normBound: bigint; sensitivity: number; sigma2: Rational; rho: number; sigma: number };
  /** Final evaluation round: the noise config over [Σloss, Σcorrect, count]. */
  evaluation: { noise: NoiseConfig; normBound: bigint; sensitivity: [number, number, number]; sigma: [number, number, number]; rho: number };
}

/**
 * The noise of a private job's rounds. `updateLength` = model parameters + 1 (the count),
 * `fracBits`/`evalFracBits` the encodings. σ of `training.sigma` is per node in units of the
 * summed clipped gradient; `evaluation.sigma` per node in loss units, rows, rows. Throws
 * RangeError on bad parameters.
 */
export function learningNoisePlan(p: { privacy: PrivacySpec; dp: LearningDp; stoppingMaxRounds: number; updateLength: number; fracBits: number; evalFracBits: number }): LearningNoisePlan {
  const rhoRound = learningAccountant(p.privacy, p.stoppingMaxRounds).perRelease;
  const scale = 2 ** p.fracBits;
  const sens = 2 * p.dp.clip * scale + Math.sqrt(p.updateLength);
  const g = gaussianFor(sens, rhoRound);
  const trainNoise: NoiseConfig = {
    segments: [{ start: 0, end: p.updateLength, sigma2: g.sigma2 }, { start: p.updateLength, end: p.updateLength + EVAL_LEN, sigma2: UNIT }],
  };
  const es = 2 ** p.evalFracBits;
  const evalSens: [number, number, number] = [MAX_ROW_LOSS * es + 1, es, 1];
  const parts = evalSens.map((d) => gaussianFor(d, rhoRound / EVAL_LEN));
  const evalNoise: NoiseConfig = { segments: parts.map((q, i) => ({ start: i, end: i + 1, sigma2: q.sigma2 })) };
  return {
    rhoRound,
    training: { noise: trainNoise, normBound: noiseNormBound(trainNoise), sensitivity: sens, sigma2: g.sigma2, rho: g.rho, sigma: g.sigma / scale },
    evaluation: {
      noise: evalNoise, normBound: noiseNormBound(evalNoise), sensitivity: evalSens,
      sigma: [parts[0]!.sigma / es, parts[1]!.sigma / es, parts[2]!.sigma / es], rho: parts.reduce((a, q) => a + q.rho, 0),
    },
  };
}

/**
 * Problems fitting a private job's noise into the field for `parties` (empty when it fits):
 * B < p/4, the PINE noise check over `width` entries, and parties·(entry bound + √B) < p/2.
 * `entryBound` is the largest |entry| a validated contribution can have. Pure.
 */
export function noiseFitIssues(p: bigint, parties: number, width: number, normBound: bigint, entryBound: bigint): string[] {
  const issues: string[] = [];
  if (normBound >= p / 4n) issues.push(`the noise norm bound ${normBound} does not fit the field (needs < p/4)`);
  else if (!pineShape(p, width, normBound).fits) issues.push(`the PINE noise-norm check on ${width} entries with bound ${normBound} does not fit the field`);
  let root = BigInt(Math.ceil(Math.sqrt(Number(normBound))));
  while (root * root < normBound) root++;
  if (BigInt(parties) * (entryBound + root + 1n) >= p / 2n) issues.push(`parties · (entry bound + √B) ≥ p/2: a noisy sum could wrap`);
  return issues;
}

/** What a private learning job's result states about its privacy. */
export interface LearningPrivacyStatement {
  mechanism: "dp-fedsgd/discrete-gaussian";
  unit: "example (replace-one)";
  clip: number;
  batchSize: number;
  /** ρ of the whole job (as asked) and of each release. */
  rhoTotal: number;
  rhoPerRound: number;
  releases: number;
  /** Releases made so far and the ρ they compose to; ε of that ρ at δ. */
  roundsReleased: number;
  rhoSpent: number;
  epsilonSpent: number;
  delta: number;
  /** Per-node σ of the summed clipped gradient (training rounds) and of the final evaluation sums (loss, correct, count). */
  sigmaUpdate: number;
  sigmaEvaluation: [number, number, number];
  /** Parties whose noise is in the release (each adds its own). */
  noisyParties: number;
}

/** The statement after `roundsReleased` releases. Throws RangeError when that exceeds the job's releases. */
export function privacyStatement(privacy: PrivacySpec, dp: LearningDp, stoppingMaxRounds: number, plan: LearningNoisePlan, roundsReleased: number, noisyParties: number): LearningPrivacyStatement {
  const acct = learningAccountant(privacy, stoppingMaxRounds);
  const d = describePrivacy(privacy);
  const spent = acct.spentAfter(roundsReleased);
  return {
    mechanism: "dp-fedsgd/discrete-gaussian", unit: "example (replace-one)", clip: dp.clip, batchSize: dp.batchSize,
    rhoTotal: acct.total, rhoPerRound: acct.perRelease, releases: acct.releases, roundsReleased, rhoSpent: spent,
    epsilonSpent: epsilonOf(spent, d.delta), delta: d.delta, sigmaUpdate: plan.training.sigma, sigmaEvaluation: plan.evaluation.sigma, noisyParties,
  };
}
