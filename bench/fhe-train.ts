/**
 * `npm run bench -- fhe-train [--quick] [--only wdbc|synthetic]`:
 * encrypted logistic-regression training (client/fhe/training, docs/fhe.md "Training on
 * encrypted data") on wdbc (full, 569 × 30, examples/data) and a seeded synthetic 1579 × 18
 * set (the iDASH 2017 shape of Kim et al. 2018): time per iteration, total, owner vs server,
 * peak RSS, and accuracy / AUC of the encrypted-trained model against the same algorithm in
 * plaintext and against a converged central LR (500 full-batch gradient steps, exact sigmoid).
 * Metrics are in-sample (the owner's rows). Issue 18 goals: 1579 × 18, 7 iterations ≤ 6 min;
 * accuracy within 1 point of the plaintext NAG and within 2 points of converged LR.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { loadNote, type BenchResult } from "./types.ts";
import { loadSealNode } from "../client/fhe/seal-node.ts";
import { accuracy, auc, DEFAULT_NAG, logit, nagPlain, plainLogReg, standardisation, zRows, type NagConfig, type SigmoidDegree } from "../client/fhe/training/nag.ts";
import { keyBytes } from "../client/fhe/training/params.ts";
import { trainEncrypted } from "../client/fhe/training/train.ts";
import { wasmMemoryBytes } from "../client/fhe/seal.ts";
import { seededRng } from "../protocol/rng.ts";
import { loadWdbc } from "../test/unit/fhe/helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

function arg(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
}

/** Standard normals from a seeded byte stream (Box–Muller). */
function normals(seed: string, n: number): Float64Array {
  const b = seededRng(seed).bytes(8 * n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = (b[8 * i]! + 256 * b[8 * i + 1]! + 65536 * b[8 * i + 2]! + 1) / 16777217;
    const u2 = (b[8 * i + 4]! + 256 * b[8 * i + 5]! + 65536 * b[8 * i + 6]!) / 16777216;
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

/**
 * 1579 × 18, correlated Gaussian features (a shared factor), labels ~ Bernoulli(σ(b + xᵀw)) with a
 * seeded sparse-ish w scaled so that a converged LR reaches AUC ≈ 0.75–0.8 (iDASH-like).
 */
export function synthetic(n = 1579, d = 18, seed = "fhe-train-synthetic"): { x: number[][]; y: number[] } {
  const g = normals(`${seed}/x`, n * (d + 1));
  const w = normals(`${seed}/w`, d).map((v, j) => (j % 3 === 0 ? 1.2 * v : 0.3 * v));
  const ub = seededRng(`${seed}/y`).bytes(4 * n);
  const uniform = (i: number) => (ub[4 * i]! + 256 * ub[4 * i + 1]! + 65536 * ub[4 * i + 2]!) / 16777216;
  const x: number[][] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = g[i * (d + 1) + d]!;
    const row = Array.from({ length: d }, (_, j) => 3 + 2 * (0.6 * g[i * (d + 1) + j]! + 0.4 * f) + j);
    let s = -0.3;
    for (let j = 0; j < d; j++) s += w[j]! * (row[j]! - 3 - j) / 2;
    const p = 1 / (1 + Math.exp(-s));
    x.push(row);
    y.push(uniform(i) < p ? 1 : 0);
  }
  return { x, y };
}

interface Config {
  dataset: "wdbc" | "synthetic";
  degree: SigmoidDegree;
  learningRate: number;
  iterations: number;
  refreshEvery: number;
}

/** Measured configurations: the paper's setting (degree 3, lr 10) and the measured better ones. */
const CONFIGS: Config[] = [
  { dataset: "synthetic", degree: 3, learningRate: 10, iterations: 7, refreshEvery: 2 },
  { dataset: "synthetic", degree: 3, learningRate: 5, iterations: 7, refreshEvery: 2 },
  { dataset: "wdbc", degree: 3, learningRate: 1, iterations: 7, refreshEvery: 2 },
  { dataset: "wdbc", degree: 5, learningRate: 1, iterations: 7, refreshEvery: 2 },
  { dataset: "wdbc", degree: 5, learningRate: 1, iterations: 14, refreshEvery: 2 },
];

function dataset(name: Config["dataset"]): { name: string; x: number[][]; y: number[] } {
  if (name === "synthetic") return { name: "synthetic 1579×18", ...synthetic() };
  const w = loadWdbc();
  return { name: "wdbc 569×30", x: [...w.xTrain, ...w.xTest], y: [...w.yTrain, ...w.yTest] };
}

/** One configuration, in its own process (so peak RSS and the SEAL heap are its own). */
async function runOne(c: Config): Promise<{ row: BenchResult["rows"][number]; note: string }> {
  const s = dataset(c.dataset);
  const seal = await loadSealNode();
  const nag: NagConfig = { ...DEFAULT_NAG, iterations: c.iterations, degree: c.degree, learningRate: c.learningRate };
  const perIter: number[] = [];
  const blocks: string[] = [];
  let keysNote = "";
  const t0 = performance.now();
  const r = await trainEncrypted({
    seal, x: s.x, y: s.y, nag, refreshEvery: c.refreshEvery,
    onProgress: (p) => {
      perIter.push(p.seconds);
      console.error(`${s.name}: iteration ${p.iteration}/${p.iterations} level ${p.level} (${p.levelsLeft} left) ${p.seconds.toFixed(2)} s`);
    },
    onKeys: (k) => (keysNote = `key set ${(k.bytes / 2 ** 20).toFixed(0)} MB stored once in ${k.seconds.toFixed(1)} s`),
    onBlock: (b) => blocks.push(`[${b.from},${b.to}) ${(b.requestBytes / 2 ** 20).toFixed(0)} MB → ${(b.responseBytes / 2 ** 20).toFixed(1)} MB, ${b.seconds.toFixed(1)} s`),
  });
  const total = (performance.now() - t0) / 1000;
  const st = standardisation(s.x);
  const z = zRows(s.x, s.y, st);
  const ref = nagPlain(z, nag).beta;
  const conv = plainLogReg(z, 500, 1);
  const score = (b: ArrayLike<number>) => s.x.map((row) => logit(b, st, row));
  let maxErr = 0;
  for (let j = 0; j < ref.length; j++) maxErr = Math.max(maxErr, Math.abs(ref[j]! - r.beta[j]!));
  const p = r.plan.params;
  const row = {
    dataset: s.name,
    iterations: c.iterations, degree: c.degree, lr: c.learningRate, "refresh every": c.refreshEvery,
    params: `N${p.polyModulusDegree} ${p.coeffModulusBits.length - 2}×${p.scaleBits}b`,
    blocks: r.plan.blocks.length,
    "s/iter (mean)": +(perIter.reduce((a, b) => a + b, 0) / perIter.length).toFixed(2),
    "s/iter (max)": +Math.max(...perIter).toFixed(2),
    "server s": +r.serverSeconds.toFixed(1),
    "owner s": +r.ownerSeconds.toFixed(1),
    "total s": +total.toFixed(1),
    "peak RSS MB": Math.round(process.resourceUsage().maxRSS / 1024),
    "SEAL heap MB": Math.round(wasmMemoryBytes() / 2 ** 20),
    "keys MB (SEAL)": Math.round(keyBytes(p.polyModulusDegree, p.coeffModulusBits.length - 2) / 2 ** 20),
    "max |Δβ|": +maxErr.toExponential(2),
    "acc enc": +(100 * accuracy(score(r.beta), s.y)).toFixed(2),
    "acc NAG plain": +(100 * accuracy(score(ref), s.y)).toFixed(2),
    "acc LR conv": +(100 * accuracy(score(conv), s.y)).toFixed(2),
    "AUC enc": +auc(score(r.beta), s.y).toFixed(4),
    "AUC NAG plain": +auc(score(ref), s.y).toFixed(4),
    "AUC LR conv": +auc(score(conv), s.y).toFixed(4),
  };
  return { row, note: `${s.name}, degree ${c.degree}, lr ${c.learningRate}, ${c.iterations} iterations, refresh every ${c.refreshEvery}: ${keysNote}; blocks ${blocks.join("; ")}; per-iteration s ${perIter.map((t) => t.toFixed(2)).join(", ")}` };
}

export async function run(args: string[]): Promise<BenchResult> {
  const only = arg(args, "only", "");
  const configs = CONFIGS.filter((c) => !only || c.dataset === only).slice(0, args.includes("--quick") ? 1 : undefined);
  const rows: BenchResult["rows"] = [];
  const notes: string[] = [loadNote("at start")];
  const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
  for (const c of configs) {
    const out = execFileSync(tsx, [import.meta.filename, "--child", JSON.stringify(c)], { stdio: ["ignore", "pipe", "inherit"], maxBuffer: 2 ** 24 }).toString();
    const line = out.split("\n").find((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`fhe-train child produced no result for ${JSON.stringify(c)}`);
    const r = JSON.parse(line.slice(7)) as { row: BenchResult["rows"][number]; note: string };
    rows.push(r.row);
    notes.push(r.note);
    console.log(JSON.stringify(r.row));
  }
  notes.push(loadNote("at end"));
  return {
    name: "fhe-train",
    rows,
    notes: [
      ...notes,
      "least-squares sigmoid on [-8, 8] of the given degree, NAG schedule of Kim et al. 2018 (λ0 = 0.01, α_t = lr/(t+1)); each configuration runs in its own process",
      "accuracy and AUC in-sample on the owner's rows; 'LR conv' = 500 full-batch gradient steps with the exact sigmoid on the same standardised data",
      "goals (issue 18): 1579×18, 7 iterations ≤ 360 s on 2 cores; acc within 1 point of plaintext NAG, within 2 points of converged LR",
      "peak RSS: owner + in-process server in one process; the key set is sent once per run (by key id afterwards) and loaded into SEAL per block",
    ],
  };
}

if (process.argv[1] === import.meta.filename && process.argv[2] === "--child") {
  runOne(JSON.parse(process.argv[3]!) as Config).then(
    (r) => {
      console.log(`RESULT ${JSON.stringify(r)}`);
      process.exit(0);
    },
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
