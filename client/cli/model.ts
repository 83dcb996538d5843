/**
 * `2pm model download <job>` and `2pm infer --model <job> --input rows.csv [--local]`.
 *
 * A learning job's answer is the global model of its best round (hash-checked against the
 * job's transparency log). Download writes it as a tfjs LayersModel (model.json +
 * weights.bin, loadable by tf.loadLayersModel) and as the dense JSON format. Inference
 * turns it into a CKKS model package and scores the rows encrypted: the querier's features
 * never leave its machine in the clear; only the querier decrypts.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import os from "node:os";
import type { JobSpec } from "../../protocol/api/schemas.ts";
import { parseLearningTask, type LearningResult } from "../../protocol/jobs/learning.ts";
import { decodeGlobalModel } from "../../protocol/learning/codec.ts";
import { denseForward, toDenseModel, type DenseModel } from "../../protocol/learning/dense.ts";
import { parseData, formatFromPath } from "../data/parse.ts";
import { loadSchemaFile } from "../data/node-fs.ts";
import { datasetFromRows } from "../learning/from-schema.ts";
import { intOption, parse, required } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";
import { usageError } from "./help.ts";
import { jsonOption, outputFor } from "./output.ts";
import type { ApiClient } from "../api/client.ts";
import { operatorFrom, operatorOptions } from "./operator.ts";

export interface TrainedModel {
  spec: JobSpec;
  round: number;
  weights: Float64Array;
  dense: DenseModel;
  result: LearningResult;
}

/**
 * Fetches a learning job's chosen model (best round, else the latest), verifying the job's
 * log signatures and the model bytes' hash against it (ApiClient.model). Throws CliError for
 * a job without a model, ApiClientError `log-invalid` / `model-hash-mismatch` on a mismatch.
 */
export async function fetchTrainedModel(op: ApiClient, jobId: string, round?: number): Promise<TrainedModel> {
  const { spec } = await op.job(jobId);
  if (spec.type !== "learning") throw new CliError(`job ${jobId} is a ${spec.type} job, not a learning job`);
  const { result } = await op.result<LearningResult | null>(jobId);
  if (!result) throw new CliError(`job ${jobId} has no accepted round yet`);
  const r = round ?? result.bestRound;
  const bytes = await op.model(jobId, r);
  const { job, standardization } = parseLearningTask(spec.task);
  const { weights } = decodeGlobalModel(bytes);
  return { spec, round: r, weights, dense: toDenseModel(job.model, weights, standardization), result };
}

async function download(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...operatorOptions, round: { type: "string" }, out: { type: "string", default: "model" }, ...jsonOption });
  if (positionals.length !== 1) throw usageError("model download");
  const op = operatorFrom(values);
  const round = intOption(values.round, "round", 0, undefined, "a model number (0 = the initial model, k = after k rounds)");
  const m = await fetchTrainedModel(op, positionals[0]!, round);
  const { job } = parseLearningTask(m.spec.task);
  const { layersModelFromWeights } = await import("../learning/export.ts");
  const files = await layersModelFromWeights(job.model, m.weights, { job: positionals[0], round: m.round });
  const out = path.resolve(values.out!);
  await fs.mkdir(out, { recursive: true });
  await fs.writeFile(path.join(out, "model.json"), JSON.stringify(files.modelJson, null, 2));
  await fs.writeFile(path.join(out, "weights.bin"), files.weightsBin);
  await fs.writeFile(path.join(out, "dense.json"), JSON.stringify(m.dense));
  const h = m.result.history.find((x) => x.round === m.round);
  const metrics = h && h.accuracy !== null && h.loss !== null ? `, evaluated: accuracy ${(100 * h.accuracy).toFixed(2)} %, loss ${h.loss.toFixed(4)}` : ", not evaluated";
  const which = m.round === m.result.bestRound ? "best model" : m.round === m.result.latestModelRound ? "final model" : "model";
  outputFor(values).result(
    { jobId: positionals[0], model: m.round, best: m.round === m.result.bestRound, loss: h?.loss ?? null, accuracy: h?.accuracy ?? null, out, files: ["model.json", "weights.bin", "dense.json"] },
    `${which} ${m.round} (after ${m.round} round${m.round === 1 ? "" : "s"}${metrics}) written to ${out} (model.json + weights.bin for tf.loadLayersModel, dense.json)`,
  );
  return 0;
}

/**
 * Reads rows of a CSV/JSON-lines file against a schema and encodes them as the model's raw
 * features. A missing value becomes `impute[j]` (the training standardisation's mean, so the
 * model sees what training saw: mean imputation), or 0 without one. Throws CliError for an
 * unreadable file, the parser's error for rows that do not fit the schema.
 */
export async function featureRows(file: string, schemaFile: string, pre: NonNullable<ReturnType<typeof parseLearningTask>["job"]["model"]["preprocessing"]>, impute?: readonly number[]): Promise<{ x: number[][]; y: number[] }> {
  const schema = await loadSchemaFile(schemaFile);
  const text = await fs.readFile(file, "utf8").catch(() => { throw new CliError(`cannot read ${file}`); });
  const rows = parseData(text, schema, formatFromPath(file), { file });
  const ds = datasetFromRows(schema, rows, pre);
  const x: number[][] = [];
  for (let i = 0; i < ds.n; i++) x.push(Array.from(ds.x.subarray(i * ds.d, (i + 1) * ds.d), (v, j) => (Number.isNaN(v) ? impute?.[j] ?? 0 : v)));
  return { x, y: Array.from(ds.y) };
}

async function infer(args: string[]): Promise<number> {
  const { values } = parse(args, { ...operatorOptions, model: { type: "string" }, input: { type: "string" }, schema: { type: "string" }, local: { type: "boolean", default: false }, threads: { type: "string" }, ...jsonOption }, false);
  const jobId = required(values.model, "model");
  const threads = intOption(values.threads, "threads", 1, 16);
  const op = operatorFrom(values);
  const m = await fetchTrainedModel(op, jobId);
  const { job, standardization } = parseLearningTask(m.spec.task);
  const pre = job.model.preprocessing;
  if (!pre) throw new CliError("the model has no declared preprocessing; cannot encode input rows");
  const schemaFile = required(values.schema, "schema");
  const { x, y } = await featureRows(required(values.input, "input"), schemaFile, pre, standardization?.mean);
  const r = await encryptedPredict(op, jobId, m.dense, x, values.local === true, threads ?? defaultThreads(x.length));
  const agree = x.filter((row, i) => plainLabel(m.dense, row) === r.labels[i]).length;
  if (values.json) console.log(JSON.stringify({ labels: r.labels, probabilities: r.probabilities.map((p) => Array.from(p)), agreeWithPlaintext: agree / x.length }));
  else {
    r.labels.forEach((l, i) => console.log(`${i + 1}\t${pre.label?.classes[l] ?? l}\tp=${Array.from(r.probabilities[i]!).map((p) => p.toFixed(4)).join(",")}${y[i] !== undefined ? `\ttrue=${pre.label?.classes[y[i]!] ?? y[i]}` : ""}`));
    console.log(`${x.length} rows scored encrypted (${values.local ? "in-process" : "by the coordinator"}); ${agree}/${x.length} labels equal plaintext inference`);
  }
  return 0;
}

/**
 * Encryption threads when --threads is not given: one per core up to 4 once the rows fill
 * more than one ciphertext batch (4096 rows at N = 8192), else 1 (a thread's start-up —
 * loading SEAL — costs more than it saves on a small input).
 */
function defaultThreads(rows: number): number {
  return rows > 4096 ? Math.max(1, Math.min(4, os.availableParallelism())) : 1;
}

/** Plaintext reference label of one raw row. */
export function plainLabel(model: DenseModel, row: ArrayLike<number>): number {
  const s = denseForward(model, row);
  return s.length === 1 ? (s[0]! > 0.5 ? 1 : 0) : s.indexOf(Math.max(...s));
}

/**
 * The operator's bearer API token. The FHE routes take binary frames, so they are called with
 * fetch (client/fhe/client.ts) rather than through the API client, and need the token itself.
 */
function apiTokenOf(op: ApiClient): string {
  const t = op.token;
  if (!t) throw new UsageError("no API token: pass --token or set TWOPM_API_TOKEN");
  return t;
}

/**
 * Scores rows under CKKS: `local` evaluates in-process; otherwise the model package is put
 * on the coordinator and the Worker evaluates ciphertexts — package upload, key upload and
 * inference all with the operator's API token (--token / TWOPM_API_TOKEN); `threads` > 1
 * encrypts batches in that many threads. Returns the decrypted result.
 */
export async function encryptedPredict(op: ApiClient, jobId: string, dense: DenseModel, rows: number[][], local: boolean, threads = 1) {
  const { buildPackage } = await import("../fhe/package.ts");
  const { inferRows } = await import("../fhe/client.ts");
  const modelId = jobId.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[^A-Za-z0-9]/, "m");
  const pkg = await buildPackage(dense, { modelId });
  if (local) return inferRows({ modelId, rows, local: pkg, threads });
  await op.putFhePackage(modelId, pkg);
  return inferRows({ baseUrl: `${op.baseUrl}/v1/models`, modelId, rows, expectHash: pkg.hash, token: apiTokenOf(op), threads });
}

export const modelCommands = { "model download": download, infer };
