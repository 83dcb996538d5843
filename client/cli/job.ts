/** `2pm job submit | watch | result | verify`. */
import { promises as fs } from "node:fs";
import path from "node:path";
import { JobSpec, type JobSummary, type RoundInfo } from "../../protocol/api/schemas.ts";
import type { ApiClient } from "../api/client.ts";
import { fromBase64Url } from "../../protocol/encoding.ts";
import { verifyJobLog } from "../../protocol/jobs/audit.ts";
import type { LogEntry } from "../../protocol/log/index.ts";
import { validateStatsTask } from "../../protocol/jobs/stats.ts";
import type { StatsResult } from "../../protocol/stats/engine.ts";
import { formatStatsResult } from "../../protocol/stats/format.ts";
import { formatLearningResult } from "../../protocol/jobs/learning-format.ts";
import type { LearningResult } from "../../protocol/jobs/learning.ts";
import { parse } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";
import { operatorFrom, operatorOptions } from "./operator.ts";
import { submitterKeyFrom } from "./submitter.ts";
import { withFederatedStandardization, type FeatureBounds } from "./pipeline.ts";
import { parseDatasetSchema } from "../../protocol/stats/schema.ts";
import { preprocessingIssues } from "../../protocol/learning/spec.ts";
import { encodedDim } from "../../protocol/learning/features.ts";
import { parseLearningTask } from "../../protocol/jobs/learning.ts";

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch {
    throw new CliError(`cannot read ${what} ${file}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(`${what} ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Loads a job spec file. `task.schema` and `task.query` may be paths (relative to the spec
 * file) to JSON files; they are inlined. The spec is validated locally (and again by the
 * coordinator). Throws CliError naming the first problem.
 */
export async function loadJobSpec(file: string): Promise<JobSpec> {
  const raw = (await readJson(file, "job spec")) as Record<string, unknown>;
  const dir = path.dirname(path.resolve(file));
  const task = raw && typeof raw === "object" && raw.task && typeof raw.task === "object" ? { ...(raw.task as Record<string, unknown>) } : undefined;
  if (task) {
    for (const k of ["schema", "query", "model", "bounds"]) {
      if (typeof task[k] === "string") task[k] = await readJson(path.resolve(dir, task[k] as string), `task.${k}`);
    }
    raw.task = task;
  }
  const r = JobSpec.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new CliError(`job spec ${file}: ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  if (r.data.type === "stats") {
    try {
      validateStatsTask(r.data.task, r.data.field, r.data.committee.size, r.data.schemaId);
    } catch (e) {
      throw new CliError(`job spec ${file}: task: ${(e as Error).message}`);
    }
  }
  return r.data;
}

/**
 * Makes a loaded learning spec submittable: `task.schema` and `task.bounds` are CLI-side
 * inputs (not sent); when the model standardises and no standardisation is given, a
 * feature-moments statistics job runs first (see pipeline.ts). Stats specs pass unchanged.
 */
export async function prepareSpec(op: ApiClient, spec: JobSpec, print: (s: string) => void): Promise<JobSpec> {
  if (spec.type !== "learning") return spec;
  const { schema, bounds, ...task } = spec.task as Record<string, unknown> & { bounds?: { bounds?: FeatureBounds } };
  checkLearningSpec(task, schema);
  const clean: JobSpec = { ...spec, task };
  const pre = (task.model as { preprocessing?: { standardize?: boolean } } | undefined)?.preprocessing;
  if (!pre?.standardize || task.standardization) return clean;
  if (!schema || !bounds?.bounds) throw new CliError("a standardising learning spec needs task.schema and task.bounds (declared feature ranges) for its feature-moments job");
  const { spec: ready } = await withFederatedStandardization(op, clean, parseDatasetSchema(schema, "task.schema"), bounds.bounds, print);
  return ready;
}

/**
 * Checks a learning task before anything runs (the feature-moments job included): fills
 * `model.inputDim` from the preprocessing when it is left out, checks the preprocessing
 * against the dataset schema (columns, types, levels, classes) when the spec names one, and
 * parses the whole task as the coordinator will. Mutates `task.model.inputDim` only when
 * absent. Throws CliError listing every problem.
 */
export function checkLearningSpec(task: Record<string, unknown>, schemaJson: unknown): void {
  const model = task.model as { inputDim?: number; preprocessing?: Parameters<typeof preprocessingIssues>[0] } | undefined;
  const pre = model?.preprocessing;
  if (model && pre && model.inputDim === undefined) model.inputDim = encodedDim({ ...pre, categorical: pre.categorical ?? [] } as Parameters<typeof encodedDim>[0]);
  const issues: string[] = [];
  if (pre && schemaJson !== undefined) {
    try {
      issues.push(...preprocessingIssues(pre, parseDatasetSchema(schemaJson, "task.schema")));
    } catch (e) {
      issues.push(`task.schema: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  try {
    // The standardisation is computed later by the moments job: parse as if it were there.
    const st = (task.model as { inputDim?: number } | undefined)?.inputDim ?? 0;
    parseLearningTask(task.standardization === undefined && pre?.standardize !== false ? { ...task, standardization: { mean: new Array(st).fill(0), std: new Array(st).fill(1) } } : task);
  } catch (e) {
    const z = e as { issues?: Array<{ path: PropertyKey[]; message: string }> };
    if (z.issues) issues.push(...z.issues.map((i) => `task.${i.path.map(String).join(".")}: ${i.message}`));
    else issues.push((e as Error).message);
  }
  if (issues.length) throw new CliError(`invalid learning spec: ${issues.join("; ")}`);
}

async function submit(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...operatorOptions, id: { type: "string" } });
  if (positionals.length !== 1) throw new UsageError("usage: 2pm job submit <spec.json>");
  const op = operatorFrom(values);
  const loaded = await loadJobSpec(positionals[0]!); // spec errors first: they need no key
  op.setSubmitterKey((await submitterKeyFrom(values)).secretKey);
  const spec = await prepareSpec(op, loaded, (line) => console.error(line));
  const job = await op.submitJob(spec);
  console.log(job.id);
  return 0;
}

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

function metricsLine(result: unknown, round: number): string {
  const hist = (result as { history?: Array<{ round: number; loss?: number; accuracy?: number }> } | null)?.history;
  const h = hist?.find((x) => x.round === round);
  if (!h) return "";
  return ` loss ${h.loss?.toFixed(4) ?? "?"} accuracy ${h.accuracy !== undefined ? (100 * h.accuracy).toFixed(2) + "%" : "?"}`;
}

/** Polls a job until it ends, printing each round attempt's progress; returns the final summary. */
export async function watchJob(op: ApiClient, id: string, print: (s: string) => void = console.log, intervalMs = 500): Promise<JobSummary> {
  const seen = new Map<string, string>();
  let lastStatus = "";
  let unreachableSince = 0;
  for (;;) {
    let job: JobSummary, spec: { maxRounds?: number } | undefined, list: RoundInfo[];
    try {
      ({ job, spec } = await op.job(id));
      list = await op.rounds(id);
      unreachableSince = 0;
    } catch (e) {
      // A network failure (not an HTTP error) while watching a long job: retry for up to 60 s.
      if (!(e instanceof TypeError)) throw e;
      if (!unreachableSince) { unreachableSince = Date.now(); print(`coordinator unreachable (${e.message}); retrying`); }
      if (Date.now() - unreachableSince > 60_000) throw new CliError(`coordinator unreachable for 60 s while watching job ${id}: ${e.message}`);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    let result: unknown = null;
    for (const r of list) {
      const key = `${r.round}.${r.attempt}`;
      const state = `${r.status}${r.abort ? `:${r.abort.code}` : ""}`;
      if (seen.get(key) === state) continue;
      seen.set(key, state);
      if (r.status === "accepted" && result === null) result = (await op.result(id).catch(() => null))?.result ?? null;
      const max = spec?.maxRounds ? `/${spec.maxRounds}` : "";
      // A decline carries the node's own reason (its signed decline request): show it, not just the code.
      const why = r.abort?.code === "declined" && r.abort.detail ? `: ${r.abort.detail}` : "";
      const detail = r.status === "aborted" && r.abort ? ` — ${r.abort.code}${r.abort.culprits.length ? ` (culprits ${r.abort.culprits.map((c) => c.slice(0, 8)).join(", ")})` : ""}${why}` : "";
      print(`round ${r.round + 1}${max} attempt ${r.attempt + 1}: ${r.status} [committee ${r.committee.map((c) => c.slice(0, 8)).join(" ")}]${detail}${r.status === "accepted" ? metricsLine(result, r.round) : ""}`);
    }
    if (job.status !== lastStatus) {
      lastStatus = job.status;
      print(`job ${id}: ${job.status}${job.error ? ` — ${job.error}` : ""}`);
    }
    if (TERMINAL.has(job.status)) return job;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function watch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, operatorOptions);
  if (positionals.length !== 1) throw new UsageError("usage: 2pm job watch <job-id>");
  const job = await watchJob(operatorFrom(values), positionals[0]!);
  return job.status === "completed" ? 0 : 1;
}

async function result(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...operatorOptions, json: { type: "boolean", default: false } });
  if (positionals.length !== 1) throw new UsageError("usage: 2pm job result <job-id> [--json]");
  const op = operatorFrom(values);
  const r = await op.result(positionals[0]!);
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return 0;
  }
  const res = r.result as { stats?: StatsResult } | StatsResult | LearningResult | null;
  if (res && "measures" in res) console.log(formatStatsResult(res));
  else if (res && "stats" in res && res.stats) console.log(formatStatsResult(res.stats));
  else if (res && "history" in res) console.log(formatLearningResult(res, positionals[0]!));
  else console.log(JSON.stringify(r, null, 2));
  return 0;
}

async function verify(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...operatorOptions, key: { type: "string" }, file: { type: "string" } });
  if (positionals.length !== 1 && !values.file) throw new UsageError("usage: 2pm job verify <job-id> [--key <coordinator key>] [--file log.json]");
  let entries: LogEntry[], publicKey: string;
  if (values.file) {
    const saved = (await readJson(values.file, "log file")) as { entries: LogEntry[]; publicKey: string };
    entries = saved.entries;
    publicKey = values.key ?? saved.publicKey;
  } else {
    const op = operatorFrom(values);
    const r = await op.log(positionals[0]!);
    entries = r.entries;
    publicKey = values.key ?? r.publicKey;
  }
  const report = verifyJobLog(entries, fromBase64Url(publicKey));
  for (const line of report.summary) console.log(line);
  if (report.problems.length) {
    for (const p of report.problems) console.error(`problem: ${p}`);
    throw new CliError(`log does not verify (${report.problems.length} problem${report.problems.length > 1 ? "s" : ""})`);
  }
  console.log(`log verifies: ${entries.length} entries, hash chain intact, every entry signed by ${publicKey.slice(0, 12)}…`);
  return 0;
}

async function cancel(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, operatorOptions);
  if (positionals.length !== 1) throw new UsageError("usage: 2pm job cancel <job-id>");
  const job = await operatorFrom(values).cancelJob(positionals[0]!);
  console.log(`job ${job.id}: ${job.status}`);
  return 0;
}

export const jobCommands = { "job submit": submit, "job watch": watch, "job result": result, "job verify": verify, "job cancel": cancel };
