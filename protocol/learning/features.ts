/**
 * Feature encoding declared by a job's `preprocessing`: numeric columns (optionally
 * standardised with a federated mean/std), then one-hot blocks for categorical columns.
 *
 * Standardisation uses a statistics round: each node contributes, for every numeric
 * feature j, [count_j, Σx_j, Σx_j²] over its training rows (missing values skipped); the
 * securely summed vector gives mean_j = Σx/count, std_j = √(Σx²/count − mean²) (population).
 * One-hot features keep mean 0, std 1, so mean/std have inputDim entries, matching the
 * DenseModel `preprocessing` of ARCHITECTURE.md.
 */
import type { Preprocessing } from "./spec.ts";

/** Standardisation parameters over all inputDim features. */
export interface Standardization { mean: number[]; std: number[] }

/** Smallest std used; constant features are centred but not scaled. */
export const MIN_STD = 1e-8;

/** Number of features a preprocessing spec encodes. */
export function encodedDim(pre: Preprocessing): number {
  return pre.numeric.length + pre.categorical.reduce((a, c) => a + c.levels.length, 0);
}

/** Feature names in order: numeric column names, then `column=level`. */
export function featureNames(pre: Preprocessing): string[] {
  return [...pre.numeric, ...pre.categorical.flatMap((c) => c.levels.map((l) => `${c.column}=${l}`))];
}

function parseNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const t = v.trim();
    if (t === "" || t === "?") return NaN;
    const x = Number(t);
    return Number.isFinite(x) ? x : NaN;
  }
  return NaN;
}

/**
 * Encodes one raw row (column name → value) into `out` at `offset` (or a fresh array).
 * Missing or unparsable numeric values become NaN (to be imputed by {@link standardizeInPlace});
 * an unknown categorical level encodes as all zeros.
 */
export function encodeRow(pre: Preprocessing, row: Readonly<Record<string, unknown>>, out?: Float32Array | Float64Array, offset = 0): Float32Array | Float64Array {
  const o = out ?? new Float64Array(encodedDim(pre));
  let k = offset;
  for (const c of pre.numeric) o[k++] = parseNumber(row[c]);
  for (const c of pre.categorical) {
    const raw = row[c.column];
    const v = typeof raw === "string" ? raw.trim() : String(raw ?? "");
    for (const l of c.levels) o[k++] = l === v ? 1 : 0;
  }
  return o;
}

/**
 * Node side of the statistics round: [count_1..k, Σx_1..k, Σx²_1..k] over the first k =
 * numeric.length features of the row-major matrix x (n × d), skipping NaN.
 */
export function localMoments(x: ArrayLike<number>, n: number, d: number, k: number): Float64Array {
  if (k > d || x.length < n * d) throw new RangeError(`localMoments: bad sizes n=${n} d=${d} k=${k}`);
  const out = new Float64Array(3 * k);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < k; j++) {
      const v = x[r * d + j]!;
      if (Number.isNaN(v)) continue;
      out[j]! += 1;
      out[k + j]! += v;
      out[2 * k + j]! += v * v;
    }
  }
  return out;
}

/**
 * Server side: mean/std over inputDim features from summed moments of the k numeric
 * features (one-hot features get mean 0, std 1). A feature with no observations gets mean 0.
 */
export function standardizationFromMoments(sum: ArrayLike<number>, inputDim: number): Standardization {
  if (sum.length % 3 !== 0 || sum.length / 3 > inputDim) throw new RangeError(`standardizationFromMoments: bad length ${sum.length}`);
  const k = sum.length / 3;
  const mean = new Array<number>(inputDim).fill(0);
  const std = new Array<number>(inputDim).fill(1);
  for (let j = 0; j < k; j++) {
    const c = sum[j]!;
    if (!(c > 0)) continue;
    const m = sum[k + j]! / c;
    const varc = Math.max(0, sum[2 * k + j]! / c - m * m);
    mean[j] = m;
    std[j] = Math.max(Math.sqrt(varc), MIN_STD);
  }
  return { mean, std };
}

/** x ← (x − mean)/std in place, row-major n × d; NaN (missing) becomes 0, i.e. mean imputation. */
export function standardizeInPlace(x: Float32Array | Float64Array, n: number, d: number, s: Standardization): void {
  if (s.mean.length !== d || s.std.length !== d) throw new RangeError(`standardizeInPlace: mean/std length ≠ ${d}`);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) {
      const i = r * d + j;
      const v = x[i]!;
      x[i] = Number.isNaN(v) ? 0 : (v - s.mean[j]!) / s.std[j]!;
    }
  }
}
