/**
 * What a job spends in privacy on a node's dataset, computed by the node itself from the
 * submitter-signed job spec (the first entry of the job's transparency log), never from a
 * figure the coordinator sends. The `privacy` field (protocol/dp/privacy.ts) is the whole
 * job's budget, all its releases together:
 *
 *  - statistics: `task.query.privacy`; a statistics job releases once (its first accepted
 *    round completes it), so its one release spends the whole ρ;
 *  - learning: `task.privacy` (protocol/learning/job.ts): the total is split evenly over every
 *    round the signed spec allows, by {@link JobAccountant}, so the rounds compose
 *    (zcdp.compose) to at most the total. That is min(maxRounds, task.stopping.maxRounds)
 *    training rounds plus the one evaluation-only round after the last
 *    (accountant.ts `learningReleases`, the same count the node's noise uses, protocol/learning/dp.ts).
 *
 * A job without `privacy` is non-private: its cost is unbounded (`kind: "non-private"`).
 * The figures assume the node adds the noise its own task derives from the same spec (docs/dp.md);
 * they say nothing about what other parties do. Pure.
 */
import { z } from "zod";
import type { JobSpec } from "../api/schemas.ts";
import { JobAccountant, learningReleases } from "./accountant.ts";
import { PrivacySpec, resolveRho } from "./privacy.ts";

/** The privacy cost of a job on the data of each node that takes part. */
export type PrivacyCost =
  | {
      kind: "private";
      /** What the submitter signed. */
      privacy: PrivacySpec;
      /** ρ of the whole job (all releases). */
      total: number;
      /** How many releases (rounds) the signed spec allows at most. */
      releases: number;
      /** ρ of each release; compose(releases × perRelease) ≤ total. */
      perRelease: number;
    }
  | { kind: "non-private"; releases: number };

/** The job's privacy cannot be determined from its spec (a malformed `privacy` field or task). */
export class PrivacyCostError extends Error {
  readonly code = "privacy-cost";
  constructor(detail: string) {
    super(`privacy cost: ${detail}`);
    this.name = "PrivacyCostError";
  }
}

/** The statistics engine opens exactly one aggregate per job (protocol/jobs/stats.ts: done after the first round). */
const STATS_RELEASES = 1;

const LearningRounds = z.looseObject({ stopping: z.looseObject({ maxRounds: z.int().min(1) }).optional() });

function parsePrivacy(raw: unknown, where: string): PrivacySpec | null {
  if (raw === undefined) return null;
  const r = PrivacySpec.safeParse(raw);
  if (!r.success) throw new PrivacyCostError(`${where}: ${r.error.issues[0]!.message}`);
  return r.data;
}

/**
 * The privacy cost of `spec` (a parsed, submitter-signed job spec). Throws
 * {@link PrivacyCostError} when `privacy` is present but malformed, or a private job's task
 * does not say how many releases it makes.
 */
export function privacyCost(spec: Pick<JobSpec, "type" | "task" | "maxRounds">): PrivacyCost {
  let privacy: PrivacySpec | null;
  let releases: number;
  if (spec.type === "stats") {
    const query = spec.task.query;
    if (typeof query !== "object" || query === null || Array.isArray(query)) throw new PrivacyCostError("task.query is not an object");
    privacy = parsePrivacy((query as Record<string, unknown>).privacy, "task.query.privacy");
    releases = STATS_RELEASES;
  } else {
    privacy = parsePrivacy(spec.task.privacy, "task.privacy");
    const t = LearningRounds.safeParse(spec.task);
    // A non-private job needs no count (its task's own parser reports a malformed stopping rule).
    if (!t.success && privacy) throw new PrivacyCostError(`task.stopping.maxRounds: ${t.error.issues[0]!.message}`);
    releases = learningReleases((t.success ? t.data.stopping?.maxRounds : undefined) ?? spec.maxRounds, spec.maxRounds);
  }
  if (!privacy) return { kind: "non-private", releases };
  const total = resolveRho(privacy);
  return { kind: "private", privacy, total, releases, perRelease: new JobAccountant(total, releases).perRelease };
}

/**
 * ρ that round `round` (0-based) of the job spends on the node's data: the per-release ρ, or
 * null for a non-private job (unbounded). Throws RangeError for a round beyond the releases
 * the signed spec allows (a coordinator running more rounds than signed would release more
 * than the submitter's ρ).
 */
export function roundCost(cost: PrivacyCost, round: number): number | null {
  if (!Number.isInteger(round) || round < 0) throw new RangeError(`round must be a non-negative integer, got ${round}`);
  if (cost.kind === "non-private") return null;
  if (round >= cost.releases) throw new RangeError(`round ${round + 1} is beyond the ${cost.releases} release(s) the signed spec allows`);
  return cost.perRelease;
}
