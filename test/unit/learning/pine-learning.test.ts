/**
 * Validated learning at MLP size with the PINE norm check (issue 13): the optdigits MLP
 * (2410 parameters) example job runs validated by default, its predicates bound ‖[n·Δ ‖ n]‖
 * with method "pine" (no per-entry bits), small models keep per-entry ranges, and the real
 * validated protocol (dealer triples) accepts honest quantised contributions and excludes
 * one just over the norm bound and one whose huge entry wraps mod p.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { learningLayout, learningPredicates, parseLearningTask } from "../../../protocol/jobs/learning.ts";
import { quantize, squaredNormInt, validateContribution } from "../../../protocol/learning/bounds.ts";
import { weightedContribution } from "../../../protocol/learning/aggregate.ts";
import { ValidationPlan } from "../../../protocol/mascot/validation.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { plainSum, runWithDealer } from "../mascot/helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
function exampleTask(name: string) {
  const spec = JSON.parse(readFileSync(path.join(ROOT, "examples/jobs", name), "utf8")) as { mode: string; task: Record<string, unknown> };
  const { schema: _s, bounds: _b, ...task } = spec.task;
  const dim = (task.model as { inputDim: number }).inputDim;
  return { mode: spec.mode, task: { ...task, standardization: { mean: new Array<number>(dim).fill(0), std: new Array<number>(dim).fill(1) } } };
}

describe("example learning jobs run validated by default", () => {
  for (const name of ["wdbc-learning.json", "adult-learning.json", "optdigits-learning.json"]) {
    it(`${name}: validated, and its predicates fit m61 for a committee of 5`, () => {
      const { mode, task } = exampleTask(name);
      expect(mode).toBe("validated");
      const { job } = parseLearningTask(task);
      expect(job.aggregation.mode).toBe("validated");
      const layout = learningLayout(job, 5, "m61");
      expect(() => new ValidationPlan(m61, layout.length, learningPredicates(layout))).not.toThrow();
    });
  }
  it("optdigits (2411 entries) uses PINE: no per-entry bits, a witness of a few thousand values instead of ≈ 55k", () => {
    const { job } = parseLearningTask(exampleTask("optdigits-learning.json").task);
    const layout = learningLayout(job, 5, "m61");
    expect(layout.plan.normCheck).toBe("pine");
    const preds = learningPredicates(layout);
    expect(preds.find((p) => p.kind === "l2-norm")).toMatchObject({ method: "pine", indices: [0, layout.plan.length] });
    expect(preds.some((p) => p.kind === "range" && (p.indices?.[1] ?? 0) - (p.indices?.[0] ?? 0) > 3)).toBe(false);
    const plan = new ValidationPlan(m61, layout.length, preds);
    expect(plan.auxLength + plan.lateMaskLength).toBeLessThan(2500);
    expect(plan.auxLength + plan.lateMaskLength).toBeLessThan((layout.plan.length * layout.plan.rangeBits) / 20);
  });
  it("adult (107 entries) chooses PINE explicitly: a smaller witness than its 27-bit per-entry ranges, same count and evaluation checks", () => {
    const { job } = parseLearningTask(exampleTask("adult-learning.json").task);
    expect(job.aggregation.normCheck).toBe("pine");
    const layout = learningLayout(job, 5, "m61");
    expect(layout.plan.normCheck).toBe("pine");
    const preds = learningPredicates(layout);
    expect(preds.find((p) => p.kind === "l2-norm")).toMatchObject({ method: "pine", indices: [0, layout.plan.length] });
    const pine = new ValidationPlan(m61, layout.length, preds);
    const ranged = learningLayout(parseLearningTask({ ...exampleTask("adult-learning.json").task, aggregation: { ...job.aggregation, normCheck: "range" } }).job, 5, "m61");
    const range = new ValidationPlan(m61, ranged.length, learningPredicates(ranged));
    // Authenticated values per party (each costs one COPE input per peer): witness + late inputs + proof.
    expect(pine.auxLength + pine.maskLength).toBeLessThan(0.8 * (range.auxLength + range.maskLength));
    expect(preds.filter((p) => p.kind === "range").map((p) => p.indices)).toEqual([[106, 107], [106, 107], [107, 110]]);
  });
  it("wdbc (31 entries) keeps per-entry ranges (cheaper below 256 entries); a job may choose explicitly", () => {
    const { job } = parseLearningTask(exampleTask("wdbc-learning.json").task);
    expect(learningLayout(job, 5, "m61").plan.normCheck).toBe("range");
    const forced = parseLearningTask({ ...exampleTask("wdbc-learning.json").task, aggregation: { mode: "validated", maxSamplesPerNode: 256, fracBits: 8, normCheck: "pine" } }).job;
    const layout = learningLayout(forced, 5, "m61");
    expect(layout.plan.normCheck).toBe("pine");
    expect(learningPredicates(layout).find((p) => p.kind === "l2-norm")).toMatchObject({ method: "pine" });
  });
});

describe("optdigits-size validated round with PINE (dealer triples, 3 parties)", () => {
  const { job } = parseLearningTask(exampleTask("optdigits-learning.json").task);
  const n = 3;
  const layout = learningLayout(job, n, "m61");
  const { plan, evalPlan } = layout;
  const d = plan.length - 1;
  const clip = job.model.clipNorm!;
  /** A clipped random update Δ (‖Δ‖ = scale·clip) from `samples` rows, quantised, with evaluation sums. */
  function contribution(seed: string, samples: number, scale = 1): number[] {
    const rng = seededRng(seed);
    const b = rng.bytes(2 * d);
    const raw = Array.from({ length: d }, (_, k) => ((b[2 * k]! | (b[2 * k + 1]! << 8)) / 65535) - 0.5);
    const norm = Math.sqrt(raw.reduce((a, v) => a + v * v, 0));
    const delta = raw.map((v) => (v / norm) * clip * scale);
    const q = Array.from(quantize(weightedContribution(delta, samples), plan.fracBits, 1e12));
    return [...q, ...Array.from(quantize([20, 30, 40], evalPlan.fracBits, evalPlan.bound))];
  }
  it("honest nodes pass; a node just over the L2 bound and a node whose entry wraps mod p are excluded", () => {
    const honest = contribution("a", job.aggregation.maxSamplesPerNode); // at the clip norm, most samples
    expect(validateContribution(honest.slice(0, plan.length), plan)).toEqual({ ok: true });
    // over: scale the update so that Σx² exceeds l2Bound by a small margin
    let over = contribution("b", job.aggregation.maxSamplesPerNode, 1.0);
    for (let s = 1.0; squaredNormInt(over.slice(0, plan.length)) <= plan.l2Bound; s += 0.0005) over = contribution("b", job.aggregation.maxSamplesPerNode, s);
    expect(squaredNormInt(over.slice(0, plan.length))).toBeLessThan((plan.l2Bound * 101n) / 100n);
    const inputs = [honest, over, contribution("c", 300)].map((x) => m61.fromInts(x));
    const r = runWithDealer({ n, inputs, predicates: learningPredicates(layout), seed: "pine-over" });
    expect(r.net.errors).toEqual([undefined, undefined, undefined]);
    for (const p of r.parties) {
      expect(p.result!.excluded).toEqual([1]);
      expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs, [1]));
    }
    // wrap: entry 0 = ⌈√p⌉, so Σx² mod p stays tiny while the integer norm is ≈ 2^61
    let t = BigInt(Math.floor(Math.sqrt(Number(m61.p))));
    while (t * t < m61.p) t++;
    const wrapping = m61.fromInts(contribution("d", 10, 0));
    m61.set(wrapping, 0, t);
    const w = runWithDealer({ n, inputs: [inputs[0]!, wrapping, inputs[2]!], predicates: learningPredicates(layout), seed: "pine-wrap" });
    expect(w.net.errors).toEqual([undefined, undefined, undefined]);
    for (const p of w.parties) expect(p.result!.excluded).toEqual([1]);
  }, 120_000);
});
