/**
 * `2pm node budget [--dir .2pm] [--json] [--delta 1e-6]`: the node's privacy budget per
 * dataset, from its own ledger (never the coordinator's): ρ spent in the policy's window, the
 * cap and what remains, the same as ε at δ (Bun–Steinke conversion), the non-private releases,
 * and every job with the ρ each of its round attempts spent. The ledger is audited on load
 * (hash chain, head and every entry signature under this node's key when signed); a tampered
 * ledger is an error, not an empty budget.
 */
import path from "node:path";
import { Ledger, type LedgerSnapshot } from "../agent/ledger.ts";
import { FileKeyStore } from "../agent/node-key-store.ts";
import { privacyBudgetFor, type NodePolicy } from "../agent/policy.ts";
import { spentSince, windowStart, type PrivacyBudget } from "../../protocol/dp/accountant.ts";
import { resolveRho, type PrivacySpec } from "../../protocol/dp/privacy.ts";
import { epsilonOf } from "../../protocol/dp/zcdp.ts";
import { toBase64Url } from "../../protocol/encoding.ts";
import { parse } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";
import { fileLedgerStore, readNodeConfig } from "./node-start.ts";

/** ρ with the (ε, δ) it implies. */
export interface RhoEps { rho: number; epsilon: number }

/** One dataset's budget as `--json` prints it. */
export interface DatasetBudgetReport {
  schemaId: string;
  /** The policy's budget for the dataset, or null (uncapped: releases are recorded, not limited). */
  budget: PrivacyBudget | null;
  /** Composed over the private releases counted in the window (lifetime when the budget has none, or there is no budget). */
  spent: RhoEps;
  cap: RhoEps | null;
  remaining: RhoEps | null;
  privateReleases: number;
  nonPrivateReleases: number;
}

/** One job as `--json` prints it. */
export interface JobBudgetReport {
  jobId: string;
  schemaId: string;
  firstAt: number;
  /** The job's signed privacy field, null for a non-private job. */
  privacy: PrivacySpec | null;
  /** ρ of the whole job as signed (null: non-private). */
  jobRho: number | null;
  /** ρ its counted attempts spent on this node's dataset. */
  spentRho: number;
  attempts: Array<{ round: number; attempt: number; at: number; rho: number | null; released: boolean | "unknown"; counted: boolean }>;
}

export interface BudgetReport {
  now: number;
  delta: number;
  ledger: { signedBy: string | null; signedByThisNode: boolean; entries: number; head: string };
  datasets: DatasetBudgetReport[];
  jobs: JobBudgetReport[];
}

/**
 * Builds the budget report from a verified ledger snapshot and the node's policy. Pure.
 * Throws RangeError for δ outside (0, 1).
 */
export function budgetReport(snap: LedgerSnapshot, policy: Pick<NodePolicy, "privacy" | "schemas">, now: number, delta: number, nodeKey: string | null): BudgetReport {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`δ must be in (0, 1), got ${delta}`);
  const at = (rho: number): RhoEps => ({ rho, epsilon: epsilonOf(rho, delta) });
  const names = new Set<string>([...snap.jobs.map((j) => j.schemaId), ...Object.keys(policy.privacy?.datasets ?? {}), ...(policy.schemas ?? [])]);
  const datasets = [...names].sort().map((schemaId): DatasetBudgetReport => {
    const budget = privacyBudgetFor(policy, schemaId);
    const since = windowStart(budget ?? { windowDays: null }, now);
    const charges = snap.jobs.filter((j) => j.schemaId === schemaId).flatMap((j) => j.attempts).filter((a) => a.released !== false && a.at >= since).map((a) => ({ at: a.at, rho: a.rho }));
    const spent = spentSince(charges, since);
    return {
      schemaId, budget, spent: at(spent),
      cap: budget ? at(budget.rho) : null,
      remaining: budget ? at(Math.max(0, budget.rho - spent)) : null,
      privateReleases: charges.filter((c) => c.rho !== null).length,
      nonPrivateReleases: charges.filter((c) => c.rho === null).length,
    };
  });
  const jobs = snap.jobs.map((j): JobBudgetReport => {
    const attempts = j.attempts.map((a) => ({ round: a.round, attempt: a.attempt, at: a.at, rho: a.rho, released: a.released, counted: a.released !== false }));
    return {
      jobId: j.jobId, schemaId: j.schemaId, firstAt: j.firstAt, privacy: j.privacy, jobRho: j.privacy ? resolveRho(j.privacy) : null,
      spentRho: attempts.reduce((s, a) => s + (a.counted && a.rho !== null ? a.rho : 0), 0), attempts,
    };
  });
  return { now, delta, ledger: { signedBy: snap.signedBy, signedByThisNode: snap.signedBy !== null && snap.signedBy === nodeKey, entries: snap.entries, head: snap.head }, datasets, jobs };
}

const n = (x: number) => Number(x.toPrecision(4)).toString();
const small = (x: number) => (x < 1e-3 ? x.toExponential() : String(x));

/** The report as text, one dataset per line, then one job per line. Pure. */
export function formatBudgetReport(r: BudgetReport): string {
  const out: string[] = [];
  const l = r.ledger;
  if (!l.entries) out.push("ledger: no entries yet");
  else out.push(`ledger: ${l.entries} entries, hash chain verified, ${l.signedBy ? `signed by ${l.signedByThisNode ? "this node's key" : "key"} ${l.signedBy.slice(0, 12)}…` : "unsigned (hash chain only)"}`);
  if (!r.datasets.length) out.push("no datasets with releases or budgets yet");
  for (const d of r.datasets) {
    const window = d.budget ? (d.budget.windowDays === null ? "in total" : `in the last ${d.budget.windowDays} days`) : "in total";
    const rho = d.cap ? `ρ ${n(d.spent.rho)} spent of ${n(d.cap.rho)} ${window}, ${n(d.remaining!.rho)} left` : `ρ ${n(d.spent.rho)} spent ${window}, no privacy budget`;
    const eps = d.cap ? `ε at δ = ${small(r.delta)}: ${n(d.spent.epsilon)} spent of ${n(d.cap.epsilon)}, one more job of ε ≤ ${n(d.remaining!.epsilon)}` : `ε at δ = ${small(r.delta)}: ${n(d.spent.epsilon)} spent`;
    const np = d.nonPrivateReleases ? `; ${d.nonPrivateReleases} non-private release${d.nonPrivateReleases > 1 ? "s" : ""} (not covered by ρ)` : "";
    out.push(`${d.schemaId}: ${rho}; ${eps}; ${d.privateReleases} private release${d.privateReleases === 1 ? "" : "s"}${np}${d.budget && !d.budget.allowNonPrivate ? "; non-private jobs declined" : ""}`);
  }
  for (const j of r.jobs) {
    const what = j.privacy ? `${"rho" in j.privacy ? `ρ ${n(j.privacy.rho)}` : `ε ${j.privacy.epsilon}, δ ${small(j.privacy.delta)} (ρ ${n(j.jobRho!)})`}, spent ρ ${n(j.spentRho)}` : "non-private";
    const attempts = j.attempts.map((a) => `r${a.round + 1}.${a.attempt + 1} ${a.rho === null ? "non-private" : `ρ ${n(a.rho)}`} ${a.released === true ? "released" : a.released === "unknown" ? "unknown (counts as released)" : "nothing released (not counted)"}`).join(", ");
    out.push(`  ${j.jobId} (${j.schemaId}, ${new Date(j.firstAt).toISOString()}): ${what}: ${attempts}`);
  }
  return out.join("\n");
}

/** The command: reads `<dir>/node.json`, `<dir>/keys.json` (to pin the ledger's signer) and `<dir>/ledger.json`. Exit 0; CliError for a missing or bad file or a tampered ledger, UsageError for a bad option. */
export async function nodeBudget(args: string[]): Promise<number> {
  const { values } = parse(args, { dir: { type: "string", default: ".2pm" }, json: { type: "boolean", default: false }, delta: { type: "string", default: "1e-6" } }, false);
  const delta = Number(values.delta);
  if (!(delta > 0 && delta < 1)) throw new UsageError(`--delta must be a number in (0, 1), got ${values.delta}`);
  const dir = path.resolve(values.dir!);
  const config = await readNodeConfig(dir);
  const keys = await new FileKeyStore(path.join(dir, "keys.json")).load();
  const ledgerFile = path.join(dir, "ledger.json");
  const ledger = await Ledger.open(fileLedgerStore(ledgerFile), { audit: true, ...(keys ? { verifyKey: keys.identityPublicKey } : {}) }).catch((e: unknown) => { throw new CliError(`${ledgerFile}: ${(e as Error).message}`); });
  const report = budgetReport(ledger.snapshot(), config.policy, Date.now(), delta, keys ? toBase64Url(keys.identityPublicKey) : null);
  console.log(values.json ? JSON.stringify(report) : formatBudgetReport(report));
  return 0;
}
