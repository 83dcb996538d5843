/**
 * Server optimisers on the aggregated mean update, after Reddi et al., "Adaptive Federated
 * Optimization" (ICLR 2021), Algorithm 2. With Δ_t the weighted mean client update
 * (w_local − w_global) of round t:
 *   FedAvg:  x_{t+1} = x_t + η·Δ_t                                   (η = 1: model averaging)
 *   m_t = β1·m_{t−1} + (1 − β1)·Δ_t
 *   FedAdam: v_t = β2·v_{t−1} + (1 − β2)·Δ_t²
 *   FedYogi: v_t = v_{t−1} − (1 − β2)·Δ_t²·sign(v_{t−1} − Δ_t²)
 *   x_{t+1} = x_t + η·m_t / (√v_t + τ)
 * with m_{−1} = 0 and v_{−1} = τ² (the paper's v_{−1} ≥ τ²); no bias correction, as in the paper.
 * FedProx changes only the client objective; its server step is FedAvg's.
 * State is plain arrays so the coordinator can persist it between rounds.
 */
import type { Strategy } from "./spec.ts";
import { finishWeightedMean } from "./aggregate.ts";

/** Persistent server-optimiser state. `m`/`v` are null for FedAvg/FedProx. */
export interface ServerState {
  kind: Strategy["kind"];
  /** Rounds applied so far. */
  round: number;
  m: Float64Array | null;
  v: Float64Array | null;
}

/** Fresh state for a model of `dim` parameters. Throws RangeError on a bad dimension. */
export function serverInit(strategy: Strategy, dim: number): ServerState {
  if (!Number.isSafeInteger(dim) || dim <= 0) throw new RangeError(`serverInit: bad dimension ${dim}`);
  if (strategy.kind === "fedadam" || strategy.kind === "fedyogi") {
    return { kind: strategy.kind, round: 0, m: new Float64Array(dim), v: new Float64Array(dim).fill(strategy.tau * strategy.tau) };
  }
  return { kind: strategy.kind, round: 0, m: null, v: null };
}

/**
 * One server step: returns the new global weights and state (inputs are not modified).
 * Throws RangeError on length mismatches, a state of another strategy, or a non-finite update.
 */
export function serverStep(
  strategy: Strategy,
  state: ServerState,
  weights: ArrayLike<number>,
  meanDelta: ArrayLike<number>,
): { weights: Float64Array; state: ServerState } {
  const d = weights.length;
  if (meanDelta.length !== d) throw new RangeError(`serverStep: update length ${meanDelta.length} ≠ weights ${d}`);
  if (state.kind !== strategy.kind) throw new RangeError(`serverStep: state is for ${state.kind}, strategy is ${strategy.kind}`);
  for (let i = 0; i < d; i++) if (!Number.isFinite(meanDelta[i]!)) throw new RangeError(`serverStep: non-finite update at ${i}`);
  const out = new Float64Array(d);
  if (strategy.kind === "fedavg" || strategy.kind === "fedprox") {
    const eta = strategy.serverLearningRate;
    for (let i = 0; i < d; i++) out[i] = weights[i]! + eta * meanDelta[i]!;
    return { weights: out, state: { ...state, round: state.round + 1 } };
  }
  const { eta, beta1, beta2, tau } = strategy;
  if (!state.m || !state.v || state.m.length !== d || state.v.length !== d) throw new RangeError("serverStep: adaptive state missing or of the wrong size");
  const m = new Float64Array(d);
  const v = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const g = meanDelta[i]!;
    const g2 = g * g;
    m[i] = beta1 * state.m[i]! + (1 - beta1) * g;
    const vPrev = state.v[i]!;
    v[i] = strategy.kind === "fedadam" ? beta2 * vPrev + (1 - beta2) * g2 : vPrev - (1 - beta2) * g2 * Math.sign(vPrev - g2);
    out[i] = weights[i]! + (eta * m[i]!) / (Math.sqrt(v[i]!) + tau);
  }
  return { weights: out, state: { kind: state.kind, round: state.round + 1, m, v } };
}

/**
 * The coordinator's reduce for one round: from the decoded secure sum [Σ n_k·Δ_k ‖ Σ n_k]
 * (after `decodeFixed`) to the next global weights and server state. Throws RangeError as
 * {@link finishWeightedMean} and {@link serverStep} do.
 */
export function applyAggregate(
  strategy: Strategy,
  state: ServerState,
  weights: ArrayLike<number>,
  decodedSum: ArrayLike<number>,
): { weights: Float64Array; state: ServerState; totalSamples: number } {
  const { meanDelta, totalSamples } = finishWeightedMean(decodedSum);
  const step = serverStep(strategy, state, weights, meanDelta);
  return { ...step, totalSamples };
}
