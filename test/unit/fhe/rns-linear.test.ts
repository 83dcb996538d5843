import { describe, expect, it, beforeAll } from "vitest";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import { CkksContext } from "../../../client/fhe/context.ts";
import { paramsForDepth } from "../../../client/fhe/params.ts";
import { Querier } from "../../../client/fhe/querier.ts";
import { EvaluationKeys, PlanEvaluator } from "../../../client/fhe/evaluator.ts";
import { compilePlan, plainScores, type DenseModel } from "../../../client/fhe/model.ts";
import { intWeights, rnsLinear, weightBits, weightColumns, type IntWeights } from "../../../client/fhe/rns-linear.ts";
import { FheError } from "../../../client/fhe/errors.ts";
import { scoped, type Seal } from "../../../client/fhe/seal.ts";
import { seededRng } from "../../../protocol/rng.ts";

let seal: Seal;
beforeAll(async () => { seal = await loadSealNode(); });

/** out_k = Σ_j c·a_jk·x_j mod q with BigInt, the layout rnsLinear reads (polys × primes × n u64 LE). */
function reference(inputs: Uint8Array[], w: IntWeights, primes: bigint[], n: number, polys: number): Uint8Array[] {
  return Array.from({ length: w.outputs }, (_, k) => {
    const out = new Uint8Array(8 * n * primes.length * polys);
    const dv = new DataView(out.buffer);
    for (let p = 0; p < polys; p++)
      primes.forEach((q, i) => {
        for (let r = 0; r < n; r++) {
          const at = 8 * ((p * primes.length + i) * n + r);
          let s = 0n;
          inputs.forEach((x, j) => (s += BigInt(w.c) * BigInt(w.a[j * w.outputs + k]!) * new DataView(x.buffer, x.byteOffset).getBigUint64(at, true)));
          dv.setBigUint64(at, ((s % q) + q) % q, true);
        }
      });
    return out;
  });
}

/** Random reduced residues (with 0 and q − 1 at the first two places of every prime), at an odd byte offset. */
function residues(rng: ReturnType<typeof seededRng>, primes: bigint[], n: number, polys: number): Uint8Array {
  const buf = new Uint8Array(8 * n * primes.length * polys + 3);
  const x = buf.subarray(3); // unaligned on purpose
  const dv = new DataView(x.buffer, x.byteOffset);
  const bytes = rng.bytes(8 * n * primes.length * polys);
  const rv = new DataView(bytes.buffer, bytes.byteOffset);
  for (let p = 0; p < polys; p++)
    primes.forEach((q, i) => {
      for (let r = 0; r < n; r++) {
        const at = 8 * ((p * primes.length + i) * n + r);
        dv.setBigUint64(at, r === 0 ? 0n : r === 1 ? q - 1n : rv.getBigUint64(at, true) % q, true);
      }
    });
  return x;
}

describe("rnsLinear: Σ_j c·a_jk·x_j mod q on RNS data", () => {
  it("equals the BigInt reference for 53- and 33-bit primes, extreme residues and weights at the bound, c > 1, odd input and output counts", () => {
    const rng = seededRng("rns-linear");
    const primes = [9007199254364161n, 8589279233n, 8589475841n]; // q = [53, 33, 33, …] of the MLP parameters
    const n = 1024;
    const K = 5;
    // 64 inputs: groups of eight; 13: one group of eight, one of four and a single input
    for (const [J, c] of [[64, 1], [64, 8], [13, 2 ** 18]] as const) {
      const bound = 2 ** weightBits(J) - 1;
      const a = new Float64Array(J * K).map((_, i) => (i % 7 === 0 ? bound : i % 7 === 1 ? -bound : Math.round((rng.bytes(1)[0]! / 255 - 0.5) * 2 * bound)));
      const w: IntWeights = { inputs: J, outputs: K, a, c };
      const inputs = Array.from({ length: J }, () => residues(rng, primes, n, 2));
      const outputs = Array.from({ length: K }, () => new Uint8Array(8 * n * primes.length * 2 + 1).subarray(1));
      rnsLinear(inputs, w, primes.map(Number), n, 2, outputs);
      const want = reference(inputs, w, primes, n, 2);
      outputs.forEach((o, k) => expect(Buffer.from(o).equals(Buffer.from(want[k]!))).toBe(true));
    }
  });

  it("refuses shapes, primes of 53 bits or more and weights beyond the exact-accumulation bound", () => {
    const n = 16;
    const one = (primes: number[]) => new Uint8Array(8 * n * primes.length * 2);
    const w: IntWeights = { inputs: 2, outputs: 1, a: new Float64Array([1, 2]), c: 1 };
    const p33 = [8589279233];
    expect(() => rnsLinear([one(p33)], w, p33, n, 2, [one(p33)])).toThrow(RangeError);
    expect(() => rnsLinear([one(p33), one(p33)], w, p33, n, 2, [new Uint8Array(8)])).toThrow(RangeError);
    const p60 = [2 ** 60 - 2 ** 14 + 1];
    expect(() => rnsLinear([one(p60), one(p60)], w, p60, n, 2, [one(p60)])).toThrow(/below 2\^53/);
    expect(() => rnsLinear([one(p33), one(p33)], { ...w, a: new Float64Array([2 ** weightBits(2), 1]) }, p33, n, 2, [one(p33)])).toThrow(/exact-accumulation/);
    expect(() => rnsLinear([one(p33), one(p33)], { ...w, c: 3 }, p33, n, 2, [one(p33)])).toThrow(/power of two/);
    expect(() => weightColumns(w, 1, 1)).toThrow(RangeError);
  });

  it("intWeights: the smallest power-of-two factor, zeros as one unit, non-finite weights refused", () => {
    const w = intWeights((j, k) => [[0.5, 0], [-0.25, 1e-12]][j]![k]!, 2, 2, 2 ** 33);
    expect(w.c).toBe(1);
    expect(Array.from(w.a)).toEqual([2 ** 32, 1, -(2 ** 31), 1]);
    const big = intWeights(() => 0.5, 64, 1, 2 ** 33); // 2^32 over 64 inputs: 28 bits allowed
    expect(weightBits(64)).toBe(28);
    expect(big.c).toBe(32);
    expect(big.a[0]).toBe(2 ** 27);
    expect(intWeights(() => 0.001, 64, 3, 2 ** 33).c).toBe(1);
    expect(() => intWeights(() => Number.NaN, 1, 1, 2)).toThrow(FheError);
    expect(weightColumns(w, 1, 2)).toEqual({ inputs: 2, outputs: 1, a: Float64Array.from([1, 1]), c: w.c });
  });
});

describe("the evaluator's first layer on RNS data", () => {
  const model: DenseModel = {
    format: "2pm-dense/v1", inputDim: 6, preprocessing: null,
    layers: [
      { weights: [[0.5, -1, 0, 0.2], [1, 0.25, 0, -0.5], [-0.75, 1, 0, 0.1], [0.3, -0.2, 0, 0.6], [0.05, 0.4, 0, -0.3], [-0.6, 0.1, 0, 0.2]], bias: [0.1, -0.2, 0.3, 0.05], activation: "square" },
      { weights: [[1, -0.5], [-1, 0.25], [0.5, 0.5], [0.2, -0.4]], bias: [0.2, -0.1], activation: "softmax" },
    ],
  };
  const rows = Array.from({ length: 40 }, (_, i) => Array.from({ length: 6 }, (_, j) => (((i * 7 + j * 3) % 11) - 5) / 4));

  it("gives exactly SEAL's constant products and additions with the same integer weights", () => {
    const plan = compilePlan(model);
    const ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
    const lv = ctx.levels[0]!;
    expect(lv.primes.every((q) => q < 2n ** 53n)).toBe(true);
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const cts = q.encryptBatch(rows, 6, "none", "complex"); // full (unseeded) ciphertexts
    const qlast = Number(lv.primes[lv.primes.length - 1]!);
    const w = intWeights((j, k) => plan.layers[0]!.weights[j]![k]!, 6, 4, qlast);
    const n = ctx.params.polyModulusDegree;
    const outs = Array.from({ length: 4 }, () => new Uint8Array(ctx.ciphertextDataBytes(0)));
    rnsLinear(cts.map((b) => ctx.ciphertextData(b, 0)), w, lv.primes.map(Number), n, 2, outs);
    scoped(seal, (own) => {
      const ev = ctx.evaluator;
      const x = cts.map((b) => ctx.loadCiphertext(b, own));
      const tmp = own(new seal.Ciphertext());
      for (let k = 0; k < 4; k++) {
        const acc = own(new seal.Ciphertext());
        x.forEach((c, j) => {
          const pt = ctx.constantPlain((w.c * w.a[j * 4 + k]!) / qlast, 0, qlast, own);
          if (j === 0) ev.multiplyPlain(c, pt, acc);
          else {
            ev.multiplyPlain(c, pt, tmp);
            ev.addInplace(acc, tmp);
          }
        });
        const bytes = ctx.saveCiphertext(acc, "none");
        expect(Buffer.from(ctx.ciphertextData(bytes, 0)).equals(Buffer.from(outs[k]!))).toBe(true);
      }
    });
    q.dispose();
  });

  /** The model's evaluator, a querier for two rows per slot and its evaluation keys. */
  const evaluatorSetup = () => {
    const plan = compilePlan(model);
    const ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
    const ev = new PlanEvaluator(ctx, plan);
    const q = Querier.create(ctx, ev.needs("batch", "complex"));
    return { ctx, ev, q, keys: EvaluationKeys.load(ctx, q.evaluationKeys()) };
  };

  it("scores seeded (one row per slot) and full (two per slot) inputs like the plaintext, an all-zero weight column included", () => {
    const { ctx, ev, q, keys } = evaluatorSetup();
    const want = rows.map((r) => plainScores(model, r));
    for (const packing of ["real", "complex"] as const) {
      const out = ev.evaluateBatch(q.encryptBatch(rows, 6, "none", packing), keys, "none", packing);
      out.forEach((c, k) => q.decryptPacked(c, rows.length, packing).forEach((v, i) => expect(Math.abs(v - want[i]![k]!)).toBeLessThan(1e-3)));
    }
    ev.dispose(); keys.dispose(); q.dispose();
  });

  it("refuses inputs whose scales differ (the products take one scale for all) and a residue ≥ q (SEAL's load check, which the kernel relies on)", () => {
    const { ctx, ev, q, keys } = evaluatorSetup();
    const cts = q.encryptBatch(rows, 6, "none", "complex");
    const scaleAt = cts[0]!.length - ctx.ciphertextDataBytes(0) - 40; // the scale field (f64), 40 bytes before the data
    const odd = cts.map((b) => b.slice());
    const dv = new DataView(odd[3]!.buffer);
    expect(dv.getFloat64(scaleAt, true)).toBe(ctx.scale);
    dv.setFloat64(scaleAt, ctx.scale * (1 + 2 ** -30), true); // within loadCiphertext's tolerance, not equal
    const err = (() => { try { ev.evaluateBatch(odd, keys, "none", "complex"); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(FheError);
    expect((err as FheError).code).toBe("bad-ciphertext");
    expect((err as FheError).message).toMatch(/differ in scale/);
    const big = cts.map((b) => b.slice());
    new DataView(big[2]!.buffer).setBigUint64(cts[2]!.length - 8, 2n ** 64n - 1n, true); // the last residue of c1
    const err2 = (() => { try { ev.evaluateBatch(big, keys, "none", "complex"); } catch (e) { return e; } })();
    expect((err2 as FheError).code).toBe("bad-ciphertext");
    ev.dispose(); keys.dispose(); q.dispose();
  });
});
