import { describe, expect, it, beforeAll } from "vitest";
import type { Ciphertext } from "node-seal/throws";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import { CkksContext } from "../../../client/fhe/context.ts";
import { fastLinearParams, paramsForDepth, type CkksParams } from "../../../client/fhe/params.ts";
import { Querier } from "../../../client/fhe/querier.ts";
import { SlotEncoder } from "../../../client/fhe/slot-encoder.ts";
import { scoped, type Seal } from "../../../client/fhe/seal.ts";

let seal: Seal;
beforeAll(async () => { seal = await loadSealNode(); });

const chains: [string, CkksParams][] = [
  ["q = [60, 40, 60]", paramsForDepth(1)],
  ["q = [53, 33, 33, 33, 53]", paramsForDepth(3)],
  ["fast linear q = [60 | 60]", fastLinearParams()],
  ["30-bit primes", { polyModulusDegree: 8192, coeffModulusBits: [50, 30, 30, 30, 50], scaleBits: 30, securityLevel: 128 }],
];

/** The querier's private SEAL encryptor and decryptor (tests only). */
function internals(q: Querier) {
  return q as unknown as { encryptor: { encryptSymmetric(p: unknown, c: Ciphertext): void }; decryptor: import("node-seal/throws").Decryptor };
}

/** Data words (little-endian u64 as bigint) of polynomial `which` (0 = c0, 1 = c1) of a serialised size-2 ciphertext. */
function polyWords(bytes: Uint8Array, n: number, k: number, which: 0 | 1): BigUint64Array {
  const start = bytes.length - 2 * 8 * n * k + which * 8 * n * k;
  return new BigUint64Array(bytes.slice(start, start + 8 * n * k).buffer);
}

describe("slot encoder (JS FFT + SEAL NTT)", () => {
  it.each(chains)("encodes real vectors as SEAL's encoder does (%s)", (_name, params) => {
    const ctx = CkksContext.get(seal, params);
    const enc = new SlotEncoder(ctx);
    const v = Float64Array.from({ length: ctx.slots }, (_, i) => Math.sin(i) * 1000);
    scoped(seal, (own) => {
      const [pt] = enc.encode([v], [undefined], ctx.scale, own);
      const got = ctx.encoder.decodeFloat64(pt!) as Float64Array;
      let err = 0;
      for (let i = 0; i < v.length; i++) err = Math.max(err, Math.abs(got[i]! - v[i]!));
      expect(err).toBeLessThan(1e-3 * 2 ** (30 - params.scaleBits) + 1e-6);
    });
  });

  it.each(chains)("two rows per slot: the same values as the earlier J-product path, with SEAL-sized noise (%s)", (_name, params) => {
    const ctx = CkksContext.get(seal, params);
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const n = 2 * ctx.slots - 5;
    const rows = Array.from({ length: n }, (_, i) => [Math.sin(i) * 300, Math.cos(i * 0.7), (i % 7) * 1e-3]);
    const cts = q.encryptBatch(rows, 3, "none", "complex");
    // the reference: SEAL's own symmetric encryption of re and im, im multiplied by J (the path before)
    const { encryptor } = internals(q);
    const errs: number[] = [];
    const refErrs: number[] = [];
    scoped(seal, (own) => {
      const half = Math.ceil(n / 2);
      for (let j = 0; j < 3; j++) {
        const re = Float64Array.from({ length: half }, (_, i) => rows[i]![j]!);
        const im = Float64Array.from({ length: n - half }, (_, i) => rows[half + i]![j]!);
        const pr = ctx.encode(re, own);
        const pi = ctx.encode(im, own);
        const ct = own(new seal.Ciphertext());
        encryptor.encryptSymmetric(pi, ct);
        ctx.evaluator.multiplyPlainInplace(ct, ctx.complexConstantPlain(0, 1, 0, 1, own));
        ctx.evaluator.addPlainInplace(ct, pr);
        const ref = q.decryptPacked(ctx.saveCiphertext(ct, "none"), n, "complex");
        const got = q.decryptPacked(cts[j]!, n, "complex");
        for (let i = 0; i < n; i++) {
          errs.push(got[i]! - rows[i]![j]!);
          refErrs.push(ref[i]! - rows[i]![j]!);
        }
      }
    });
    const rms = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0) / xs.length);
    const scaleErr = 2 ** -params.scaleBits;
    // fresh noise is there (rounding alone would be ~scaleErr) and of SEAL's size (its error distribution)
    expect(rms(errs)).toBeGreaterThan(20 * scaleErr);
    expect(rms(errs) / rms(refErrs)).toBeGreaterThan(0.7);
    expect(rms(errs) / rms(refErrs)).toBeLessThan(1.4);
    expect(Math.max(...errs.map(Math.abs))).toBeLessThan(1e-3);
  });

  it("draws c1 uniformly below each prime and afresh for every ciphertext", () => {
    const ctx = CkksContext.get(seal, paramsForDepth(1));
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const n = ctx.params.polyModulusDegree;
    const primes = ctx.levels[0]!.primes;
    const rows = Array.from({ length: 64 }, (_, i) => [i, -i]);
    const [a] = q.encryptBatch(rows, 2, "none", "complex");
    const [b] = q.encryptBatch(rows, 2, "none", "complex");
    const ca = polyWords(a!, n, primes.length, 1);
    const cb = polyWords(b!, n, primes.length, 1);
    primes.forEach((p, k) => {
      let mean = 0;
      let same = 0;
      for (let i = k * n; i < (k + 1) * n; i++) {
        expect(ca[i]! < p).toBe(true);
        mean += Number(ca[i]!) / Number(p);
        if (ca[i] === cb[i]) same++;
      }
      // uniform on [0, q): mean 1/2 ± 1/sqrt(12·N) ≈ ±0.0032 per prime
      expect(Math.abs(mean / n - 0.5)).toBeLessThan(0.02);
      expect(same).toBeLessThan(4);
    });
    // and c0 differs too (fresh noise and c1)
    expect(polyWords(a!, n, primes.length, 0)).not.toEqual(polyWords(b!, n, primes.length, 0));
  });

  it("passes on vectors whose coefficients do not fit a double exactly (SEAL encodes them) and all-zero ones", () => {
    const ctx = CkksContext.get(seal, paramsForDepth(1));
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const enc = new SlotEncoder(ctx);
    const big = new Float64Array(ctx.slots).fill(5000); // constant coefficient 5000·2^40 > 2^52
    const zero = new Float64Array(16);
    expect(enc.encryptPairs([big, zero, Float64Array.of(1)], [big, zero, undefined], ctx.scale, internals(q).decryptor).map((c) => c !== undefined)).toEqual([false, false, true]);
    // through the querier: both fall back to the earlier path and still decrypt
    const rows = Array.from({ length: 2 * ctx.slots }, (_, i) => [5000 + (i % 3), 0]);
    const cts = q.encryptBatch(rows, 2, "none", "complex");
    const got = q.decryptPacked(cts[0]!, rows.length, "complex");
    rows.forEach((r, i) => expect(Math.abs(got[i]! - r[0]!) / r[0]!).toBeLessThan(1e-9));
    expect(Math.max(...q.decryptPacked(cts[1]!, rows.length, "complex").map(Math.abs))).toBeLessThan(1e-6);
  });

  it("refuses vectors longer than N/2", () => {
    const ctx = CkksContext.get(seal, paramsForDepth(1));
    const enc = new SlotEncoder(ctx);
    scoped(seal, (own) => expect(() => enc.encode([new Float64Array(ctx.slots + 1)], [undefined], ctx.scale, own)).toThrow(/exceed/));
  });
});
