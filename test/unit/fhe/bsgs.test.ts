import { describe, expect, it, beforeAll } from "vitest";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import { CkksContext } from "../../../client/fhe/context.ts";
import { paramsForDepth } from "../../../client/fhe/params.ts";
import { Querier } from "../../../client/fhe/querier.ts";
import { EvaluationKeys, PlanEvaluator, galoisElt } from "../../../client/fhe/evaluator.ts";
import { compilePlan, plainScores, type DenseModel } from "../../../client/fhe/model.ts";
import { blockDiagonals, bsgsBlock, bsgsDim, bsgsKeySteps, bsgsSchedule, bsgsTerms, rotatedInput, rotatedPlain, rowPeriod, simulateBlock, simulateRotated, singleLayout } from "../../../client/fhe/bsgs.ts";
import { buildPackage, publicInfo } from "../../../client/fhe/package.ts";
import { FheSession, localTransport } from "../../../client/fhe/client.ts";
import { seededRng } from "../../../protocol/rng.ts";
import type { Seal } from "../../../client/fhe/seal.ts";

let seal: Seal;
beforeAll(async () => { seal = await loadSealNode(); });

function rng(seed: string): () => number {
  const b = seededRng(seed).bytes(1 << 16);
  let i = 0;
  return () => b[i++ % b.length]! / 255;
}

/** A seeded square MLP of the given shape, weights in ±0.2 (the optdigits example's shape: 64-16-10). */
function mlp(dims: number[], seed: string, hidden: "square" | "poly2" = "square"): DenseModel {
  const r = rng(seed);
  const w = () => (r() - 0.5) * 0.4;
  return {
    format: "2pm-dense/v1", inputDim: dims[0]!, preprocessing: null,
    layers: dims.slice(1).map((out, li) => ({
      weights: Array.from({ length: dims[li]! }, () => Array.from({ length: out }, w)),
      bias: Array.from({ length: out }, w),
      activation: li === dims.length - 2 ? ("softmax" as const) : hidden,
      ...(hidden === "poly2" && li < dims.length - 2 ? { poly: [0.1, 0.5, 0.25] } : {}),
    })),
  };
}

describe("BSGS schedule", () => {
  it("uses b = ⌈√d⌉ baby steps and ⌈d/b⌉ giant steps, keys for steps 1 and b only", () => {
    expect(bsgsSchedule(64)).toMatchObject({ d: 64, baby: 8, giant: 8, keySteps: [1, 8], rotations: 14 });
    expect(bsgsSchedule(16)).toMatchObject({ baby: 4, giant: 4, keySteps: [1, 4], rotations: 6 });
    // not perfect squares
    expect(bsgsSchedule(32)).toMatchObject({ baby: 6, giant: 6, keySteps: [1, 6], rotations: 10 });
    expect(bsgsSchedule(10)).toMatchObject({ baby: 4, giant: 3, keySteps: [1, 4], rotations: 5 });
    expect(bsgsSchedule(2)).toMatchObject({ baby: 2, giant: 1, keySteps: [1], rotations: 1 });
    expect(bsgsSchedule(1)).toMatchObject({ baby: 1, giant: 1, keySteps: [], rotations: 0 });
    expect(bsgsDim(64, 10)).toBe(64);
    expect(bsgsDim(5, 12)).toBe(16);
    // optdigits 64-16-10 at N = 8192: rotated first layer (fold 64 … 2048), BSGS steps 1 and 8 after it
    expect(singleLayout(64, 10, 4096)).toMatchObject({ d: 64, rotated: true, foldSteps: [64, 128, 256, 512, 1024, 2048] });
    expect(bsgsKeySteps(64, 10, 4096)).toEqual([1, 8, 64, 128, 256, 512, 1024, 2048]);
    // D² > slots: BSGS from the first layer, two keys
    expect(singleLayout(100, 3, 4096)).toMatchObject({ d: 128, rotated: false, foldSteps: [] });
    expect(bsgsKeySteps(100, 3, 4096)).toEqual([1, 12]);
  });

  it("the rotated first layer (one product + log2 D folds) equals Wx, hidden outputs replicated with their period", () => {
    const r = rng("rotated");
    const w = Array.from({ length: 64 }, () => Array.from({ length: 16 }, () => r() - 0.5)); // 64 → 16
    const row = Array.from({ length: 64 }, () => r() * 16);
    const lay = singleLayout(64, 10, 4096);
    const period = rowPeriod(16, lay.d, false);
    expect(period).toBe(16);
    const p = rotatedPlain(blockDiagonals(w, 0, 0, lay.d, lay.d, period), lay.d, 4096);
    const { y, rotations } = simulateRotated(p, rotatedInput(row, lay.d, 4096), lay);
    expect(rotations).toBe(6);
    for (let o = 0; o < 64; o++) expect(y[o]).toBeCloseTo(w.reduce((acc, wr, c) => acc + wr[o % 16]! * row[c]!, 0), 9);
    // the next layer (16 → 10) over the period-16 input needs 16 diagonals: 7 baby + 1 giant rotation
    const w2 = Array.from({ length: 16 }, () => Array.from({ length: 10 }, () => r() - 0.5));
    const s = lay.schedule;
    const h = Float64Array.from(y);
    const { y: y2, rotations: rot2 } = simulateBlock(bsgsTerms(blockDiagonals(w2, 0, 0, lay.d, 16, 0), s), h, s);
    expect(rot2).toBe(8);
    for (let o = 0; o < 64; o++) expect(y2[o]).toBeCloseTo(o < 10 ? w2.reduce((acc, wr, c) => acc + wr[o]! * h[c]!, 0) : 0, 9);
  });

  for (const [rows, cols, d] of [[10, 10, 10], [7, 10, 10], [10, 3, 12], [64, 16, 64], [30, 30, 32], [5, 5, 5]] as const) {
    it(`the simulated product equals Wx (in ${cols} → out ${rows}, d = ${d}), with the rotations the schedule counts`, () => {
      const r = rng(`sched-${rows}-${cols}-${d}`);
      const w = Array.from({ length: cols }, () => Array.from({ length: rows }, () => r() - 0.5)); // [in][out]
      const x = Float64Array.from({ length: d }, (_, c) => (c < cols ? r() * 4 - 2 : 0));
      const s = bsgsSchedule(d);
      const { y, rotations, steps } = simulateBlock(bsgsBlock(w, 0, 0, s), x, s);
      for (let o = 0; o < d; o++) {
        const want = o < rows ? w.reduce((acc, row, c) => acc + row[o]! * x[c]!, 0) : 0;
        expect(y[o]).toBeCloseTo(want, 10);
      }
      expect(rotations).toBeLessThanOrEqual(s.rotations);
      expect([...steps].every((k) => s.keySteps.includes(k))).toBe(true);
      if (rows === cols && rows === d) expect(rotations).toBe(s.rotations); // dense square: every baby and giant step
    });
  }
});

describe("single-row MLP under encryption (BSGS)", () => {
  for (const [dims, hidden] of [[[64, 16, 10], "square"], [[3, 2, 1], "poly2"], [[5, 24, 3], "square"], [[4, 6, 7, 2], "square"], [[100, 8, 3], "square"]] as const) {
    it(`decrypt(eval(encrypt(x))) equals the plaintext MLP ${dims.join("-")} (${hidden}) within 1e-3`, () => {
      const model = mlp([...dims], `mlp-${dims.join("-")}`, hidden);
      const plan = compilePlan(model);
      const ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
      const ev = new PlanEvaluator(ctx, plan);
      expect(ev.bsgs).toBe(true);
      const need = ev.needs("single");
      expect(need.galoisSteps).toEqual(bsgsKeySteps(plan.inputDim, plan.outputDim, ctx.slots));
      const q = Querier.create(ctx, need);
      const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
      const r = rng(`rows-${dims.join("-")}`);
      const d = bsgsDim(plan.inputDim, plan.outputDim);
      for (let t = 0; t < 4; t++) {
        const row = Array.from({ length: plan.inputDim }, () => (dims[0] === 64 ? Math.floor(r() * 17) : r() * 4 - 2));
        const out = ev.evaluateSingle(q.encryptBsgs(row, plan.outputDim), keys);
        expect(out).toHaveLength(1);
        const got = q.decrypt(out[0]!, ctx.slots);
        const want = plainScores(model, row);
        const scale = Math.max(1, ...Array.from(want, Math.abs));
        for (let k = 0; k < plan.outputDim; k++) {
          expect(Math.abs(got[k]! - want[k]!) / scale).toBeLessThan(1e-3);
          expect(Math.abs(got[3 * d + k]! - want[k]!) / scale).toBeLessThan(1e-3); // periodic: every period holds the logits
        }
        // every other slot of a period is ≈ 0: no partial sum is revealed
        for (let k = plan.outputDim; k < d; k++) expect(Math.abs(got[k]!)).toBeLessThan(1e-3);
      }
      ev.dispose(); keys.dispose(); q.dispose();
    });
  }

  it("FheSession uses the BSGS path for one row of an MLP (and feature-major when asked), same scores", async () => {
    const model = mlp([64, 16, 10], "session");
    const pkg = await buildPackage(model, { modelId: "bsgs-mlp" });
    const ctx = CkksContext.get(seal, pkg.ckks);
    const calls: string[] = [];
    const base = localTransport(ctx, compilePlan(pkg.model));
    const transport = { ...base, infer: (k: string, m: "batch" | "single", c: Uint8Array[], z: "none" | "zlib" | "zstd") => (calls.push(`${m}:${c.length}`), base.infer(k, m, c, z)) };
    const row = Array.from({ length: 64 }, (_, j) => (j * 7) % 17);
    const want = plainScores(model, row);
    const s = await FheSession.open(seal, publicInfo(pkg), transport);
    expect(s.singlePath).toBe("bsgs");
    const r = await s.infer([row]);
    expect(calls).toEqual(["single:1"]);
    r.scores[0]!.forEach((v, k) => expect(Math.abs(v - want[k]!)).toBeLessThan(1e-3));
    s.close();
    const old = await FheSession.open(seal, publicInfo(pkg), transport, { mlpSingle: "feature-major" });
    expect(old.singlePath).toBeUndefined();
    const r2 = await old.infer([row]);
    expect(calls.at(-1)).toBe("batch:64");
    r2.scores[0]!.forEach((v, k) => expect(Math.abs(v - r.scores[0]![k]!)).toBeLessThan(1e-3));
    old.close();
  });

  it("a missing or wrong Galois key gives the clear bad-keys error", () => {
    const plan = compilePlan(mlp([64, 16, 10], "keys"));
    const ctx = CkksContext.get(seal, paramsForDepth(plan.depth));
    const ev = new PlanEvaluator(ctx, plan);
    const row = Array.from({ length: 64 }, () => 1);
    // no Galois keys at all
    const q0 = Querier.create(ctx, { relin: true, galoisSteps: [] });
    const k0 = EvaluationKeys.load(ctx, q0.evaluationKeys());
    expect(() => ev.evaluateSingle(q0.encryptBsgs(row, 10), k0)).toThrow(expect.objectContaining({ code: "bad-keys", message: expect.stringContaining("missing Galois key for rotation step 1") }));
    // the rotate-and-sum steps, not the BSGS ones (giant step 8 missing)
    const q1 = Querier.create(ctx, { relin: true, galoisSteps: [1, 2, 4, 16, 32, 64] });
    const k1 = EvaluationKeys.load(ctx, q1.evaluationKeys());
    expect(k1.hasStep(8, 8192)).toBe(false);
    expect(galoisElt(8, 8192)).toBeGreaterThan(1);
    expect(() => ev.evaluateSingle(q1.encryptBsgs(row, 10), k1)).toThrow(expect.objectContaining({ code: "bad-keys", message: expect.stringContaining("missing Galois key for rotation step 8") }));
    // no relinearisation key
    const q2 = Querier.create(ctx, { relin: false, galoisSteps: bsgsKeySteps(64, 10, ctx.slots) });
    const k2 = EvaluationKeys.load(ctx, q2.evaluationKeys());
    expect(() => ev.evaluateSingle(q2.encryptBsgs(row, 10), k2)).toThrow(expect.objectContaining({ code: "bad-keys" }));
    for (const x of [k0, k1, k2, q0, q1, q2, ev]) x.dispose();
  });
});
