/**
 * Issue 6 acceptance: on the wdbc test split (logistic regression) and the optdigits test split
 * (square-activation MLP), encrypted predictions agree with plaintext ones for ≥ 99.9 % of
 * rows; the maximum absolute score error is printed. Models are trained centrally here.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { inferRows, FheSession, localTransport } from "../../../client/fhe/client.ts";
import { CkksContext } from "../../../client/fhe/context.ts";
import { compilePlan, labelOf, plainScores, type DenseModel } from "../../../client/fhe/model.ts";
import { buildPackage, publicInfo, verifyPackage } from "../../../client/fhe/package.ts";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import type { Seal } from "../../../client/fhe/seal.ts";
import { loadOptdigits, loadWdbc, trainLogReg, trainSquareMlp, type Dataset } from "./helpers.ts";

let seal: Seal;
beforeAll(async () => {
  seal = await loadSealNode();
});

function compare(model: DenseModel, d: Dataset, enc: { scores: Float64Array[]; labels: number[] }) {
  let agree = 0, maxErr = 0, correctPlain = 0, correctEnc = 0;
  d.xTest.forEach((x, i) => {
    const p = plainScores(model, x);
    const e = enc.scores[i]!;
    for (let k = 0; k < p.length; k++) maxErr = Math.max(maxErr, Math.abs(p[k]! - e[k]!));
    if (labelOf(p) === enc.labels[i]) agree++;
    if (labelOf(p) === d.yTest[i]) correctPlain++;
    if (enc.labels[i] === d.yTest[i]) correctEnc++;
  });
  const n = d.xTest.length;
  return { rows: n, agreement: agree / n, maxErr, plainAcc: correctPlain / n, encAcc: correctEnc / n };
}

describe("acceptance", () => {
  it("wdbc logistic regression: encrypted labels = plaintext labels (batch)", async () => {
    const d = loadWdbc();
    const model = await trainLogReg(d);
    const pkg = await buildPackage(model, { modelId: "wdbc-lr" });
    expect(pkg.ckks.coeffModulusBits).toEqual([60, 40, 60]);
    const r = await inferRows({ modelId: "wdbc-lr", rows: d.xTest, local: pkg, mode: "batch", seal });
    const c = compare(model, d, r);
    console.log(`[fhe] wdbc LR batch: ${JSON.stringify(c)}`);
    expect(c.agreement).toBeGreaterThanOrEqual(0.999);
    expect(c.maxErr).toBeLessThan(1e-3);
    expect(c.plainAcc).toBeGreaterThan(0.93);
    // two encryption threads, three ciphertext batches (the rows repeated): the same labels
    const many = Array.from({ length: 2 * 8192 + 7 }, (_, i) => d.xTest[i % d.xTest.length]!);
    const t = await inferRows({ modelId: "wdbc-lr", rows: many, local: pkg, mode: "batch", seal, threads: 2 });
    expect(t.labels).toHaveLength(many.length);
    t.labels.forEach((l, i) => expect(l).toBe(r.labels[i % d.xTest.length]));
  });

  it("wdbc logistic regression, fast linear profile (one data prime): batch and single", async () => {
    const d = loadWdbc();
    const model = await trainLogReg(d);
    const pkg = await buildPackage(model, { modelId: "wdbc-lr-fast", profile: "fast-linear" });
    expect(pkg.ckks.coeffModulusBits).toEqual([60, 60]);
    const r = await inferRows({ modelId: "wdbc-lr-fast", rows: d.xTest, local: pkg, mode: "batch", seal });
    const c = compare(model, d, r);
    console.log(`[fhe] wdbc LR batch, fast-linear: ${JSON.stringify(c)}`);
    expect(c.agreement).toBeGreaterThanOrEqual(0.999);
    expect(c.maxErr).toBeLessThan(1e-2);
    const one = await inferRows({ modelId: "wdbc-lr-fast", rows: [d.xTest[3]!], local: pkg, seal });
    expect(Math.abs(one.scores[0]![0]! - plainScores(model, d.xTest[3]!)[0]!)).toBeLessThan(1e-2);
  });

  it.each(["constant-term", "masked-sum", "rotate-and-sum"] as const)("wdbc logistic regression: single sample, %s", async (path) => {
    const d = loadWdbc();
    const model = await trainLogReg(d);
    const pkg = await verifyPackage(await buildPackage(model, { modelId: "wdbc-lr" }));
    const ctx = CkksContext.get(seal, pkg.ckks);
    const s = await FheSession.open(seal, publicInfo(pkg), localTransport(ctx, compilePlan(pkg.model)), { single: true, linearSingle: path });
    expect(s.singlePath).toBe(path);
    try {
      let maxErr = 0;
      for (const x of d.xTest.slice(0, 20)) {
        const r = await s.infer([x], "single");
        const p = plainScores(model, x);
        maxErr = Math.max(maxErr, Math.abs(r.scores[0]![0]! - p[0]!));
        expect(r.labels[0]).toBe(labelOf(p));
      }
      console.log(`[fhe] wdbc LR single (${path}): 20 rows, maxErr=${maxErr}`);
      expect(maxErr).toBeLessThan(1e-3);
    } finally {
      s.close();
    }
  });

  it("optdigits square MLP: encrypted labels = plaintext labels (batch)", async () => {
    const d = loadOptdigits();
    const model = await trainSquareMlp(d);
    const pkg = await buildPackage(model, { modelId: "optdigits-mlp" });
    expect(pkg.depth).toBe(3);
    const r = await inferRows({ modelId: "optdigits-mlp", rows: d.xTest, local: pkg, mode: "batch", seal });
    const c = compare(model, d, r);
    console.log(`[fhe] optdigits MLP batch (params ${pkg.ckks.polyModulusDegree}/${pkg.ckks.coeffModulusBits.join(",")}): ${JSON.stringify(c)}`);
    expect(c.agreement).toBeGreaterThanOrEqual(0.999);
    expect(c.plainAcc).toBeGreaterThan(0.9);
    // two rows per slot, split before the square with one conjugation per hidden unit
    const s = await FheSession.open(seal, publicInfo(pkg), localTransport(CkksContext.get(seal, pkg.ckks), compilePlan(pkg.model)), { single: false, packing: "complex" });
    try {
      const rc = await s.infer(d.xTest, "batch");
      const cc = compare(model, d, rc);
      console.log(`[fhe] optdigits MLP batch, two rows per slot: ${JSON.stringify(cc)}`);
      expect(cc.agreement).toBeGreaterThanOrEqual(0.999);
      expect(cc.maxErr).toBeLessThan(1e-3);
    } finally {
      s.close();
    }
  });
});
