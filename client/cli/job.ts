/** `2pm job submit | watch | result | verify | cancel | list`. */
import { promises as fs } from "node:fs";
import path from "node:path";
import { firstIssue, JobSpec, type JobSummary } from "../../protocol/api/schemas.ts";
import type { ApiClient } from "../api/client.ts";
import { fromBase64Url } from "../../protocol/encoding.ts";
import { verifyJobLog } from "../../protocol/jobs/audit.ts";
import type { LogEntry } from "../../protocol/log/index.ts";
import { validateSpec } from "../../protocol/jobs/registry.ts";
import { SpecLimitError } from "../../protocol/jobs/limits.ts";
import type { StatsResult } from "../../protocol/stats/engine.ts";
import { formatStatsResult } from "../../protocol/stats/format.ts";
import { formatLearningResult } from "../../protocol/jobs/learning-format.ts";
import type { LearningResult } from "../../protocol/jobs/learning.ts";
import { intOption, parse } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";
import { operatorFrom, operatorOptions } from "./operator.ts";
import { submitterKeyFrom } from "./submitter.ts";
import { withFederatedStandardization, type FeatureBounds } from "./pipeline.ts";
import { parseDatasetSchema } from "../../protocol/stats/schema.ts";
import { preprocessingIssues } from "../../protocol/learning/spec.ts";
import { encodedDim } from "../../protocol/learning/features.ts";
import { parseLearningTask } from "../../protocol/jobs/learning.ts";
import { usageError } from "./help.ts";
import { jsonOption, outputFor, type Output } from "./output.ts";
import { Progress } from "./progress.ts";
import { failureLines, watchJob } from "./watch-job.ts";

export { failureLines, watchJob, type WatchEvent, type WatchOptions } from "./watch-job.ts";

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
  if (!r.success) throw new CliError(`job spec ${file}: ${firstIssue(r.error)}`);
  // A learning task still holds CLI-side inputs (schema, bounds) here: prepareSpec checks it once they are gone.
  if (r.data.type === "stats") checkSubmittable(r.data, `job spec ${file}`);
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
  if (!pre?.standardize || task.standardization) return checkSubmittable(clean, "job spec");
  if (!schema || !bounds?.bounds) throw new CliError("a standardising learning spec needs task.schema and task.bounds (declared feature ranges) for its feature-moments job");
  const { spec: ready } = await withFederatedStandardization(op, clean, parseDatasetSchema(schema, "task.schema"), bounds.bounds, print);
  return checkSubmittable(ready, "job spec");
}

/**
 * The coordinator's own submission checks (protocol/jobs/registry.ts: the task parsed as the
 * coordinator parses it, and the limits it can serve), run before anything is sent or run.
 * Returns the spec; throws CliError naming the problem.
 */
function checkSubmittable(spec: JobSpec, what: string): JobSpec {
  try {
    validateSpec(spec);
  } catch (e) {
    throw new CliError(`${what}: ${e instanceof SpecLimitError ? "too large for the coordinator: " : "task: "}${(e as Error).message}`);
  }
  return spec;
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
  const { values, positionals } = parse(args, { ...operatorOptions, id: { type: "string" }, wait: { type: "boolean", default: false }, ...jsonOption });
  if (positionals.length !== 1) throw usageError("job submit");
  const op = operatorFrom(values);
  const out = outputFor(values);
  const loaded = await loadJobSpec(positionals[0]!); // spec errors first: they need no key
  op.setSubmitterKey((await submitterKeyFrom(values)).secretKey);
  const spec = await prepareSpec(op, loaded, (line) => console.error(line));
  const job = await op.submitJob(spec);
  if (!values.wait) {
    out.result(job, job.id);
    return 0;
  }
  out.event({ kind: "submitted", ...job }, `job ${job.id} submitted`);
  const final = await watchCli(op, job.id, out);
  return final.status === "completed" ? 0 : 1;
}

/** `job watch` / `job submit --wait` on the command line: JSON lines under --json, else lines with a status bar on a terminal. */
async function watchCli(op: ApiClient, id: string, out: Output): Promise<JobSummary> {
  if (out.json) return watchJob(op, id, console.log, { onEvent: (e) => console.log(JSON.stringify(e)) });
  const bar = new Progress(process.stdout);
  try {
    return await watchJob(op, id, (l) => bar.line(l), { onEvent: (_e, text) => text.split("\n").forEach((l) => bar.line(l)), onProgress: (p) => bar.update(p) });
  } finally {
    bar.end();
  }
}

async function watch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...operatorOptions, ...jsonOption });
  if (positionals.length !== 1) throw usageError("job watch");
  const job = await watchCli(operatorFrom(values), positionals[0]!, outputFor(values));
  return job.status === "completed" ? 0 : 1;
}

async function result(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...operatorOptions, ...jsonOption });
  if (positionals.length !== 1) throw usageError("job result");
  const op = operatorFrom(values);
  const r = await op.result(positionals[0]!);
  outputFor(values).result(r, () => {
    const res = r.result as { stats?: StatsResult } | StatsResult | LearningResult | null;
    if (res && "measures" in res) return formatStatsResult(res);
    if (res && "stats" in res && res.stats) return formatStatsResult(res.stats);
    if (res && "history" in res) return formatLearningResult(res, positionals[0]!);
    return [`job ${positionals[0]}: ${r.status}, no result yet${r.error ? ` — ${r.error}` : ""}`];
  });
  return 0;
}

async function verify(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...operatorOptions, key: { type: "string" }, file: { type: "string" }, ...jsonOption });
  if (positionals.length !== 1 && !values.file) throw usageError("job verify");
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
  const out = outputFor(values);
  const ok = report.problems.length === 0;
  out.result({ ok, entries: entries.length, publicKey, summary: report.summary, problems: report.problems }, [
    ...report.summary,
    ...(ok ? [`log verifies: ${entries.length} entries, hash chain intact, every entry signed by ${publicKey.slice(0, 12)}…`] : []),
  ]);
  if (!ok) {
    for (const p of report.problems) console.error(`problem: ${p}`);
    throw new CliError(`log does not verify (${report.problems.length} problem${report.problems.length > 1 ? "s" : ""})`);
  }
  return 0;
}

async function cancel(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...operatorOptions, ...jsonOption });
  if (positionals.length !== 1) throw usageError("job cancel");
  const job = await operatorFrom(values).cancelJob(positionals[0]!);
  outputFor(values).result(job, `job ${job.id}: ${job.status}`);
  return 0;
}

const STATUSES = ["pending", "running", "completed", "failed", "cancelled"] as const;

async function list(args: string[]): Promise<number> {
  const { values } = parse(args, { ...operatorOptions, status: { type: "string" }, limit: { type: "string", default: "20" }, ...jsonOption }, false);
  const status = values.status as (typeof STATUSES)[number] | undefined;
  if (status !== undefined && !STATUSES.includes(status)) throw new UsageError(`--status must be one of ${STATUSES.join(", ")}, got ${JSON.stringify(values.status)}`);
  const limit = intOption(values.limit, "limit", 1, 100)!;
  const jobs = await operatorFrom(values).jobs({ ...(status ? { status } : {}), limit });
  outputFor(values).result(jobs, () => jobs.length === 0 ? ["no jobs"] : [
    `${"id".padEnd(38)}${"type".padEnd(10)}${"dataset".padEnd(16)}${"status".padEnd(11)}${"round".padEnd(7)}updated`,
    ...jobs.map((j) => `${j.id.padEnd(38)}${j.type.padEnd(10)}${j.schemaId.slice(0, 15).padEnd(16)}${j.status.padEnd(11)}${String(j.round + 1).padEnd(7)}${new Date(j.updatedAt).toISOString().slice(0, 19)}Z${j.error ? `  ${failureLines(j.error)[0]}` : ""}`),
  ]);
  return 0;
}

export const jobCommands = { "job submit": submit, "job watch": watch, "job result": result, "job verify": verify, "job cancel": cancel, "job list": list };
