/**
 * CKKS parameter choice. A chain is [first, depth × scale, special] primes: the first prime
 * holds the integer part (scale + 20 bits of headroom), each level consumes one `scale`-bit
 * prime on rescale, the special prime is for key switching. N = 8192 unless the chain needs
 * more than its 128-bit-security budget (218 bits), then N = 16384 (438 bits).
 */
import { z } from "zod";
import { FheError } from "./errors.ts";

/** CKKS encryption parameters as stored in a model package and used by both sides. */
export interface CkksParams {
  polyModulusDegree: 4096 | 8192 | 16384 | 32768;
  /** Bit sizes of the coefficient-modulus primes, first (data) to last (special). */
  coeffModulusBits: number[];
  /** log2 of the encoding scale Δ. */
  scaleBits: number;
  /** Security level enforced when the SEAL context is built. */
  securityLevel: 128;
  /**
   * "Fast linear" profile only (a chain of one data prime, no level to rescale to): weights
   * are encoded at 2^weightScaleBits and the result is left at scale Δ·2^weightScaleBits.
   */
  weightScaleBits?: number;
}

export const ckksParamsSchema = z.object({
  polyModulusDegree: z.union([z.literal(4096), z.literal(8192), z.literal(16384), z.literal(32768)]),
  coeffModulusBits: z.array(z.number().int().min(20).max(60)).min(2).max(20),
  scaleBits: z.number().int().min(20).max(59),
  securityLevel: z.literal(128),
  weightScaleBits: z.number().int().min(10).max(40).optional(),
});

/** SEAL's CoeffModulus::MaxBitCount at 128-bit security (HE standard table). */
export const MAX_BITS_128: Record<number, number> = { 4096: 109, 8192: 218, 16384: 438, 32768: 881 };

const HEADROOM_BITS = 20;

/**
 * Smallest parameters for `depth` rescales: N = 8192 with scale 2^40 if it fits, then 8192
 * with a smaller scale down to 2^30, then N = 16384 with 2^40. Throws FheError("bad-parameters")
 * for depth < 1 or > 10.
 */
export function paramsForDepth(depth: number): CkksParams {
  if (!Number.isInteger(depth) || depth < 1 || depth > 10) throw new FheError("bad-parameters", `depth must be an integer in [1, 10], got ${depth}`);
  for (const n of [8192, 16384, 32768] as const) {
    for (const scaleBits of n === 8192 ? [40, 36, 33, 30] : [40]) {
      const outer = Math.min(60, scaleBits + HEADROOM_BITS);
      const bits = [outer, ...Array<number>(depth).fill(scaleBits), outer];
      if (bits.reduce((a, b) => a + b, 0) <= MAX_BITS_128[n]!) return { polyModulusDegree: n, coeffModulusBits: bits, scaleBits, securityLevel: 128 };
    }
  }
  throw new FheError("bad-parameters", `no 128-bit parameters for depth ${depth}`);
}

/**
 * "Fast linear" parameters for single-layer (linear / logistic) models: N = 8192,
 * q = [60 | 60] — one data prime, so every ciphertext is half the size of the depth-1 chain's
 * and nothing is rescaled. Δ = 2^25 for inputs, 2^20 for weights: results live at 2^45 under a
 * 59-bit prime, so |every partial sum| must stay below 2^13 = 8192 (checked by the evaluator
 * against the weights only; inputs are the querier's); absolute error ≈ 1e-4 instead of ≈ 1e-7.
 */
export function fastLinearParams(): CkksParams {
  return { polyModulusDegree: 8192, coeffModulusBits: [60, 60], scaleBits: 25, securityLevel: 128, weightScaleBits: 20 };
}

/** Number of rescales the chain supports (primes minus first and special). */
export function levelsOf(p: CkksParams): number {
  return p.coeffModulusBits.length - 2;
}

/** Whether the parameters use the no-rescale "fast linear" profile. */
export function isFastLinear(p: CkksParams): boolean {
  return p.weightScaleBits !== undefined && p.coeffModulusBits.length === 2;
}

/** Validates parameters (schema + 128-bit budget). Throws FheError("bad-parameters"). */
export function checkParams(p: unknown): CkksParams {
  const r = ckksParamsSchema.safeParse(p);
  if (!r.success) throw new FheError("bad-parameters", `invalid CKKS parameters: ${r.error.issues[0]?.message ?? "?"}`);
  const total = r.data.coeffModulusBits.reduce((a, b) => a + b, 0);
  if (total > MAX_BITS_128[r.data.polyModulusDegree]!) throw new FheError("bad-parameters", `coefficient modulus of ${total} bits exceeds the 128-bit budget for N=${r.data.polyModulusDegree}`);
  if (r.data.weightScaleBits !== undefined && r.data.coeffModulusBits.length !== 2) throw new FheError("bad-parameters", "weightScaleBits is only for the one-data-prime fast linear profile");
  return r.data as CkksParams;
}

/** Canonical string of parameters (cache key, hashing). */
export function paramsKey(p: CkksParams): string {
  return `ckks/N${p.polyModulusDegree}/q${p.coeffModulusBits.join(".")}/s${p.scaleBits}/${p.securityLevel}${p.weightScaleBits !== undefined ? `/w${p.weightScaleBits}` : ""}`;
}
