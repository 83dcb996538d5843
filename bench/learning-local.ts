/**
 * `npm run bench -- learning-local [--quick] [name...]`: local (in-process, plaintext
 * aggregation through the fixed-point path) federated learning on the reference datasets,
 * 5 nodes. Per configuration: mean local training time per node and round, rounds and wall
 * time until the global model reaches the target test accuracy, and federated vs central
 * test accuracy (central = same hyper-parameters on the union of the nodes' training
 * slices, for rounds × local epochs epochs). No MPC: see `npm run bench -- learning` for
 * secure aggregation.
 */
import type { BenchResult } from "./types.ts";
import { simulateFederated, subset, type Dataset } from "../client/learning/index.ts";
import { loadReferenceDataset } from "../client/learning/reference-data.ts";
import { parseModelSpec, type ModelSpecInput } from "../protocol/learning/index.ts";

interface Config {
  name: string;
  dataset: "wdbc" | "optdigits" | "adult";
  spec: ModelSpecInput;
  rounds: number;
  split: "iid" | "by-class";
  target: number;
  numericFeatures?: number;
}

const lr = (inputDim: number, opt: ModelSpecInput["optimizer"], epochs: number, batchSize: number, strategy: ModelSpecInput["strategy"] = { kind: "fedavg" }): ModelSpecInput => ({
  inputDim, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" }, optimizer: opt, epochs, batchSize, seed: 1, strategy, clipNorm: 10,
});
const mlp = (strategy: ModelSpecInput["strategy"] = { kind: "fedavg" }, activation: "relu" | "square" = "relu"): ModelSpecInput => ({
  inputDim: 64, classes: 10, loss: "categorical-crossentropy", architecture: { kind: "mlp", hidden: [{ units: 32, activation }] },
  optimizer: { kind: "adam", learningRate: 0.005 }, epochs: 2, batchSize: 32, seed: 1, strategy, clipNorm: 10,
});

const CONFIGS: Config[] = [
  { name: "wdbc-lr", dataset: "wdbc", spec: lr(30, { kind: "adam", learningRate: 0.05 }, 2, 16), rounds: 20, split: "iid", target: 0.97 },
  { name: "wdbc-lr-fedadam", dataset: "wdbc", spec: lr(30, { kind: "sgd", learningRate: 0.1 }, 1, 16, { kind: "fedadam", eta: 0.05 }), rounds: 20, split: "iid", target: 0.97 },
  { name: "optdigits-mlp-iid", dataset: "optdigits", spec: mlp(), rounds: 10, split: "iid", target: 0.95 },
  // FHE-friendly: x² hidden activation (exported as "square" in 2pm-dense/v1).
  { name: "optdigits-mlp-square-iid", dataset: "optdigits", spec: mlp({ kind: "fedavg" }, "square"), rounds: 10, split: "iid", target: 0.94 },
  { name: "optdigits-mlp-nonuid", dataset: "optdigits", spec: mlp(), rounds: 10, split: "by-class", target: 0.95 },
  { name: "optdigits-mlp-nonuid-fedprox", dataset: "optdigits", spec: mlp({ kind: "fedprox", mu: 0.1 }), rounds: 10, split: "by-class", target: 0.95 },
  // FedSGD (one full-batch local step: batchSize ≥ rows per node) with a FedAdam server: no client drift under label skew.
  {
    name: "optdigits-mlp-nonuid-fedsgd-fedadam", dataset: "optdigits", rounds: 40, split: "by-class", target: 0.95,
    spec: { ...mlp({ kind: "fedadam", eta: 0.1 }), optimizer: { kind: "sgd", learningRate: 0.5 }, epochs: 1, batchSize: 1024 },
  },
  { name: "adult-lr-onehot", dataset: "adult", spec: lr(105, { kind: "adam", learningRate: 0.01 }, 1, 64), rounds: 10, split: "iid", target: 0.85, numericFeatures: 6 },
];
for (const c of CONFIGS) c.name = c.name.replace("nonuid", "noniid");

function sample(ds: Dataset, k: number): Dataset {
  return k >= ds.n ? ds : subset(ds, Array.from({ length: k }, (_, i) => Math.floor((i * ds.n) / k)));
}

export async function run(args: string[]): Promise<BenchResult> {
  const quick = args.includes("--quick");
  const names = args.filter((a) => !a.startsWith("--"));
  const chosen = CONFIGS.filter((c) => names.length === 0 || names.some((n) => c.name.startsWith(n)));
  if (chosen.length === 0) throw new Error(`learning-local: no configuration matches ${names.join(", ")}; have ${CONFIGS.map((c) => c.name).join(", ")}`);
  const rows: BenchResult["rows"] = [];
  const cache = new Map<string, { train: Dataset; test: Dataset }>();
  for (const c of chosen) {
    let data = cache.get(c.dataset);
    if (!data) { data = loadReferenceDataset(c.dataset); cache.set(c.dataset, data); }
    const train = quick ? sample(data.train, 1500) : data.train;
    const test = quick ? sample(data.test, 1500) : data.test;
    const spec = parseModelSpec(c.spec);
    const rounds = quick ? Math.min(c.rounds, 5) : c.rounds;
    const r = await simulateFederated({ spec, train, test, rounds, split: c.split, standardize: true, numericFeatures: c.numericFeatures });
    const hit = r.rounds.find((l) => l.testAccuracy >= c.target);
    const central = r.central!;
    rows.push({
      config: c.name,
      strategy: spec.strategy.kind,
      split: c.split,
      trainRows: r.nodeSizes.reduce((a, b) => a + b, 0),
      params: r.federated.weights.length,
      rounds: r.rounds.length,
      localMsPerRound: Number((r.rounds.reduce((a, l) => a + l.localMillis, 0) / r.rounds.length).toFixed(1)),
      target: c.target,
      roundsToTarget: hit ? hit.round : "not reached",
      msToTarget: hit ? Math.round(hit.elapsedMillis) : "-",
      fedAcc: Number((100 * r.federated.accuracy).toFixed(2)),
      centralAcc: Number((100 * central.accuracy).toFixed(2)),
      diffPts: Number((100 * (r.federated.accuracy - central.accuracy)).toFixed(2)),
      fedMs: Math.round(r.federatedMillis),
      centralMs: Math.round(central.millis),
      fracBits: r.plan?.fracBits ?? "-",
      maxUpdateNorm: Number(Math.max(...r.rounds.map((l) => l.maxUpdateNorm)).toFixed(3)),
      clippedNodeRounds: r.rounds.reduce((a, l) => a + l.clippedNodes, 0),
    });
    console.log(`learning-local: ${c.name} done: fed ${(100 * r.federated.accuracy).toFixed(2)}% central ${(100 * central.accuracy).toFixed(2)}%`);
  }
  return {
    name: "learning-local",
    rows,
    notes: [
      "5 nodes, in-process, plaintext sum of fixed-point encoded [n·Δ ‖ n] (clipNorm 10, m61 bounds); no MPC, no network.",
      "localMsPerRound: mean wall time of one node's local training per round (tfjs cpu backend, pure JS).",
      "central: same spec on the union of the nodes' training slices for rounds × epochs epochs; accuracies on the official test split (wdbc: every 5th row).",
      "by-class: rows sorted by label, contiguous slices (each node sees ~2 digits) — pathological non-IID.",
      quick ? "--quick: 1500-row train/test subsamples and ≤ 5 rounds." : "full datasets.",
    ],
  };
}
