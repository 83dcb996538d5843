/**
 * `npx tsx bench/run.ts dp-learning [--rounds=30] [--batch=4096] [--clip=1] [--lr=8] [--epsilons=1,3,8] [--delta=1e-6] [--seeds=3]`:
 * DP-FedSGD (issue 19, docs/dp.md "Learning (DP-FedAvg)") on adult logistic regression
 * (examples/jobs/adult-learning.json's model and features), 5 simulated nodes in process
 * (adult-train.csv round-robin; each node holds out 10 % for the federated evaluation),
 * accuracy on adult-test.csv at ε = 1, 3, 8 (δ = 1e-6, the whole job: every training round
 * plus the final evaluation) against the same algorithm without noise (non-private
 * federated, same clip, batch, rounds and sampling), all in the same run.
 *
 * Every node step is the production code: runNodeDpRound (per-example clipping, batch
 * sampling, quantisation, own validation), the job's layout and noise plan (learningLayout),
 * reduceLearning / reduceFinalEvaluation (the coordinator's reduce and accountant). What is
 * simulated is MASCOT itself: the aggregate is Σ_j (x_j + z_j) with z_j ~ N_Z(0, σ²) sampled
 * by sampleNoise exactly as each party does. MASCOT opens Σ x_j + r ⊙ Σ z_j, which has the
 * same distribution (N_Z is symmetric), so accuracy is unaffected; MASCOT's cost is measured
 * by `bench/run.ts dp` and `validated-scale`.
 * Standardisation uses the exact federated mean/std of the numeric features (in a deployment a
 * private statistics job provides them, spending its own budget; not counted here).
 */
import { ADULT_PREPROCESSING, subset, type Dataset } from "../client/learning/datasets.ts";
import { loadReferenceDataset } from "../client/learning/reference-data.ts";
import { evaluateDense } from "../client/learning/dp-sgd.ts";
import { runNodeDpRound, splitHeldOut } from "../client/learning/node-round.ts";
import { fieldByName } from "../protocol/field/index.ts";
import { evalVector, sumVectors } from "../protocol/learning/aggregate.ts";
import { quantize } from "../protocol/learning/bounds.ts";
import { encodeGlobalModel, globalModelHash } from "../protocol/learning/codec.ts";
import { localMoments, standardizationFromMoments, standardizeInPlace } from "../protocol/learning/features.ts";
import { LearningJob, type LearningJobInput } from "../protocol/learning/job.ts";
import { evaluationLayout, initLearning, learningLayout, reduceFinalEvaluation, reduceLearning, startFinalEvaluation, type LearningResult } from "../protocol/jobs/learning.ts";
import { sampleNoise, type NoiseConfig } from "../protocol/mascot/noise.ts";
import { cryptoRng, seededRng } from "../protocol/rng.ts";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { BenchResult } from "./types.ts";
import { loadNote } from "./types.ts";
import { strArg as arg } from "./args.ts";

const NODES = 5;
const FIELD = "m61" as const;


interface Node { train: Dataset; heldOut: Dataset }

/** One full job (all training rounds + the final evaluation); ε null = without noise. Returns test accuracy of the final model and the job's result. */
function runJob(job: LearningJob, nodes: Node[], test: Dataset, noisy: boolean, seed: string): { testAccuracy: number; result: LearningResult; seconds: number } {
  const t0 = performance.now();
  const field = fieldByName(FIELD);
  const layout = learningLayout(job, NODES, FIELD);
  const init = initLearning(job);
  let state = init.state, model = init.model, result: LearningResult | null = null;
  const rng = seededRng(`bench/dp-learning/${seed}`);
  const aggregate = (xs: Float64Array[], noise: NoiseConfig | undefined): Uint8Array => {
    let sum = field.fromInts([...sumVectors(xs)]);
    if (noisy && noise) for (let j = 0; j < xs.length; j++) sum = field.add(sum, sampleNoise(field, cryptoRng, noise));
    return field.encode(sum);
  };
  for (;;) {
    const xs = nodes.map((n) => {
      const out = runNodeDpRound({ globalModel: model, expectedHash: globalModelHash(model), round: state.round, train: n.train, plan: layout.plan, spec: job.model, size: state.weights.length, dp: job.dp!, rng });
      return Float64Array.from([...out.contribution, ...out.evaluation]);
    });
    const out = reduceLearning(job, state, FIELD, aggregate(xs, layout.privacy?.training.noise), NODES, NODES);
    state = out.state; model = out.model; result = out.result;
    if (out.done) break;
  }
  const ev = evaluationLayout(job, NODES, FIELD);
  const evs = nodes.map((n) => quantize(evalVector(evaluateDense(job.model, state.weights, n.heldOut)), ev.evalPlan.fracBits, ev.evalPlan.bound));
  const fin = reduceFinalEvaluation(job, state, startFinalEvaluation(result!), FIELD, aggregate(evs, ev.noise), NODES, NODES);
  const t = evaluateDense(job.model, state.weights, test);
  return { testAccuracy: t.correct / t.count, result: fin.result, seconds: (performance.now() - t0) / 1000 };
}

export async function run(args: string[]): Promise<BenchResult> {
  const rounds = Number(arg(args, "rounds", "30"));
  const batch = Number(arg(args, "batch", "4096"));
  const clip = Number(arg(args, "clip", "1"));
  const lr = Number(arg(args, "lr", "8"));
  const delta = Number(arg(args, "delta", "1e-6"));
  const seeds = Number(arg(args, "seeds", "3"));
  const epsilons = arg(args, "epsilons", "1,3,8").split(",").map(Number);
  const spec = JSON.parse(readFileSync(path.join(import.meta.dirname, "..", "examples", "jobs", "adult-learning.json"), "utf8")) as { task: { model: Record<string, unknown> } };
  const { clipNorm: _c, ...model } = spec.task.model;
  const base = (privacy: { epsilon: number; delta: number }): LearningJobInput => ({
    model: { ...model, optimizer: { kind: "sgd", learningRate: lr }, strategy: { kind: "fedavg", serverLearningRate: 1 } } as LearningJobInput["model"],
    stopping: { maxRounds: rounds },
    aggregation: { mode: "validated", maxSamplesPerNode: 8192 },
    evaluation: { heldOutFraction: 0.1 },
    privacy, dp: { clip, batchSize: batch },
  });

  const { train, test } = loadReferenceDataset("adult");
  // Round-robin over the nodes; each holds out its first 10 % (splitHeldOut, as a node does).
  const parts: Dataset[] = Array.from({ length: NODES }, (_, k) => subset(train, Array.from({ length: Math.ceil((train.n - k) / NODES) }, (_, i) => k + i * NODES)));
  const k = ADULT_PREPROCESSING.numeric.length;
  const st = standardizationFromMoments(sumVectors(parts.map((p) => localMoments(p.x, p.n, p.d, k))), train.d);
  for (const s of [...parts, test]) standardizeInPlace(s.x, s.n, s.d, st);
  const nodes: Node[] = parts.map((p) => splitHeldOut(p, 0.1));

  const rows: BenchResult["rows"] = [];
  const configs: Array<number | null> = [null, ...epsilons];
  for (const eps of configs) {
    const job = LearningJob.parse(base({ epsilon: eps ?? 8, delta }));
    const accs: number[] = [], fed: number[] = [];
    let last: ReturnType<typeof runJob> | null = null;
    for (let s = 0; s < seeds; s++) {
      last = runJob(job, nodes, test, eps !== null, `${eps}/${s}`);
      accs.push(last.testAccuracy);
      const h = last.result.history.at(-1)!;
      if (h.accuracy !== null) fed.push(h.accuracy);
    }
    const p = last!.result.privacy!;
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / Math.max(1, a.length);
    rows.push({
      epsilon: eps === null ? "∞ (no noise)" : eps,
      rho: eps === null ? "—" : Number(p.rhoTotal.toPrecision(4)),
      "ρ/round": eps === null ? "—" : Number(p.rhoPerRound.toPrecision(3)),
      "ε spent": eps === null ? "—" : Number(p.epsilonSpent.toFixed(3)),
      "σ update (per node)": eps === null ? 0 : Number(p.sigmaUpdate.toPrecision(3)),
      "test acc (mean)": Number((100 * mean(accs)).toFixed(2)),
      "test acc (min..max)": `${(100 * Math.min(...accs)).toFixed(2)}..${(100 * Math.max(...accs)).toFixed(2)}`,
      "fed. eval acc": fed.length ? Number((100 * mean(fed)).toFixed(2)) : "—",
      "s / job": Number(last!.seconds.toFixed(1)),
    });
  }
  return {
    name: "dp-learning",
    rows,
    notes: [
      `adult logistic regression (105 features), ${NODES} nodes, ${train.n} training rows round-robin (10 % of each held out), test on adult-test.csv (${test.n} rows)`,
      `DP-FedSGD: ${rounds} training rounds + final evaluation, batch ${batch} rows per node and round, per-example clip ${clip}, SGD step ${lr}, FedAvg server rate 1; δ = ${delta}; ${seeds} runs per row (test accuracy mean and range)`,
      "ε is the whole job's budget per node (replace-one, example level); σ is each node's own noise on its Σ of clipped gradients (the release has √5 times that)",
      "'∞ (no noise)' is the same algorithm without noise (non-private federated); MASCOT is simulated by Σ(x_j + z_j) with each node's z_j sampled as the party does (same distribution as the opened Σx + r⊙Σz)",
      "standardisation from the exact federated moments (a private stats job in deployment, not counted)",
      "fed. eval acc: the final model's federated evaluation on the nodes' held-out rows, from the noisy sums for the private rows (3,256 rows; its noise spends the final round's ρ)",
      loadNote(),
    ],
  };
}
