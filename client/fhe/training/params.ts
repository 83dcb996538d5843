/**
 * CKKS parameters for encrypted training, sized for a stated number of iterations. SEAL has no
 * bootstrapping, so every iteration consumes levels (nag.ts `levelsPerIteration`) and a block of
 * iterations needs a chain [60, levels × scale, 60] within the 128-bit budget of N ≤ 32768
 * (SEAL enforces the security level again when the context is built). More iterations than one
 * block holds run as several blocks with an owner-assisted refresh in between.
 *
 * Besides the modulus budget, the key-switching keys bound the depth: one key holds
 * (L + 1)·(L + 2)·2N 64-bit words for L levels, and the server needs relinearisation plus
 * log2(N/2) Galois keys; their total is capped at {@link MAX_KEY_BYTES} of SEAL (WASM) memory.
 */
import { MAX_BITS_128, type CkksParams } from "../params.ts";
import { blockLevels, checkNagConfig, type NagConfig } from "./nag.ts";

export const OUTER_BITS = 60;
/**
 * Outer (first and special) primes tried after {@link OUTER_BITS} at each N: 50 bits leave 11 bits
 * of integer headroom over a 39-bit scale, enough for the training values (inner products u/8,
 * weights, gradients; measured max |Δβ| 2e-6 against the reference), and let N = 8192 hold 3
 * levels — one degree-3 iteration after a refresh — with 34 MB of keys instead of N = 16384's 73 MB
 * (the block that fits a Worker isolate, docs/fhe.md "Worker").
 */
export const COMPACT_OUTER_BITS = 50;
/** The compact outer primes are used only with a scale of at least 2^39 (the measured configuration; ≥ 11 bits of headroom). */
export const COMPACT_MIN_SCALE_BITS = 39;
/** Below 2^36 the weights drift from the plaintext reference by more than 1e-3 (measured: 1.3e-3 at 2^35, 2.5e-5 at 2^40). */
export const MIN_SCALE_BITS = 36;
export const MAX_SCALE_BITS = 40;
/**
 * Cap on the server's evaluation keys in SEAL memory. The WASM heap stops at 4 GiB, and the
 * heap peaks at several times the keys (generation, serialisation, loading): measured 2987 MiB
 * for N = 32768 with 9 levels (825 MiB of keys). With 512 MiB, degree-3 blocks stay at
 * N = 16384 (≤ 8 levels, heap ≈ 620 MiB); pass a larger cap to `planTraining` to go deeper.
 */
export const MAX_KEY_BYTES = 2 ** 29;
const DEGREES = [8192, 16384, 32768] as const;

/** Bytes of the server's evaluation keys in SEAL memory (relin + log2(N/2) Galois) for `levels` levels at degree n. */
export function keyBytes(n: number, levels: number): number {
  const perKey = (levels + 1) * (levels + 2) * 2 * n * 8;
  return perKey * (Math.log2(n / 2) + 1);
}

/**
 * Smallest N (then 60-bit outer primes before {@link COMPACT_OUTER_BITS}, then the largest scale
 * ≤ 2^40) whose 128-bit chain holds `levels` levels at a scale of at least 2^36 (2^39 with the
 * compact outer primes) with keys under {@link MAX_KEY_BYTES}, or undefined.
 */
export function trainingParams(levels: number, maxKeyBytes = MAX_KEY_BYTES): CkksParams | undefined {
  if (!Number.isInteger(levels) || levels < 1) throw new RangeError(`levels must be a positive integer, got ${levels}`);
  for (const n of DEGREES) {
    for (const outer of [OUTER_BITS, COMPACT_OUTER_BITS]) {
      const scaleBits = Math.min(MAX_SCALE_BITS, Math.floor((MAX_BITS_128[n]! - 2 * outer) / levels));
      if (scaleBits < (outer === OUTER_BITS ? MIN_SCALE_BITS : COMPACT_MIN_SCALE_BITS) || levels + 2 > 20 || keyBytes(n, levels) > maxKeyBytes) continue;
      return { polyModulusDegree: n, coeffModulusBits: [outer, ...Array<number>(levels).fill(scaleBits), outer], scaleBits, securityLevel: 128 };
    }
  }
  return undefined;
}

/** The deepest block any allowed parameters hold. */
export function maxLevels(maxKeyBytes = MAX_KEY_BYTES): number {
  let best = 0;
  for (let l = 1; l <= 18; l++) if (trainingParams(l, maxKeyBytes)) best = l;
  return best;
}

/** Iterations in one block within `levels`: from zero weights, and after a refresh. */
export function iterationsWithin(levels: number, degree: NagConfig["degree"]): { fromZero: number; refreshed: number } {
  let fromZero = 0, refreshed = 0;
  while (blockLevels(degree, fromZero + 1, true) <= levels) fromZero++;
  while (blockLevels(degree, refreshed + 1, false) <= levels) refreshed++;
  return { fromZero, refreshed };
}

/** A training run: parameters and the blocks [from, to) of iterations between refreshes. */
export interface TrainingPlan {
  params: CkksParams;
  /** Levels the deepest block uses (≤ the chain's). */
  levels: number;
  blocks: Array<{ from: number; to: number }>;
}

/**
 * Plans `cfg.iterations` iterations, refreshing every `refreshEvery` (default: never). Throws
 * RangeError, before any work, when a block needs more levels than 128-bit parameters with
 * N ≤ 32768 (and the key budget) allow, saying which --refresh-every would fit.
 */
export function planTraining(cfg: NagConfig, refreshEvery?: number, maxKeyBytes = MAX_KEY_BYTES): TrainingPlan {
  checkNagConfig(cfg);
  const every = refreshEvery ?? cfg.iterations;
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`refreshEvery must be a positive integer, got ${refreshEvery}`);
  const blocks: TrainingPlan["blocks"] = [];
  for (let from = 0; from < cfg.iterations; from += every) blocks.push({ from, to: Math.min(cfg.iterations, from + every) });
  const levels = Math.max(...blocks.map((b) => blockLevels(cfg.degree, b.to - b.from, b.from === 0)));
  const params = trainingParams(levels, maxKeyBytes);
  if (!params) {
    const max = maxLevels(maxKeyBytes);
    const fit = iterationsWithin(max, cfg.degree);
    const b = Math.min(fit.fromZero, fit.refreshed);
    const hint = b >= 1 ? `; refresh the weights every ${b} iteration${b > 1 ? "s" : ""} or fewer (--refresh-every ${b})` : "";
    throw new RangeError(
      `${cfg.iterations} iterations with a degree-${cfg.degree} sigmoid${refreshEvery ? ` and a refresh every ${every}` : " without refresh"} need ${levels} levels per block; ` +
        `128-bit CKKS parameters (N ≤ 32768, scale ≥ 2^${MIN_SCALE_BITS}, keys ≤ ${maxKeyBytes / 2 ** 20} MiB) hold at most ${max} (${fit.fromZero} iterations from zero weights)${hint}`,
    );
  }
  return { params, levels, blocks };
}
