/**
 * `2pm fhe train --data rows.csv --schema s.json --label <column> --iterations k [--degree 5]
 *  [--learning-rate auto|<number>] [--refresh-every b] [--exclude id,...] [--out model.json]
 *  [--server <url> [--token T]]`
 *
 * Encrypted logistic-regression training (docs/fhe.md "Training on encrypted data"): this
 * process is the data owner (standardises, encrypts with its own key, decrypts the weights)
 * and, without --server, also the untrusted server behind a boundary that receives only
 * serialised public material; with --server, a running `2pm fhe serve` is the server (keys
 * uploaded once, one request per block; token from --token or TWOPM_FHE_TOKEN). Progress per iteration on stderr; the model (`2pm-dense/v1`, with the
 * owner's standardisation) is written only when training succeeded.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { parseData, formatFromPath } from "../data/parse.ts";
import { loadSchemaFile } from "../data/node-fs.ts";
import { datasetFromRows, preprocessingFromSchema } from "../learning/from-schema.ts";
import { intOption, parse, required } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";
import { jsonOption, outputFor } from "./output.ts";

const positiveInt = (v: string | undefined, name: string): number | undefined => intOption(v, name, 1, undefined, "a positive integer");

export async function fheTrain(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      data: { type: "string" },
      schema: { type: "string" },
      label: { type: "string" },
      iterations: { type: "string" },
      degree: { type: "string", default: "5" },
      "learning-rate": { type: "string", default: "auto" },
      "refresh-every": { type: "string" },
      exclude: { type: "string" },
      out: { type: "string", default: "model.json" },
      server: { type: "string" },
      token: { type: "string" },
      ...jsonOption,
    },
    false,
  );
  const dataFile = required(values.data, "data");
  const schemaFile = required(values.schema, "schema");
  const iterations = positiveInt(required(values.iterations, "iterations"), "iterations")!;
  const degree = Number(values.degree);
  if (degree !== 3 && degree !== 5 && degree !== 7) throw new UsageError(`--degree must be 3, 5 or 7, got ${JSON.stringify(values.degree)}`);
  // "auto": AUTO_LR_FACTOR / λ_max of the owner's standardised rows (nag.ts autoLearningRate), set once the data are read
  const autoLr = values["learning-rate"] === "auto";
  const learningRate = autoLr ? 1 : Number(values["learning-rate"]);
  if (!(learningRate > 0 && learningRate <= 1000)) throw new UsageError(`--learning-rate must be "auto" or a number in (0, 1000], got ${JSON.stringify(values["learning-rate"])}`);
  const refreshEvery = positiveInt(values["refresh-every"], "refresh-every");
  const exclude = values.exclude ? values.exclude.split(",").map((s) => s.trim()).filter(Boolean) : [];
  const serverUrl = values.server;
  const token = values.token ?? process.env.TWOPM_FHE_TOKEN;
  if (serverUrl !== undefined) {
    if (!/^https?:\/\/[^/]/.test(serverUrl)) throw new UsageError(`--server must be an http(s) URL, got ${JSON.stringify(serverUrl)}`);
    if (!token) throw new UsageError("--server needs --token (or TWOPM_FHE_TOKEN)");
  } else if (values.token !== undefined) throw new UsageError("--token is for --server");

  const { planTraining } = await import("../fhe/training/params.ts");
  const { DEFAULT_NAG, accuracy, autoLearningRate, logit, standardisation, zRows } = await import("../fhe/training/nag.ts");
  const nag = { ...DEFAULT_NAG, iterations, degree: degree as 3 | 5 | 7, learningRate };
  try {
    planTraining(nag, refreshEvery); // too many iterations for the depth: refused before reading anything
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }

  const schema = await loadSchemaFile(schemaFile);
  const text = await fs.readFile(dataFile, "utf8").catch(() => {
    throw new CliError(`cannot read ${dataFile}`);
  });
  let x: number[][], y: number[], features: string[];
  try {
    const pre = preprocessingFromSchema(schema, { label: values.label, exclude, standardize: false });
    if (pre.label!.classes.length !== 2) throw new RangeError(`label column ${pre.label!.column} has ${pre.label!.classes.length} classes; logistic regression needs 2`);
    const ds = datasetFromRows(schema, parseData(text, schema, formatFromPath(dataFile), { file: dataFile }), pre);
    if (ds.n < 2) throw new RangeError(`${ds.n} labelled rows; need at least 2`);
    x = Array.from({ length: ds.n }, (_, i) => Array.from(ds.x.subarray(i * ds.d, (i + 1) * ds.d)));
    y = Array.from(ds.y);
    features = ds.featureNames;
    if (autoLr) nag.learningRate = autoLearningRate(zRows(x, y, standardisation(x)));
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }

  const { loadSealNode } = await import("../fhe/seal-node.ts");
  const { trainEncrypted } = await import("../fhe/training/train.ts");
  const seal = await loadSealNode();
  const server = serverUrl === undefined ? undefined : (await import("../fhe/training/http.ts")).httpTrainServer(serverUrl, token!);
  process.stderr.write(`fhe train: ${x.length} rows × ${features.length} features, ${iterations} iterations, degree ${degree}, learning rate ${+nag.learningRate.toPrecision(4)}${autoLr ? " (auto)" : ""}${refreshEvery ? `, refresh every ${refreshEvery}` : ""}${serverUrl ? `, server ${serverUrl}` : ""}\n`);
  const t0 = performance.now();
  let r;
  try {
    r = await trainEncrypted({
      seal, x, y, nag, refreshEvery, server,
      onProgress: (p) => process.stderr.write(`iteration ${p.iteration}/${p.iterations}  level ${p.level} (${p.levelsLeft} left)  ${p.seconds.toFixed(2)} s\n`),
      onKeys: server && ((k) => process.stderr.write(`evaluation keys uploaded once: ${(k.bytes / 2 ** 20).toFixed(1)} MiB in ${k.seconds.toFixed(1)} s (key id ${k.keyId.slice(0, 12)}…)\n`)),
      onBlock: (b) => b.to < iterations && process.stderr.write(`refresh after iteration ${b.to}: the owner re-encrypts (v, β)\n`),
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new CliError(`encrypted training failed: ${/fetch failed|ECONNREFUSED/.test(msg) && serverUrl ? `cannot reach ${serverUrl} (is \`2pm fhe serve\` running?)` : msg}`);
  }
  const out = path.resolve(values.out!);
  const tmp = `${out}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(r.model, null, 2));
  await fs.rename(tmp, out);
  const acc = accuracy(x.map((row) => logit(r.beta, r.standardisation, row)), y);
  const p = r.plan.params;
  const seconds = (performance.now() - t0) / 1000;
  outputFor(values).result(
    { out, features: features.length, rows: x.length, iterations, degree, learningRate: nag.learningRate, polyModulusDegree: p.polyModulusDegree, coeffModulusBits: p.coeffModulusBits, blocks: r.plan.blocks.length, seconds, serverSeconds: r.serverSeconds, trainingAccuracy: acc },
    `model written to ${out} (2pm-dense/v1, ${features.length} features); N=${p.polyModulusDegree}, q=[${p.coeffModulusBits.join(",")}], ` +
      `${r.plan.blocks.length} block(s); ${seconds.toFixed(1)} s (server ${r.serverSeconds.toFixed(1)} s); training accuracy ${(100 * acc).toFixed(1)} %`,
  );
  return 0;
}

export const fheTrainCommands = { "fhe train": fheTrain };
