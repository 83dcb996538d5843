/**
 * Unsigned quantities must be range-checked as unsigned (DESIGN §1 "Validation is sound").
 * A learning contribution is [n·Δ ‖ n ‖ Σloss ‖ Σcorrect ‖ count] in fixed point; the update
 * entries n·Δ are signed, but the sample count n that weights the update is not. A node that
 * reports n = −300 (with an honest-looking update) passes a signed range check (n + B ≥ 0) and
 * the L2 bound ((−300)² = 300²), and then scales the FedAvg mean Σ n_k·Δ_k / Σ n_k by hundreds
 * — here it cancels the honest total 100 + 200 and leaves Σ n_k = 0. The real validated
 * protocol (MASCOT offline phase, authenticated inputs, predicates) must exclude it.
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { learningLayout, learningPredicates, parseLearningTask } from "../../../protocol/jobs/learning.ts";
import { quantize, validateContribution } from "../../../protocol/learning/bounds.ts";
import { weightedContribution } from "../../../protocol/learning/aggregate.ts";
import { SecureSumParty } from "../../../protocol/mascot/party.ts";
import { runNetwork } from "../../../protocol/mascot/testing/transport.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { plainSum, runWithDealer } from "../mascot/helpers.ts";

const { job } = parseLearningTask({
  model: {
    inputDim: 3, classes: 2, architecture: { kind: "logistic" }, loss: "binary-crossentropy",
    optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 8, seed: 7,
    strategy: { kind: "fedavg", serverLearningRate: 1 }, clipNorm: 1,
  },
  stopping: { maxRounds: 3 },
  aggregation: { mode: "validated", maxSamplesPerNode: 1000 },
});

const n = 3;
const layout = learningLayout(job, n, "m61");
const { plan, evalPlan } = layout;

/** One node's secure-sum input: quantised [n·Δ ‖ n] and evaluation sums, with the count entry overridden. */
function contribution(delta: number[], samples: number, countOverride?: number): number[] {
  const q = Array.from(quantize(weightedContribution(delta, samples), plan.fracBits, plan.bound));
  if (countOverride !== undefined) q[plan.length - 1] = Math.round(countOverride * 2 ** plan.fracBits);
  const ev = Array.from(quantize([5, 8, 10], evalPlan.fracBits, evalPlan.bound));
  return [...q, ...ev];
}

describe("learning: the sample count is range-checked as unsigned", () => {
  const honestA = contribution([0.1, -0.2, 0.05, 0], 100);
  const honestB = contribution([0.2, 0.1, -0.1, 0.3], 200);
  const cheater = contribution([0.3, 0.3, 0.3, 0.3], 100, -300);

  it("the plaintext reference rejects a negative count (and a count above maxSamplesPerNode)", () => {
    expect(validateContribution(honestA.slice(0, plan.length), plan)).toEqual({ ok: true });
    expect(validateContribution(cheater.slice(0, plan.length), plan).ok).toBe(false);
    const tooMany = contribution([0, 0, 0, 0], 1000, 1001);
    expect(validateContribution(tooMany.slice(0, plan.length), plan).ok).toBe(false);
    expect(validateContribution(contribution([0, 0, 0, 0], 1000).slice(0, plan.length), plan)).toEqual({ ok: true });
  });

  it("a node reporting n = −300 is excluded by the real validated protocol; the honest sum opens", () => {
    const inputs = [honestA, cheater, honestB].map((x) => m61.fromInts(x));
    expect(m61.get(inputs[1]!, plan.length - 1)).toBe(m61.p - 300n * (1n << BigInt(plan.fracBits))); // −300 in the field
    const predicates = learningPredicates(layout);
    const parties = inputs.map((x, me) => new SecureSumParty(
      { field: m61, parties: n, me, mode: "validated", length: layout.length, predicates, sessionId: new TextEncoder().encode("negative-count") },
      x, seededRng(`negative-count/${me}`)));
    const net = runNetwork(parties);
    expect(net.errors).toEqual([undefined, undefined, undefined]);
    for (const p of parties) {
      expect(p.result!.excluded).toEqual([1]);
      const sum = m61.toBigInts(p.result!.sum);
      expect(sum[plan.length - 1]).toBe(300n * (1n << BigInt(plan.fracBits))); // Σ n over the honest nodes
    }
  });

  it("the count's bounds are exact: 0 and maxSamplesPerNode pass, maxSamplesPerNode + 1 is excluded (dealer triples)", () => {
    const inputs = [contribution([0, 0, 0, 0], 1000), contribution([0, 0, 0, 0], 1000, 1001), contribution([0, 0, 0, 0], 1, 0)].map((x) => m61.fromInts(x));
    const { net, parties } = runWithDealer({ n: 3, inputs, predicates: learningPredicates(layout), seed: "count-bounds" });
    expect(net.errors).toEqual([undefined, undefined, undefined]);
    for (const p of parties) {
      expect(p.result!.excluded).toEqual([1]);
      expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs, [1]));
    }
  });
});
