/**
 * In-process federated simulation with plaintext aggregation — for tests and benchmarks
 * only (no MPC, no network). It runs the same code paths as a real job: federated
 * standardisation from summed moments, local training, [n·Δ ‖ n] contributions, fixed-point
 * quantisation with the job's bounds (and the L2 bound asserted), the server optimiser,
 * federated evaluation sums and the stopping rules; and compares with central training on
 * the union of the nodes' training slices with the same hyper-parameters.
 */
import { createLocalModel, mulberry32, type LocalModel } from "./model.ts";
import { concatDatasets, subset, type Dataset } from "./datasets.ts";
import type { ModelSpec } from "../../protocol/learning/spec.ts";
import { evalVector, finishEval, finishWeightedMean, sumVectors, weightedContribution } from "../../protocol/learning/aggregate.ts";
import { serverInit, serverStep } from "../../protocol/learning/server.ts";
import { shouldStop, type RoundMetrics, type StoppingRule } from "../../protocol/learning/stopping.ts";
import { dequantize, planUpdateEncoding, quantize, validateContribution, type UpdateEncodingPlan } from "../../protocol/learning/bounds.ts";
import { localMoments, standardizationFromMoments, standardizeInPlace, type Standardization } from "../../protocol/learning/features.ts";

/** 2^61 − 1, the default MASCOT field (DESIGN.md §4). */
export const M61 = (1n << 61n) - 1n;

export interface SimulationConfig {
  spec: ModelSpec;
  train: Dataset;
  test: Dataset;
  /** Number of nodes (default 5). */
  nodes?: number;
  /** Rounds to run unless `stopping` stops earlier. */
  rounds: number;
  /** "iid": seeded shuffle, round-robin; "by-class": rows sorted by label, contiguous slices (pathological non-IID). */
  split?: "iid" | "by-class";
  /**
   * Standardise the first `numericFeatures` features with the federated mean/std. Defaults:
   * spec.preprocessing.standardize (else false) and spec.preprocessing.numeric.length (else all).
   */
  standardize?: boolean;
  numericFeatures?: number;
  /** Fraction of each node's rows held out for federated evaluation (default 0.1). */
  evalFraction?: number;
  /** Quantise contributions to fixed point as MASCOT would (requires spec.clipNorm; default true when clipNorm is set). */
  fixedPoint?: boolean;
  stopping?: StoppingRule;
  /** Evaluate every round's global model on the test set (default true; false saves time, testAccuracy is then NaN). */
  trackTest?: boolean;
  /** Also train centrally on the union (default true). */
  central?: boolean;
  /**
   * Test/bench only: node `node` skips honest clipping and multiplies its contribution by
   * `scale` (from round `fromRound`, default 1). With fixed point on, validation (the
   * plaintext reference of MASCOT's range + L2 predicates) names and excludes it.
   */
  misbehave?: { node: number; scale: number; fromRound?: number };
  /** Called after every round. */
  onRound?: (r: RoundLog) => void;
}

export interface RoundLog extends RoundMetrics {
  /** Accuracy of the round's global model on the test set (reported, not used for decisions). */
  testAccuracy: number;
  /** Mean local training time per node, ms. */
  localMillis: number;
  /** Nodes whose update was clipped. */
  clippedNodes: number;
  maxUpdateNorm: number;
  /** Nodes whose contribution failed validation and was left out of the sum. */
  excluded: number[];
  /** Wall time since the start of round 1 up to the end of this round's evaluation, ms. */
  elapsedMillis: number;
}

export interface SimulationResult {
  rounds: RoundLog[];
  stoppedBy: "target" | "no-improvement" | "max-rounds" | "rounds";
  federated: { accuracy: number; loss: number; weights: Float64Array };
  central: { accuracy: number; loss: number; millis: number; epochs: number } | null;
  standardization: Standardization | null;
  plan: UpdateEncodingPlan | null;
  nodeSizes: number[];
  /** Wall time of the federated part (all rounds, including evaluation), ms. */
  federatedMillis: number;
}


/** Splits row indices 0..n-1 among `nodes` (deterministic given the seed). */
export function splitIndices(ds: Dataset, nodes: number, mode: "iid" | "by-class", seed: number): number[][] {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > ds.n) throw new RangeError(`splitIndices: bad node count ${nodes}`);
  const idx = Array.from({ length: ds.n }, (_, i) => i);
  const rand = mulberry32(seed ^ 0x5eed);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  const out: number[][] = Array.from({ length: nodes }, () => []);
  if (mode === "iid") {
    idx.forEach((r, i) => out[i % nodes]!.push(r));
  } else {
    idx.sort((a, b) => ds.y[a]! - ds.y[b]! || a - b);
    const per = Math.ceil(ds.n / nodes);
    idx.forEach((r, i) => out[Math.min(nodes - 1, Math.floor(i / per))]!.push(r));
  }
  return out;
}

function copyDs(ds: Dataset): Dataset {
  return { ...ds, x: ds.x.slice(), y: ds.y.slice() };
}

/** Runs the simulation; see {@link SimulationConfig}. Disposes every model it creates. */
export async function simulateFederated(cfg: SimulationConfig): Promise<SimulationResult> {
  const { spec } = cfg;
  const nodes = cfg.nodes ?? 5;
  const evalFraction = cfg.evalFraction ?? 0.1;
  const parts = splitIndices(cfg.train, nodes, cfg.split ?? "iid", spec.seed);
  const trainSlices: Dataset[] = [];
  const evalSlices: Dataset[] = [];
  for (const p of parts) {
    const nEval = Math.floor(p.length * evalFraction);
    trainSlices.push(subset(cfg.train, p.slice(nEval)));
    evalSlices.push(subset(cfg.train, p.slice(0, nEval)));
  }
  const test = copyDs(cfg.test);

  // Statistics round: Σ moments over nodes' training rows → mean/std → every node standardises.
  let standardization: Standardization | null = null;
  if (cfg.standardize ?? spec.preprocessing?.standardize ?? false) {
    const k = cfg.numericFeatures ?? spec.preprocessing?.numeric.length ?? spec.inputDim;
    const sum = sumVectors(trainSlices.map((s) => localMoments(s.x, s.n, s.d, k)));
    standardization = standardizationFromMoments(sum, spec.inputDim);
    for (const s of [...trainSlices, ...evalSlices, test]) standardizeInPlace(s.x, s.n, s.d, standardization);
  }

  const model: LocalModel = await createLocalModel(spec);
  const t0 = performance.now();
  const log: RoundLog[] = [];
  let stoppedBy: SimulationResult["stoppedBy"] = "rounds";
  let weights = model.getWeights();
  let plan: UpdateEncodingPlan | null = null;
  try {
    if ((cfg.fixedPoint ?? spec.clipNorm !== undefined) && spec.clipNorm !== undefined) {
      plan = planUpdateEncoding({ p: M61, parties: nodes, dim: model.size, clipNorm: spec.clipNorm, maxSamples: Math.max(...trainSlices.map((s) => s.n)) });
    }
    let state = serverInit(spec.strategy, model.size);
    for (let r = 1; r <= cfg.rounds; r++) {
      const contributions: Float64Array[] = [];
      let localMillis = 0;
      let clippedNodes = 0;
      let maxUpdateNorm = 0;
      const excluded: number[] = [];
      for (let k = 0; k < nodes; k++) {
        const u = model.trainLocal(weights, trainSlices[k]!, { round: r, salt: k });
        localMillis += u.millis;
        if (u.clipped) clippedNodes++;
        maxUpdateNorm = Math.max(maxUpdateNorm, u.norm);
        const bad = cfg.misbehave && cfg.misbehave.node === k && r >= (cfg.misbehave.fromRound ?? 1) ? cfg.misbehave.scale : 0;
        const c = weightedContribution(u.delta, u.samples);
        if (bad) for (let i = 0; i < c.length - 1; i++) c[i]! *= bad;
        if (plan) {
          // A cheating node does not clamp to the job's bound; validation must catch it.
          const q = quantize(c, plan.fracBits, bad ? plan.bound * Math.max(1, Math.abs(bad)) : plan.bound);
          const v = validateContribution(q, plan);
          if (!v.ok) {
            if (!bad) throw new Error(`simulation: honest node ${k} failed validation (${v.reason}); clipping should prevent this`);
            excluded.push(k);
            continue;
          }
          contributions.push(q);
        } else contributions.push(c);
      }
      const summed = sumVectors(contributions);
      const { meanDelta } = finishWeightedMean(plan ? dequantize(summed, plan.fracBits) : summed);
      const step = serverStep(spec.strategy, state, weights, meanDelta);
      weights = step.weights;
      state = step.state;
      // Federated evaluation on held-out rows (falls back to training rows if none are held out).
      const evalSets = evalFraction > 0 ? evalSlices : trainSlices;
      const ev = finishEval(sumVectors(evalSets.map((s) => evalVector(model.evaluate(s, weights)))));
      const te = cfg.trackTest ?? true ? model.evaluate(test, weights) : { correct: NaN, count: 1 };
      const entry: RoundLog = { round: r, loss: ev.loss, accuracy: ev.accuracy, testAccuracy: te.correct / te.count, localMillis: localMillis / nodes, clippedNodes, maxUpdateNorm, excluded, elapsedMillis: performance.now() - t0 };
      log.push(entry);
      cfg.onRound?.(entry);
      if (cfg.stopping) {
        const d = shouldStop(log, cfg.stopping);
        if (d.stop) { stoppedBy = d.reason; break; }
      }
    }
    const federatedMillis = performance.now() - t0;
    const fe = model.evaluate(test, weights);
    const federated = { accuracy: fe.correct / fe.count, loss: fe.lossSum / fe.count, weights };

    let central: SimulationResult["central"] = null;
    if (cfg.central ?? true) {
      // Same hyper-parameters on the union of the training slices, for as many epochs as the
      // federated run performed in total per row (rounds × local epochs); no clipping, no prox.
      const { clipNorm: _c, ...rest } = spec;
      const centralSpec: ModelSpec = { ...rest, strategy: { kind: "fedavg", serverLearningRate: 1 } };
      const cm = await createLocalModel(centralSpec);
      try {
        const epochs = log.length * spec.epochs;
        const init = cm.getWeights();
        const u = cm.trainLocal(init, concatDatasets(trainSlices), { epochs });
        const ce = cm.evaluate(test);
        central = { accuracy: ce.correct / ce.count, loss: ce.lossSum / ce.count, millis: u.millis, epochs };
      } finally {
        cm.dispose();
      }
    }
    return { rounds: log, stoppedBy, federated, central, standardization, plan, nodeSizes: trainSlices.map((s) => s.n), federatedMillis };
  } finally {
    model.dispose();
  }
}
