/**
 * The rotation-free single-sample paths for single-layer models: the masked sum
 * (PlanEvaluator.evaluateMaskedSum: equality to plaintext, the mask — no slot of the product
 * readable, fresh per request —, refusals) and the constant-term reply (evaluateConstantTerm:
 * equality to plaintext and to the masked sum at half its bytes, refusals of malformed replies);
 * the session choosing the constant term with no Galois keys.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import { CkksContext } from "../../../client/fhe/context.ts";
import { Querier } from "../../../client/fhe/querier.ts";
import { constantTermReplyBytes, PlanEvaluator } from "../../../client/fhe/evaluator.ts";
import { compilePlan, plainScores, type DenseModel } from "../../../client/fhe/model.ts";
import { FheSession, localTransport, type InferTransport } from "../../../client/fhe/client.ts";
import { buildPackage, publicInfo } from "../../../client/fhe/package.ts";
import { paramsForDepth } from "../../../client/fhe/params.ts";
import { scoped, type Seal } from "../../../client/fhe/seal.ts";

let seal: Seal;
beforeAll(async () => { seal = await loadSealNode(); });

const lr: DenseModel = {
  format: "2pm-dense/v1", inputDim: 30, preprocessing: { mean: Array.from({ length: 30 }, (_, j) => j / 10), std: Array.from({ length: 30 }, (_, j) => 1 + (j % 4)) },
  layers: [{ weights: Array.from({ length: 30 }, (_, j) => [Math.sin(j) / 4, Math.cos(j), 0]), bias: [0.2, -1.5, 0.75], activation: "softmax" }],
};
const rowOf = (i: number) => Array.from({ length: 30 }, (_, j) => Math.cos(3 * j + i) * 2 + j / 10);

describe("masked sum (single-layer, one row, no rotations)", () => {
  it("equals the plaintext scores (precise profile)", async () => {
    const pkg = await buildPackage(lr, { modelId: "ms" });
    const ctx = CkksContext.get(seal, pkg.ckks);
    const ev = new PlanEvaluator(ctx, compilePlan(pkg.model));
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    let maxErr = 0;
    for (let i = 0; i < 5; i++) {
      const out = ev.evaluateMaskedSum(q.encryptRow(rowOf(i)));
      expect(out).toHaveLength(3);
      const want = plainScores(lr, rowOf(i));
      out.forEach((c, k) => (maxErr = Math.max(maxErr, Math.abs(q.decryptMaskedSum(c) - want[k]!))));
    }
    console.log(`[fhe] masked sum: max |error| ${maxErr.toExponential(1)}`);
    expect(maxErr).toBeLessThan(1e-5);
    ev.dispose(); q.dispose();
  });

  it("is refused under the fast linear profile (no rescale: c0 would carry every slot's noise); the session uses rotate-and-sum there", async () => {
    const pkg = await buildPackage(lr, { modelId: "ms-fast", profile: "fast-linear" });
    const ctx = CkksContext.get(seal, pkg.ckks);
    const ev = new PlanEvaluator(ctx, compilePlan(pkg.model));
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    expect(() => ev.evaluateMaskedSum(q.encryptRow(rowOf(0)))).toThrow(expect.objectContaining({ code: "bad-parameters" }));
    const s = await FheSession.open(seal, publicInfo(pkg), localTransport(ctx, compilePlan(pkg.model)));
    try {
      expect(s.singlePath).toBe("rotate-and-sum");
      const r = await s.infer([rowOf(0)]);
      expect(Math.abs(r.scores[0]![0]! - plainScores(lr, rowOf(0))[0]!)).toBeLessThan(1e-2);
    } finally {
      s.close();
    }
    ev.dispose(); q.dispose();
  });

  it("masks every slot: the decoded product is noise, fresh per request, only c0 carries the score", async () => {
    const pkg = await buildPackage(lr, { modelId: "ms" });
    const ctx = CkksContext.get(seal, pkg.ckks);
    const plan = compilePlan(pkg.model);
    const ev = new PlanEvaluator(ctx, plan);
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const row = rowOf(1);
    const ct = q.encryptRow(row);
    const a = ev.evaluateMaskedSum(ct)[0]!;
    const b = ev.evaluateMaskedSum(ct)[0]!;
    // the products w_j·x_j would sit in slots 0 … 29: with the mask they are uniform noise
    const slots = q.decrypt(a, ctx.slots);
    const w = plan.layers[0]!.weights.map((r) => r[0]!);
    const big = Array.from(slots).filter((v, j) => !(Math.abs(v - (j < 30 ? w[j]! * row[j]! : 0)) < 1e3)).length;
    expect(big).toBeGreaterThan(ctx.slots * 0.99);
    // the same input twice: different masks, the same score
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).not.toBe(0);
    expect(Math.abs(q.decryptMaskedSum(a) - q.decryptMaskedSum(b))).toBeLessThan(1e-6);
    ev.dispose(); q.dispose();
  });

  it("maskPlain: uniform-looking NTT values whose constant coefficient is the one asked for", () => {
    const ctx = CkksContext.get(seal, paramsForDepth(2));
    for (const level of [0, 1]) {
      scoped(seal, (own) => {
        const c0 = -123456789n;
        const pt = ctx.maskPlain(c0, level, 2 ** 40, own);
        expect(ctx.levelOf(pt)).toBe(level);
        expect(ctx.constantCoefficient(pt)).toBe(Number(c0));
        expect(pt.scale()).toBe(2 ** 40);
        // two masks differ (fresh randomness)
        const other = ctx.maskPlain(c0, level, 2 ** 40, own);
        expect(Buffer.compare(Buffer.from(pt.saveToArray(seal.ComprModeType.none) as Uint8Array), Buffer.from(other.saveToArray(seal.ComprModeType.none) as Uint8Array))).not.toBe(0);
      });
    }
  });

  it("the session picks it for one row of a single-layer model, with no Galois keys; batches stay feature-major", async () => {
    const pkg = await buildPackage(lr, { modelId: "ms" });
    const ctx = CkksContext.get(seal, pkg.ckks);
    const base = localTransport(ctx, compilePlan(pkg.model));
    const calls: string[] = [];
    const uploads: object[] = [];
    const transport: InferTransport = {
      uploadKeys: (k) => (uploads.push(k), base.uploadKeys(k)),
      infer: (k, m, c, z, p, s) => (calls.push(`${m}:${c.length}:${m === "single" ? s : p}`), base.infer(k, m, c, z, p, s)),
    };
    const s = await FheSession.open(seal, publicInfo(pkg), transport);
    try {
      expect(s.singlePath).toBe("constant-term");
      expect(s.querier.needs.galoisSteps).toEqual([]);
      expect(uploads[0]).toEqual({}); // nothing to upload: no relin, no Galois key
      const r = await s.infer([rowOf(2)]);
      const want = plainScores(lr, rowOf(2));
      r.scores[0]!.forEach((v, k) => expect(Math.abs(v - want[k]!)).toBeLessThan(1e-5));
      await s.infer([rowOf(2), rowOf(3)]);
      expect(calls).toEqual(["single:1:constant-term", "batch:30:complex"]);
    } finally {
      s.close();
    }
    // the earlier paths stay selectable (older endpoints, the bench)
    const masked = await FheSession.open(seal, publicInfo(pkg), transport, { linearSingle: "masked-sum" });
    try {
      expect(masked.singlePath).toBe("masked-sum");
      const r = await masked.infer([rowOf(2)]);
      expect(Math.abs(r.scores[0]![1]! - plainScores(lr, rowOf(2))[1]!)).toBeLessThan(1e-5);
      expect(calls.at(-1)).toBe("single:1:masked-sum");
    } finally {
      masked.close();
    }
    const old = await FheSession.open(seal, publicInfo(pkg), base, { linearSingle: "rotate-and-sum" });
    try {
      expect(old.singlePath).toBe("rotate-and-sum");
      const r = await old.infer([rowOf(2)]);
      expect(Math.abs(r.scores[0]![1]! - plainScores(lr, rowOf(2))[1]!)).toBeLessThan(1e-4);
    } finally {
      old.close();
    }
  });

  it("refuses multi-layer plans and foreign or tampered ciphertexts", async () => {
    const mlp: DenseModel = {
      format: "2pm-dense/v1", inputDim: 3, preprocessing: null,
      layers: [{ weights: [[0.5, -1], [1, 0.25], [-0.75, 1]], bias: [0.1, -0.2], activation: "square" }, { weights: [[1], [-2]], bias: [0.05], activation: "sigmoid" }],
    };
    const plan = compilePlan(mlp);
    const ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
    const ev = new PlanEvaluator(ctx, plan);
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    expect(() => ev.evaluateMaskedSum(q.encryptRow([1, 2, 3]))).toThrow(expect.objectContaining({ code: "shape-mismatch" }));
    const pkg = await buildPackage(lr, { modelId: "ms" });
    const lctx = CkksContext.get(seal, pkg.ckks);
    const lev = new PlanEvaluator(lctx, compilePlan(pkg.model));
    expect(() => lev.evaluateMaskedSum(q.encryptRow(rowOf(0)))).toThrow(expect.objectContaining({ code: "bad-ciphertext" })); // other parameters
    const lq = Querier.create(lctx, { relin: false, galoisSteps: [] });
    const ct = lq.encryptRow(rowOf(0));
    expect(() => lev.evaluateMaskedSum(ct.subarray(0, 100))).toThrow(expect.objectContaining({ code: "bad-ciphertext" }));
    expect(() => lev.evaluateMaskedSum(lq.encryptRow(rowOf(0), "zstd"))).toThrow(expect.objectContaining({ code: "bad-ciphertext" }));
    ev.dispose(); lev.dispose(); q.dispose(); lq.dispose();
  });
});

describe("constant-term reply (the masked sum's computation, c1 and the constant term of c0 only)", () => {
  it("equals the plaintext scores with half the masked reply's bytes, and matches the masked sum", async () => {
    const pkg = await buildPackage(lr, { modelId: "ct" });
    const ctx = CkksContext.get(seal, pkg.ckks);
    const ev = new PlanEvaluator(ctx, compilePlan(pkg.model));
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const n = ctx.params.polyModulusDegree;
    let maxErr = 0;
    for (let i = 0; i < 5; i++) {
      const ct = q.encryptRow(rowOf(i));
      const out = ev.evaluateConstantTerm(ct);
      expect(out).toHaveLength(3);
      const want = plainScores(lr, rowOf(i));
      const masked = ev.evaluateMaskedSum(ct);
      out.forEach((c, k) => {
        expect(c.length).toBe(constantTermReplyBytes(n, 1)); // 8 + 8N: one prime left after the rescale
        expect(c.length).toBeLessThan(masked[k]!.length / 2 + 64);
        const v = q.decryptConstantTerm(c);
        maxErr = Math.max(maxErr, Math.abs(v - want[k]!));
        expect(Math.abs(v - q.decryptMaskedSum(masked[k]!))).toBeLessThan(1e-5);
      });
    }
    console.log(`[fhe] constant term: max |error| ${maxErr.toExponential(1)}`);
    expect(maxErr).toBeLessThan(1e-5);
    ev.dispose(); q.dispose();
  });

  it("refuses replies of the wrong size or with values not below their prime, the fast linear profile and multi-layer plans", async () => {
    const pkg = await buildPackage(lr, { modelId: "ct" });
    const ctx = CkksContext.get(seal, pkg.ckks);
    const ev = new PlanEvaluator(ctx, compilePlan(pkg.model));
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const reply = ev.evaluateConstantTerm(q.encryptRow(rowOf(1)))[0]!;
    const bad = { code: "bad-ciphertext" };
    expect(() => q.decryptConstantTerm(reply.subarray(0, reply.length - 8))).toThrow(expect.objectContaining(bad));
    const longer = new Uint8Array(reply.length + 8);
    longer.set(reply);
    expect(() => q.decryptConstantTerm(longer)).toThrow(expect.objectContaining(bad));
    const q0 = ctx.levels[1]!.primes[0]!;
    const bigTerm = reply.slice();
    new DataView(bigTerm.buffer).setBigUint64(0, q0, true); // the constant term must be below q
    expect(() => q.decryptConstantTerm(bigTerm)).toThrow(expect.objectContaining(bad));
    const bigC1 = reply.slice();
    new DataView(bigC1.buffer).setBigUint64(8 + 8 * 17, q0 + 1n, true); // a c1 value ≥ q
    expect(() => q.decryptConstantTerm(bigC1)).toThrow(expect.objectContaining(bad));
    ev.dispose(); q.dispose();

    const fast = await buildPackage(lr, { modelId: "ct-fast", profile: "fast-linear" });
    const fctx = CkksContext.get(seal, fast.ckks);
    const fev = new PlanEvaluator(fctx, compilePlan(fast.model));
    const fq = Querier.create(fctx, { relin: false, galoisSteps: [] });
    expect(() => fev.evaluateConstantTerm(fq.encryptRow(rowOf(0)))).toThrow(expect.objectContaining({ code: "bad-parameters" }));
    fev.dispose(); fq.dispose();

    const mlp: DenseModel = {
      format: "2pm-dense/v1", inputDim: 3, preprocessing: null,
      layers: [{ weights: [[0.5, -1], [1, 0.25], [-0.75, 1]], bias: [0.1, -0.2], activation: "square" }, { weights: [[1], [-2]], bias: [0.05], activation: "sigmoid" }],
    };
    const plan = compilePlan(mlp);
    const mctx = CkksContext.get(seal, paramsForDepth(plan.depth));
    const mev = new PlanEvaluator(mctx, plan);
    const mq = Querier.create(mctx, { relin: false, galoisSteps: [] });
    expect(() => mev.evaluateConstantTerm(mq.encryptRow([1, 2, 3]))).toThrow(expect.objectContaining({ code: "shape-mismatch" }));
    mev.dispose(); mq.dispose();
  });
});
