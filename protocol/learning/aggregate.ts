/**
 * Weighted aggregation semantics (FedAvg, McMahan et al. 2017, Algorithm 1).
 *
 * Node k sends the vector [n_k·Δ_k ‖ n_k] (its sample-weighted update and its sample count);
 * the secure sum reveals only [Σ n_k·Δ_k ‖ Σ n_k]; the server divides:
 *   Δ = Σ n_k·Δ_k / Σ n_k.
 * Evaluation is aggregated the same way, as sums: [Σ loss, Σ correct, Σ count].
 */

/** Node side: [n·Δ_1, …, n·Δ_d, n]. Throws RangeError if n is not a positive safe integer. */
export function weightedContribution(delta: ArrayLike<number>, samples: number): Float64Array {
  if (!Number.isSafeInteger(samples) || samples <= 0) throw new RangeError(`weightedContribution: samples must be a positive integer, got ${samples}`);
  const out = new Float64Array(delta.length + 1);
  for (let i = 0; i < delta.length; i++) out[i] = delta[i]! * samples;
  out[delta.length] = samples;
  return out;
}

/** Plaintext element-wise sum of equal-length vectors (simulation and tests; production sums via MASCOT). */
export function sumVectors(vs: readonly ArrayLike<number>[]): Float64Array {
  if (vs.length === 0) throw new RangeError("sumVectors: no vectors");
  const n = vs[0]!.length;
  const out = new Float64Array(n);
  for (const v of vs) {
    if (v.length !== n) throw new RangeError(`sumVectors: length ${v.length} ≠ ${n}`);
    for (let i = 0; i < n; i++) out[i]! += v[i]!;
  }
  return out;
}

/**
 * Server side: splits an aggregated [Σ n_k·Δ_k ‖ Σ n_k] into the mean update and the total
 * sample count. Throws RangeError if the total is not positive (nothing to average).
 */
export function finishWeightedMean(sum: ArrayLike<number>): { meanDelta: Float64Array; totalSamples: number } {
  if (sum.length < 2) throw new RangeError("finishWeightedMean: vector too short");
  const d = sum.length - 1;
  const total = Math.round(sum[d]!);
  if (!(total > 0)) throw new RangeError(`finishWeightedMean: total sample count ${total} is not positive`);
  const meanDelta = new Float64Array(d);
  for (let i = 0; i < d; i++) meanDelta[i] = sum[i]! / total;
  return { meanDelta, totalSamples: total };
}

/** Evaluation contribution of one node on its held-out rows, as sums so it can be securely aggregated. */
export interface EvalSums {
  /** Σ per-sample loss (cross-entropy, natural log). */
  lossSum: number;
  /** Number of correctly classified rows. */
  correct: number;
  /** Number of rows evaluated. */
  count: number;
}

/** Evaluation as a vector [lossSum, correct, count] for the secure sum. */
export function evalVector(e: EvalSums): Float64Array {
  return Float64Array.of(e.lossSum, e.correct, e.count);
}

/** Federated metrics from summed evaluation vectors. Throws RangeError if the count is zero. */
export function finishEval(sum: ArrayLike<number>): { loss: number; accuracy: number; count: number } {
  if (sum.length !== 3) throw new RangeError(`finishEval: expected 3 entries, got ${sum.length}`);
  const count = Math.round(sum[2]!);
  if (!(count > 0)) throw new RangeError("finishEval: no evaluated rows");
  return { loss: sum[0]! / count, accuracy: sum[1]! / count, count };
}
