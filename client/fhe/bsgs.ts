/**
 * Single-row MLP inference: diagonal (Halevi–Shoup) matrix–vector products with baby-step
 * giant-step rotations. Pure planning code (no SEAL); the encrypted evaluation is in
 * evaluator.ts (`PlanEvaluator.evaluateSingle` on a multi-layer plan).
 *
 * Period D = nextPow2(max(inputDim, outputDim)) — from the model's public shape only; the hidden
 * widths stay private to the model holder and the Worker. Every layer is cut into D × D
 * blocks (zero-padded; a layer wider than D is held as several ciphertexts). For one block M
 * and an input x of period p (p | D), y = Σ_{k<p} diag_k ⊙ rot(x, k) with
 * diag_k[r] = M[r][(r + k) mod p].
 *
 * First layer — "rotated replication" (when D² ≤ slots): the querier's one ciphertext holds
 * rot(x, t) in block t of D slots (slot t·D + r = x[(r + t) mod D], repeated with period D²),
 * which is the input "replicated as needed for the rotations": the whole first layer is ONE
 * plaintext product with P[t·D + r] = diag_t[r], a rescale, and a fold over the D blocks by
 * rotations of D, 2D, …, D²/2 (log2 D rotations, at the next level, cheaper than at level 0).
 * The fold is a complete cyclic sum in every slot, so the result is y, periodic with period D.
 *
 * Later layers (and the first one when D² > slots, the querier then tiles x with period
 * nextPow2(inputDim)): baby-step giant-step with k = j·b + i (b = ⌈√D⌉), the giant steps on the
 * input and the baby steps on the products:
 *
 *   y = Σ_i rot( Σ_j rot(diag_{jb+i}, −i) ⊙ rot(x, jb), i )
 *     = w_0 + rot(w_1 + rot(w_2 + … , 1), 1)        (Horner over the baby steps)
 *
 * Giant rotations rot(x, jb) are chained steps of b at the input's level; each partial sum w_i is
 * rescaled before the Horner steps of 1, so those rotations run one level down, one prime fewer
 * (key switching costs ~ primes × (primes + 1): for the 64-16-10 MLP's last layer 7 of its 8
 * rotations run at one prime instead of two, measured 1.5 against 3.1 ms each, for 7 more
 * rescales of 0.7 ms). Galois keys for steps 1 and b only, and ⌈√p⌉ − 1 + ⌈p/b⌉ − 1 rotations
 * instead of p − 1. A hidden layer of width
 * h ≤ D writes its outputs replicated with period p = nextPow2(h) (row r of the block is output
 * r mod p), so the next layer needs only p diagonals (optdigits 64-16-10: 16, i.e. 7 baby + 1
 * giant rotation). The last layer's padded rows have zero weights and zero bias: the result is
 * the logits in slots 0 … outputDim − 1 of every period and ≈ 0 elsewhere. No partial sum
 * (which would reveal weights) is ever returned — the querier learns the scores only, as with
 * rotate-and-sum.
 */
/** The least power of two ≥ n (1 for n ≤ 1). */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Largest period D the path serves (BSGS-only beyond D² > slots; the plaintext cache grows with D). */
export const BSGS_MAX_DIM = 1024;

export interface BsgsSchedule {
  /** The block size (period) D. */
  d: number;
  /** Baby-step count b = ⌈√d⌉: rotations by 0 … b − 1 (Horner steps of 1 over the rescaled partial sums). */
  baby: number;
  /** Giant-step count g = ⌈d / b⌉: rotations of the input by 0, b, …, (g − 1)·b (chained steps of b). */
  giant: number;
  /** Galois steps the schedule needs keys for: [1, b] (deduplicated, without 0). */
  keySteps: number[];
  /** Rotations per D × D block with every diagonal present: (b − 1) + (g − 1). */
  rotations: number;
}

/** The baby-step giant-step schedule for period `d` (any d ≥ 1, not only squares). */
export function bsgsSchedule(d: number): BsgsSchedule {
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`BSGS period must be a positive integer, got ${d}`);
  const baby = Math.ceil(Math.sqrt(d));
  const giant = Math.ceil(d / baby);
  const keySteps = [...new Set([baby > 1 ? 1 : 0, giant > 1 ? baby : 0])].filter((s) => s > 0);
  return { d, baby, giant, keySteps, rotations: baby - 1 + (giant - 1) };
}

/** The period D the single-row MLP path uses for a model's public shape. */
export function bsgsDim(inputDim: number, outputDim: number): number {
  return nextPow2(Math.max(inputDim, outputDim));
}

/**
 * Whether a model with this public shape can use the path under `slots` slots: D divides
 * the slot count (both powers of two) and D ≤ {@link BSGS_MAX_DIM}.
 */
export function bsgsFits(inputDim: number, outputDim: number, slots: number): boolean {
  const d = bsgsDim(inputDim, outputDim);
  return d <= slots && d <= BSGS_MAX_DIM;
}

/** The single-row layout for a public shape: both sides derive it from (inputDim, outputDim, slots). */
export interface SingleLayout {
  d: number;
  /** First layer from the querier's rotated replication (D² ≤ slots), else BSGS on a tiled row. */
  rotated: boolean;
  /** Fold steps D, 2D, …, D²/2 (rotated layout only). */
  foldSteps: number[];
  /** BSGS schedule of the later layers. */
  schedule: BsgsSchedule;
  /** Every Galois step the path uses (sorted). */
  keySteps: number[];
}

export function singleLayout(inputDim: number, outputDim: number, slots: number): SingleLayout {
  const d = bsgsDim(inputDim, outputDim);
  const rotated = d * d <= slots && d > 1;
  const foldSteps: number[] = [];
  if (rotated) for (let s = d; s < d * d; s *= 2) foldSteps.push(s);
  const schedule = bsgsSchedule(d);
  const keySteps = [...new Set([...schedule.keySteps, ...foldSteps])].sort((a, b) => a - b);
  return { d, rotated, foldSteps, schedule, keySteps };
}

/** Galois steps the querier generates keys for (from the public shape). */
export function bsgsKeySteps(inputDim: number, outputDim: number, slots: number): number[] {
  return singleLayout(inputDim, outputDim, slots).keySteps;
}

/**
 * The querier's rotated replication of `row` (D² ≤ slots): slot s holds x[(r + t) mod D] with
 * r = s mod D, t = ⌊s / D⌋ mod D (x zero-padded to D).
 */
export function rotatedInput(row: ArrayLike<number>, d: number, slots: number): Float64Array {
  const v = new Float64Array(slots);
  for (let s = 0; s < slots; s++) {
    const c = ((s % d) + (Math.floor(s / d) % d)) % d;
    v[s] = c < row.length ? row[c]! : 0;
  }
  return v;
}

/**
 * How block rows map to the layer's outputs: `period` > 0 replicates outputs 0 … period − 1
 * (a hidden layer no wider than D: the next layer then needs only `period` diagonals);
 * 0 places output ob·D + r at row r (the last layer: padded rows are 0; layers wider than D).
 */
export function rowPeriod(outDim: number, d: number, last: boolean): number {
  return !last && outDim <= d ? nextPow2(outDim) : 0;
}

/**
 * The diagonals diag_k (k < pIn) of block (ob, ib) of `weights` ([in][out], plan layout) as
 * length-D vectors: diag_k[r] = M[r][(r + k) mod pIn], M[r][c] = weights[ib·D + c][row(r)]
 * (0 outside the matrix), row(r) = r mod period, or ob·D + r when period is 0. All-zero
 * diagonals are undefined.
 */
export function blockDiagonals(weights: number[][], ob: number, ib: number, d: number, pIn: number, period: number): Array<Float64Array | undefined> {
  const inDim = weights.length;
  const outDim = weights[0]?.length ?? 0;
  const out: Array<Float64Array | undefined> = [];
  for (let k = 0; k < pIn; k++) {
    const v = new Float64Array(d);
    let any = false;
    for (let r = 0; r < d; r++) {
      const col = period > 0 ? r % period : ob * d + r;
      if (period > 0 && col >= outDim) continue;
      const row = ib * d + ((r + k) % pIn);
      if (row >= inDim || col >= outDim) continue;
      const w = weights[row]![col]!;
      v[r] = w;
      if (w !== 0) any = true;
    }
    out.push(any ? v : undefined);
  }
  return out;
}

/**
 * One block as BSGS terms: `terms[i]` lists the (j, vector) pairs of baby step i,
 * vector = rot(diag_{jb+i}, −i) (length D), to multiply with rot(x, jb). All-zero diagonals are
 * left out.
 */
export interface BsgsBlock {
  terms: Array<Array<{ j: number; v: Float64Array }>>;
}

export function bsgsTerms(diags: Array<Float64Array | undefined>, s: BsgsSchedule): BsgsBlock {
  const { baby } = s;
  const terms: BsgsBlock["terms"] = Array.from({ length: Math.min(baby, diags.length) }, () => []);
  diags.forEach((diag, k) => {
    if (!diag) return;
    const i = k % baby;
    terms[i]!.push({ j: Math.floor(k / baby), v: rotPlain(diag, -i) });
  });
  return { terms };
}

/** BSGS terms of block (ob, ib) of a D × D-padded matrix, every diagonal (input period D, rows not replicated). */
export function bsgsBlock(weights: number[][], ob: number, ib: number, s: BsgsSchedule): BsgsBlock {
  return bsgsTerms(blockDiagonals(weights, ob, ib, s.d, s.d, 0), s);
}

/** The first layer's plaintext in the rotated layout: P[s] = diag_t[r], r = s mod D, t = ⌊s / D⌋ mod D. */
export function rotatedPlain(diags: Array<Float64Array | undefined>, d: number, slots: number): Float64Array {
  const p = new Float64Array(slots);
  for (let s = 0; s < slots; s++) {
    const diag = diags[Math.floor(s / d) % d];
    if (diag) p[s] = diag[s % d]!;
  }
  return p;
}

/** Cyclic left rotation of a vector: out[r] = v[(r + k) mod length]. */
export function rotPlain(v: Float64Array, k: number): Float64Array {
  const d = v.length;
  const out = new Float64Array(d);
  for (let r = 0; r < d; r++) out[r] = v[(((r + k) % d) + d) % d]!;
  return out;
}

/**
 * Plaintext simulation of one block's BSGS product in exactly the evaluator's order (giant steps
 * of b chained on the input, Horner steps of 1 over the baby steps' partial sums), counting
 * rotations. For tests and documentation.
 */
export function simulateBlock(block: BsgsBlock, x: Float64Array, s: BsgsSchedule): { y: Float64Array; rotations: number; steps: Set<number> } {
  let rotations = 0;
  const steps = new Set<number>();
  const maxJ = Math.max(0, ...block.terms.flat().map((t) => t.j));
  const giants: Float64Array[] = [x];
  for (let j = 1; j <= maxJ; j++) {
    giants.push(rotPlain(giants[j - 1]!, s.baby));
    rotations++;
    steps.add(s.baby);
  }
  let acc: Float64Array | undefined;
  for (let i = block.terms.length - 1; i >= 0; i--) {
    if (acc) {
      acc = rotPlain(acc, 1);
      rotations++;
      steps.add(1);
    }
    const terms = block.terms[i]!;
    if (!terms.length) continue;
    const w = new Float64Array(s.d);
    for (const { j, v } of terms) for (let t = 0; t < s.d; t++) w[t]! += v[t]! * giants[j]![t]!;
    if (acc) for (let t = 0; t < s.d; t++) acc[t]! += w[t]!;
    else acc = w;
  }
  return { y: acc ?? new Float64Array(s.d), rotations, steps };
}

/** Plaintext simulation of the rotated first layer: P ⊙ input, then the fold. */
export function simulateRotated(p: Float64Array, input: Float64Array, layout: SingleLayout): { y: Float64Array; rotations: number } {
  let acc = p.map((w, s) => w * input[s]!);
  for (const st of layout.foldSteps) {
    const r = rotPlain(acc, st);
    acc = acc.map((v, s) => v + r[s]!);
  }
  return { y: acc.subarray(0, layout.d), rotations: layout.foldSteps.length };
}
