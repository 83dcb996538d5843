/**
 * Node policy (DESIGN §1 "The node decides"): what this node agrees to take part in, checked
 * by the node itself against signatures it can verify — never on the coordinator's word.
 * A round manifest is accepted only if
 *   - the job's spec (first entry of the job's transparency log) is signed by a submitter
 *     key the policy accepts, and the manifest carries exactly that spec's mode, field,
 *     fixed-point parameters, validation predicates and task, with a committee size inside
 *     the spec's bounds;
 *   - the mode is one the policy accepts (`plaintext` never, unless the operator lists it);
 *   - the committee has at least `minCommittee` members, each on the consortium list when
 *     the policy names one (admin key pinned out of band);
 *   - the job type and dataset are accepted, the task reads only columns the policy allows,
 *     and the spec adds no validation predicate of
 *     its own unless allowed (a submitter-chosen predicate applied to one node's input opens
 *     a threshold question about its data; the node's own task-derived predicates always
 *     pass for honest data, so their pass bit reveals nothing);
 *   - the round is not a rerun of one whose output this node may already have helped open;
 *   - the dataset's query budget (distinct jobs per window) is not exhausted;
 *   - the round's privacy cost, which the node computes itself from the signed spec
 *     (protocol/dp/cost.ts), fits the dataset's privacy budget: ρ already spent in the window
 *     (its own ledger) + this round ≤ ρ_max, and a job without `privacy` (non-private, cost
 *     unbounded) is taken only when the budget allows non-private releases.
 * Otherwise {@link checkPolicy} throws {@link PolicyDeclined} with a stable code.
 */
import { z } from "zod";
import { JobSpec, Key32, type RoundManifest } from "../../protocol/api/schemas.ts";
import type { Membership } from "../../protocol/consortium.ts";
import { verifySpecSignature } from "../../protocol/jobs/signed-spec.ts";
import { taskColumns } from "../../protocol/jobs/columns.ts";
import { canonicalJson, objectHash, type LogEntry } from "../../protocol/log/index.ts";
import type { Ledger } from "./ledger.ts";
import { checkBudget, type PrivacyBudget } from "../../protocol/dp/accountant.ts";
import { privacyCost, roundCost, type PrivacyCost } from "../../protocol/dp/cost.ts";

/** Fields of a privacy budget; each absent one is inherited (dataset override → policy-wide default). */
const PrivacyBudgetFields = {
  /** ρ_max (zCDP) this dataset may spend; absent everywhere: no privacy budget for the dataset. */
  rho: z.number({ error: "rho must be a positive number" }).positive("rho must be a positive number").max(100, "rho must be at most 100").optional(),
  /** The cap holds over any window of this many days (older releases no longer count); absent: over the dataset's whole life. */
  windowDays: z.number().positive().max(36_500).optional(),
  /** Whether jobs without `privacy` (non-private, unbounded cost) are still taken on a dataset with a budget. Default false. */
  allowNonPrivate: z.boolean().optional(),
};

export const NodePolicySchema = z.strictObject({
  /** Aggregation modes this node accepts. `plaintext` reveals the raw input: only when the operator lists it. */
  modes: z.array(z.enum(["validated", "linear-only", "plaintext"])).min(1).default(["validated", "linear-only"]),
  /** Smallest committee (this node included) it takes part in. */
  minCommittee: z.number().int().min(2).max(64).default(3),
  /** Submitter Ed25519 keys (base64url) whose signed job specs it accepts. Empty: it takes part in nothing. */
  submitters: z.array(Key32).max(256).default([]),
  /** Job types it runs. */
  jobTypes: z.array(z.enum(["stats", "learning"])).min(1).default(["stats", "learning"]),
  /** Datasets (schema ids) it offers; absent: every configured source. */
  schemas: z.array(z.string().min(1)).max(64).optional(),
  /**
   * Columns a job may read, per dataset (schema id → column names; "*" = every column). A
   * dataset absent here is unrestricted. A statistics job reads its filters', measures' and
   * group-bys' columns; a learning job its features and label (protocol/jobs/columns.ts).
   */
  columns: z.record(z.string(), z.array(z.string().min(1)).max(4096)).optional(),
  /** Whether a job spec may add validation predicates of its own (beyond those the node derives from the task). */
  submitterPredicates: z.boolean().default(false),
  /** Consortium membership required of every committee member: the admin key (pinned here) and the signed list file. */
  consortium: z.strictObject({ adminKey: Key32, list: z.string().min(1) }).optional(),
  /** Query budget per dataset: at most `maxJobs` distinct jobs within `windowDays`. */
  budget: z.strictObject({ maxJobs: z.number().int().min(0).max(1_000_000).default(100), windowDays: z.number().positive().max(3650).default(30) }).default({ maxJobs: 100, windowDays: 30 }),
  /**
   * Privacy budget (zCDP ρ) per dataset: the top-level fields apply to every dataset,
   * `datasets.<schema id>` overrides them field by field. Absent: no privacy budget (every
   * release is recorded in the ledger, none is capped).
   */
  privacy: z.strictObject({ ...PrivacyBudgetFields, datasets: z.record(z.string().min(1), z.strictObject(PrivacyBudgetFields)).optional() }).optional(),
});
export type NodePolicy = z.infer<typeof NodePolicySchema>;
export type NodePolicyInput = z.input<typeof NodePolicySchema>;

/** The safe defaults (no accepted submitter: the operator must name one). */
export const DEFAULT_POLICY: NodePolicy = NodePolicySchema.parse({});

/** Stable decline codes, reported to the submitter with the node's signature. */
export type DeclineCode =
  | "unsigned-spec" | "bad-spec-signature" | "submitter-not-accepted" | "spec-mismatch" | "mode-not-accepted"
  | "committee-too-small" | "job-type-not-accepted" | "schema-not-accepted" | "submitter-predicates" | "not-a-member"
  | "output-released" | "budget-exhausted" | "column-not-accepted" | "privacy-budget";

/** A manifest outside this node's policy. */
export class PolicyDeclined extends Error {
  constructor(readonly code: DeclineCode, detail: string) {
    super(`policy: ${code}: ${detail}`);
    this.name = "PolicyDeclined";
  }
}

export interface PolicyContext {
  manifest: RoundManifest;
  /** The job's transparency log, already verified (chain, coordinator signatures, manifest entry). */
  log: readonly LogEntry[];
  /** The verified consortium list, when the policy names one. */
  membership?: Membership;
  ledger: Ledger;
  now: number;
}

/**
 * The privacy budget that applies to dataset `schemaId`: the dataset's override, each absent
 * field taken from the policy-wide default; null when neither names a ρ. Non-private releases
 * are refused unless `allowNonPrivate` is set; a budget without `windowDays` is for the
 * dataset's whole life.
 */
export function privacyBudgetFor(policy: Pick<NodePolicy, "privacy">, schemaId: string): PrivacyBudget | null {
  const p = policy.privacy;
  if (!p) return null;
  const o = p.datasets?.[schemaId] ?? {};
  const rho = o.rho ?? p.rho;
  if (rho === undefined) return null;
  return { rho, windowDays: o.windowDays ?? p.windowDays ?? null, allowNonPrivate: o.allowNonPrivate ?? p.allowNonPrivate ?? false };
}

const fmt = (x: number) => Number(x.toPrecision(4)).toString();

const MANIFEST_FIELDS = ["mode", "field", "fixedPoint", "validation", "task"] as const;

/**
 * Checks a round manifest against the node's policy and the submitter-signed spec. Returns
 * the parsed signed spec; throws PolicyDeclined naming the first check that fails. Reads the
 * ledger and, on success only, leaves it the round's admission (ρ computed from the signed
 * spec, never from the manifest), which the ledger's `join` records and re-checks against the
 * budget.
 */
export function checkPolicy(policy: NodePolicy, ctx: PolicyContext): JobSpec {
  const m = ctx.manifest;
  const no = (code: DeclineCode, detail: string): never => { throw new PolicyDeclined(code, detail); };
  const first = ctx.log[0]?.body;
  if (!first || first.kind !== "job" || first.jobId !== m.jobId) return no("spec-mismatch", "the job's log does not open with its spec");
  if (objectHash(first.spec) !== first.specHash) no("spec-mismatch", "logged spec does not match its hash");
  if (!first.submitter) no("unsigned-spec", "the job spec is not signed by a submitter");
  if (!verifySpecSignature(first.specHash, first.submitter!)) no("bad-spec-signature", "the submitter's signature does not verify over the logged spec");
  if (!policy.submitters.includes(first.submitter!.key)) no("submitter-not-accepted", `submitter ${first.submitter!.key.slice(0, 12)}… is not in this node's policy.submitters`);
  const parsed = JobSpec.safeParse(first.spec);
  if (!parsed.success) return no("spec-mismatch", "the signed spec does not parse");
  const spec = parsed.data;
  if (canonicalJson(spec) !== canonicalJson(first.spec)) no("spec-mismatch", "the signed spec is not in canonical (parsed) form");
  if (m.jobType !== spec.type) no("spec-mismatch", `manifest job type ${m.jobType}, signed spec ${spec.type}`);
  if (m.schemaId !== spec.schemaId) no("spec-mismatch", `manifest dataset ${m.schemaId}, signed spec ${spec.schemaId}`);
  for (const k of MANIFEST_FIELDS) {
    const want = k === "fixedPoint" ? { fracBits: spec.fixedPoint.fracBits, bound: spec.fixedPoint.bound } : spec[k];
    if (canonicalJson(m[k]) !== canonicalJson(want)) no("spec-mismatch", `manifest ${k} differs from the signed spec`);
  }
  const n = m.committee.length;
  if (n < spec.committee.min || n > spec.committee.size) no("spec-mismatch", `committee of ${n} outside the signed bounds [${spec.committee.min}, ${spec.committee.size}]`);
  if (!policy.modes.includes(m.mode)) no("mode-not-accepted", `mode ${m.mode} is not in policy.modes (${policy.modes.join(", ")})`);
  if (n < policy.minCommittee) no("committee-too-small", `committee of ${n}, policy.minCommittee is ${policy.minCommittee}`);
  if (!policy.jobTypes.includes(m.jobType)) no("job-type-not-accepted", `job type ${m.jobType} is not in policy.jobTypes`);
  if (policy.schemas && !policy.schemas.includes(m.schemaId)) no("schema-not-accepted", `dataset ${m.schemaId} is not in policy.schemas`);
  const allowed = policy.columns?.[m.schemaId];
  if (allowed && !allowed.includes("*")) {
    let read: string[];
    try { read = taskColumns(spec); } catch { return no("column-not-accepted", "cannot tell which columns the task reads"); }
    const outside = read.filter((c) => !allowed.includes(c));
    if (outside.length) no("column-not-accepted", `the task reads ${outside.map((c) => (c === "*" ? "every column" : c)).join(", ")}, outside policy.columns.${m.schemaId}`);
  }
  if (!policy.submitterPredicates && spec.validation.predicates.some((p) => p.kind !== "none")) {
    no("submitter-predicates", "the spec adds validation predicates of its own; policy.submitterPredicates is false");
  }
  if (policy.consortium) {
    if (!ctx.membership) no("not-a-member", "policy requires a consortium list, none is loaded");
    const outsider = m.committee.find((c) => !ctx.membership!.has(c.nodeId, c.identityKey));
    if (outsider) no("not-a-member", `committee member ${outsider.index} (${outsider.nodeId}) is not on consortium list ${ctx.membership!.name}`);
  }
  const prior = ctx.ledger.releasedAttempt(m.jobId, m.round);
  if (prior && prior.attempt !== m.attempt) {
    no("output-released", `attempt ${prior.attempt} of round ${m.round} may already have opened its output; this node never joins a rerun over a different set of inputs`);
  }
  if (!ctx.ledger.knowsJob(m.jobId)) {
    const used = ctx.ledger.jobsUsing(m.schemaId, ctx.now - policy.budget.windowDays * 86_400_000);
    if (used >= policy.budget.maxJobs) no("budget-exhausted", `dataset ${m.schemaId} already served ${used} jobs in ${policy.budget.windowDays} days (policy.budget.maxJobs ${policy.budget.maxJobs})`);
  }
  // Privacy: from the signed spec only (the manifest's task was compared with it above).
  let cost: PrivacyCost, rho: number | null;
  try {
    cost = privacyCost(spec);
    rho = roundCost(cost, m.round);
  } catch (e) {
    return no("privacy-budget", `cannot account for this round's privacy: ${(e as Error).message}`);
  }
  const budget = privacyBudgetFor(policy, m.schemaId);
  const id = { jobId: m.jobId, round: m.round, attempt: m.attempt };
  const check = (ledger: Ledger): void => {
    if (!budget) return;
    const v = checkBudget(budget, ledger.privacyCharges(m.schemaId, id), rho, ctx.now);
    if (v.ok) return;
    const window = budget.windowDays === null ? "in total" : `in the last ${budget.windowDays} days`;
    if (v.reason === "non-private") no("privacy-budget", `the signed spec has no privacy field (a non-private release) and dataset ${m.schemaId} has a privacy budget (ρ ${fmt(budget.rho)}); policy.privacy.allowNonPrivate is false`);
    no("privacy-budget", `round ${m.round + 1} would spend ρ ${fmt(rho!)} on dataset ${m.schemaId}, which has spent ρ ${fmt(v.spent)} ${window} of its ρ ${fmt(budget.rho)} (${fmt(v.remaining)} left)`);
  };
  check(ctx.ledger);
  ctx.ledger.admit({ ...id, schemaId: m.schemaId, rho, privacy: cost.kind === "private" ? cost.privacy : null, recheck: check });
  return spec;
}
