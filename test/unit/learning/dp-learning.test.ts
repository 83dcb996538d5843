/**
 * Private learning (DP-FedSGD, protocol/learning/dp.ts, client/learning/dp-sgd.ts,
 * protocol/jobs/learning.ts reducePrivate): the spec and its refusals, exact per-example
 * gradients (against finite differences) and clipping, the noise plan (sensitivity of the
 * quantised contribution to replacing one row, σ from the per-round ρ, the same ρ the node's
 * budget charges), the accountant (rounds compose to the total, the job stops before
 * exceeding it), the reduce with noise, and one private learning round through MASCOT.
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { evaluationLayout, initLearning, learningLayout, learningPredicates, noisyEvalMetrics, parseLearningTask, reduceFinalEvaluation, reduceLearning, startFinalEvaluation } from "../../../protocol/jobs/learning.ts";
import { learningAccountant, learningReleases } from "../../../protocol/learning/dp.ts";
import { LearningJob, planForJob, type LearningJobInput } from "../../../protocol/learning/job.ts";
import { encodeGlobalModel, globalModelHash } from "../../../protocol/learning/codec.ts";
import { quantize, squaredNormInt } from "../../../protocol/learning/bounds.ts";
import { privacyCost, roundCost } from "../../../protocol/dp/cost.ts";
import { epsilonOf, rhoFor } from "../../../protocol/dp/zcdp.ts";
import { RHO_TOLERANCE } from "../../../protocol/dp/accountant.ts";
import { noisePredicate } from "../../../protocol/mascot/noise.ts";
import { SecureSumParty } from "../../../protocol/mascot/party.ts";
import { runNetwork } from "../../../protocol/mascot/testing/transport.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { clippedGradientSum, evaluateDense, perExampleGradient, predictProba, sampleBatch } from "../../../client/learning/dp-sgd.ts";
import { runNodeDpRound } from "../../../client/learning/node-round.ts";
import type { Dataset } from "../../../client/learning/datasets.ts";
import { learningInput } from "../../../client/agent/tasks/learning.ts";
import { TaskRejected } from "../../../client/agent/tasks/errors.ts";
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import type { LoadedDataset } from "../../../client/data/source.ts";
import type { NodeClient } from "../../../client/agent/node-client.ts";
import { dealer, SID } from "../mascot/helpers.ts";

type DenseSpec = Parameters<typeof predictProba>[0];

const model = (extra: Record<string, unknown> = {}) => ({
  inputDim: 4, classes: 2, architecture: { kind: "logistic" }, loss: "binary-crossentropy",
  optimizer: { kind: "sgd", learningRate: 0.5 }, epochs: 1, batchSize: 8, seed: 3, strategy: { kind: "fedavg", serverLearningRate: 1 }, ...extra,
});
const privateJob = (over: Partial<LearningJobInput> = {}, modelExtra: Record<string, unknown> = {}): LearningJobInput => ({
  model: model(modelExtra) as LearningJobInput["model"],
  stopping: { maxRounds: 4 },
  aggregation: { mode: "validated", maxSamplesPerNode: 1000 },
  privacy: { epsilon: 3, delta: 1e-6 },
  dp: { clip: 1, batchSize: 16 },
  ...over,
});

function synthetic(n: number, d: number, classes: number, seed: number): Dataset {
  let s = seed;
  const rnd = () => { s = (s * 1103515245 + 12345) % 2 ** 31; return s / 2 ** 31; };
  const x = new Float32Array(n * d), y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let t = 0;
    for (let j = 0; j < d; j++) { x[r * d + j] = 4 * rnd() - 2; t += x[r * d + j]! * (j % 2 ? 1 : -1); }
    y[r] = classes === 2 ? (t > 0 ? 1 : 0) : Math.min(classes - 1, Math.floor(rnd() * classes));
  }
  return { x, y, n, d, classes, featureNames: [] };
}

describe("private learning spec", () => {
  it("accepts privacy + dp in validated mode; parseLearningTask keeps them", () => {
    const { job } = parseLearningTask(privateJob() as unknown as Record<string, unknown>);
    expect(job.privacy).toEqual({ epsilon: 3, delta: 1e-6 });
    expect(job.dp).toEqual({ clip: 1, batchSize: 16 });
  });
  it("refuses each inconsistent private spec with a message naming the field", () => {
    const bad = (j: LearningJobInput) => LearningJob.safeParse(j).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") ?? "";
    expect(bad(privateJob({ aggregation: { mode: "linear-only", maxSamplesPerNode: 1000 } }))).toMatch(/aggregation.mode: privacy needs validated/);
    expect(bad(privateJob({ aggregation: { mode: "plaintext", maxSamplesPerNode: 1000 } }))).toMatch(/privacy needs validated/);
    expect(bad(privateJob({ dp: undefined }))).toMatch(/^dp: a private learning job needs both/);
    expect(bad({ ...privateJob(), privacy: undefined, model: model({ clipNorm: 1 }) as LearningJobInput["model"] })).toMatch(/^privacy: a private learning job needs both/);
    expect(bad(privateJob({}, { clipNorm: 2 }))).toMatch(/model.clipNorm: a private job clips per example/);
    expect(bad(privateJob({}, { optimizer: { kind: "adam", learningRate: 0.1 } }))).toMatch(/optimizer.kind: .*sgd/);
    expect(bad(privateJob({ stopping: { maxRounds: 4, patience: 2 } }))).toMatch(/stopping: a private job releases no per-round evaluation/);
    expect(bad(privateJob({ stopping: { maxRounds: 4, target: { metric: "accuracy", value: 0.9 } } }))).toMatch(/stopping.target/);
    expect(bad(privateJob({ dp: { clip: 0, batchSize: 16 } }))).toMatch(/dp.clip must be a positive number/);
    expect(bad(privateJob({ dp: { clip: 1, batchSize: 0 } }))).toMatch(/dp.batchSize must be at least 1/);
    expect(bad(privateJob())).toBe("");
  });
  it("the node declines a private job outside validated mode (privacy-mode) before touching its data", async () => {
    const manifest = { task: privateJob() as unknown as Record<string, unknown>, mode: "linear-only", committee: [{}, {}, {}], field: "m61", round: 0, jobId: "j" } as unknown as RoundManifest;
    const err = await learningInput(manifest, {} as LoadedDataset, m61, {} as NodeClient, [], 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskRejected);
    expect((err as TaskRejected).code).toBe("privacy-mode");
  });
  it("a private job whose noise does not fit the field is refused with advice (m61 at fracBits 20: the update fits, its noise does not)", () => {
    const { job } = parseLearningTask(privateJob({ aggregation: { mode: "validated", maxSamplesPerNode: 1000, fracBits: 20 } }) as unknown as Record<string, unknown>);
    expect(() => planForJob(job, 3, m61.p, 20)).not.toThrow();
    expect(() => learningLayout(job, 3, "m61")).toThrow(/fracBits 20: the PINE noise-norm check .* does not fit the field\); lower aggregation.fracBits/);
    expect(learningLayout(job, 3, "p128").privacy).toBeDefined();
    expect(learningLayout(parseLearningTask(privateJob() as unknown as Record<string, unknown>).job, 3, "m61").privacy).toBeDefined();
  });
});

describe("per-example gradients (exact backprop against central finite differences)", () => {
  const acts = [
    { activation: "relu" }, { activation: "sigmoid" }, { activation: "tanh" }, { activation: "square" },
    { activation: "poly2", poly: [0.1, 0.5, 0.25] }, { activation: "linear" },
  ];
  const cases = [
    { name: "logistic", spec: { inputDim: 5, classes: 2, architecture: { kind: "logistic" as const } } },
    ...acts.map((a) => ({ name: `mlp ${a.activation}, 3 classes`, spec: { inputDim: 5, classes: 3, architecture: { kind: "mlp", hidden: [{ units: 4, ...a }, { units: 3, activation: "tanh" }] } } as DenseSpec })),
    { name: "mlp sigmoid, binary", spec: { inputDim: 5, classes: 2, architecture: { kind: "mlp" as const, hidden: [{ units: 6, activation: "sigmoid" as const }] } } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const size = c.spec.architecture.kind === "logistic" ? 6 : c.spec.classes === 2 ? 5 * 6 + 6 + 6 + 1 : 5 * 4 + 4 + 4 * 3 + 3 + 3 * 3 + 3;
      const rng = seededRng(`grad/${c.name}`);
      const w = Float64Array.from(rng.bytes(size), (b) => (b / 255 - 0.5) * 1.2);
      const x = [0.3, -1.2, 0.8, 0.05, -0.6];
      const loss = (ww: Float64Array) => {
        const p = predictProba(c.spec, ww, x);
        return c.spec.classes === 2 ? -Math.log(1 - p[0]!) : -Math.log(p[1]!); // y = 0 (binary), y = 1 (3 classes)
      };
      const y = c.spec.classes === 2 ? 0 : 1;
      const { grad, loss: l } = perExampleGradient(c.spec, w, x, y);
      expect(grad.length).toBe(size);
      expect(l).toBeCloseTo(loss(w), 10);
      const h = 1e-6;
      for (let i = 0; i < size; i++) {
        const a = Float64Array.from(w), b = Float64Array.from(w);
        a[i]! += h; b[i]! -= h;
        expect(grad[i]!).toBeCloseTo((loss(a) - loss(b)) / (2 * h), 5);
      }
    });
  }
  it("refuses a wrong weight count or a label outside the classes", () => {
    const spec = { inputDim: 2, classes: 2, architecture: { kind: "logistic" as const } };
    expect(() => perExampleGradient(spec, [0, 0], [1, 1], 0)).toThrow(/needs 3/);
    expect(() => perExampleGradient(spec, [0, 0, 0], [1, 1], 2)).toThrow(/label 2/);
  });
});

describe("clipping and batch sampling", () => {
  const spec = { inputDim: 4, classes: 2, architecture: { kind: "logistic" as const } };
  const data = synthetic(200, 4, 2, 5);
  const w = Float64Array.of(3, -2, 1, 4, 0.5);
  it("each example's gradient is scaled to L2 ≤ C, so ‖Σ‖ ≤ B·C; small gradients are untouched", () => {
    const batch = sampleBatch(200, 50, seededRng("b"));
    const big = clippedGradientSum(spec, w, data, batch, 0.01);
    expect(big.clipped).toBeGreaterThan(0);
    expect(Math.hypot(...big.sum)).toBeLessThanOrEqual(50 * 0.01 + 1e-12);
    // with a clip above every gradient's norm the sum is the plain gradient sum
    const loose = clippedGradientSum(spec, w, data, batch, 1e9);
    expect(loose.clipped).toBe(0);
    const plain = new Float64Array(5);
    for (const r of batch) perExampleGradient(spec, w, data.x.subarray(4 * r, 4 * r + 4), data.y[r]!).grad.forEach((g, i) => { plain[i]! += g; });
    loose.sum.forEach((v, i) => expect(v).toBeCloseTo(plain[i]!, 12));
  });
  it("samples exactly B distinct rows; refuses B > n", () => {
    const b = sampleBatch(30, 30, seededRng("s"));
    expect(new Set(b).size).toBe(30);
    expect(sampleBatch(30, 7, seededRng("t")).every((i) => i >= 0 && i < 30)).toBe(true);
    expect(() => sampleBatch(5, 6, seededRng("u"))).toThrow(/cannot sample 6/);
  });
  it("the node declines to train with fewer rows than the batch", () => {
    const { job } = parseLearningTask(privateJob() as unknown as Record<string, unknown>);
    const layout = learningLayout(job, 3, "m61");
    const { model: g } = initLearning(job);
    expect(() => runNodeDpRound({ globalModel: g, expectedHash: globalModelHash(g), round: 0, train: synthetic(10, 4, 2, 1), plan: layout.plan, spec: job.model, size: 5, dp: job.dp! })).toThrow(/10 training rows, the job samples 16/);
  });
});

describe("noise plan: sensitivity, σ and the per-round ρ", () => {
  const { job } = parseLearningTask(privateJob() as unknown as Record<string, unknown>);
  const layout = learningLayout(job, 3, "m61");
  const plan = layout.privacy!;
  const f = layout.plan.fracBits;
  it("Δ = 2C·2^f + √d; σ² = Δ²/(2ρ_round) rounded up; ρ_round is the ρ the node's budget charges per round", () => {
    expect(plan.training.sensitivity).toBeCloseTo(2 * 1 * 2 ** f + Math.sqrt(layout.plan.length), 9);
    const s2 = Number(plan.training.sigma2.num) / Number(plan.training.sigma2.den);
    expect(s2).toBeGreaterThanOrEqual(plan.training.sensitivity ** 2 / (2 * plan.rhoRound));
    expect(s2).toBeLessThanOrEqual(plan.training.sensitivity ** 2 / (2 * plan.rhoRound) + 2 ** -20);
    expect(plan.training.rho).toBeLessThanOrEqual(plan.rhoRound);
    const cost = privacyCost({ type: "learning", maxRounds: 4, task: privateJob() as unknown as Record<string, unknown> });
    expect(roundCost(cost, 0)).toBe(plan.rhoRound);
    expect(cost.kind === "private" && cost.releases).toBe(learningReleases(4));
  });
  it("releases = min(job maxRounds, stopping.maxRounds) + 1 (the final evaluation); bad counts refused", () => {
    expect(learningReleases(8, 20)).toBe(9);
    expect(learningReleases(20, 8)).toBe(9);
    expect(() => learningReleases(0)).toThrow(/stopping.maxRounds must be a positive integer/);
    expect(() => learningReleases(3, 1.5)).toThrow(/maxRounds must be a positive integer/);
  });
  it("every opened entry is noised: the update + count, then the three evaluation zeros with unit σ² (they carry no data)", () => {
    const segs = plan.training.noise.segments;
    expect(segs).toEqual([{ start: 0, end: layout.plan.length, sigma2: plan.training.sigma2 }, { start: layout.plan.length, end: layout.length, sigma2: { num: 1n, den: 1n } }]);
    const ev = evaluationLayout(job, 3, "m61");
    expect(ev.noise!.segments.map((s) => [s.start, s.end])).toEqual([[0, 1], [1, 2], [2, 3]]);
    expect(plan.evaluation.rho).toBeLessThanOrEqual(plan.rhoRound * (1 + 1e-12));
    expect(plan.evaluation.sensitivity[1]).toBe(2 ** ev.evalPlan.fracBits);
  });
  it("replacing one row changes the quantised contribution by at most Δ (same batch positions), and by about 2C when the gradients oppose", () => {
    const data = synthetic(40, 4, 2, 9);
    const w = new Float64Array(5); // p = 1/2 for every row: per-example gradients (p − y)·[x ‖ 1] of norm ≥ 1/2
    const batch = sampleBatch(40, 16, seededRng("batch"));
    const encode = (ds: Dataset) => {
      const { sum } = clippedGradientSum(job.model, w, ds, batch, 1);
      return quantize([...sum, 16], f, layout.plan.bound);
    };
    const a = encode(data);
    let worst = 0;
    for (const r of batch.slice(0, 5)) {
      const x2 = Float32Array.from(data.x), y2 = Int32Array.from(data.y);
      for (let j = 0; j < 4; j++) x2[4 * r + j] = 40 * data.x[4 * r + j]!; // flipped label, same direction: the gradient turns around
      y2[r] = 1 - data.y[r]!;
      const b = encode({ ...data, x: x2, y: y2 });
      const diff = Math.sqrt(Number(squaredNormInt(a.map((v, i) => v - b[i]!))));
      expect(diff).toBeLessThanOrEqual(plan.training.sensitivity);
      worst = Math.max(worst, diff);
    }
    expect(worst).toBeGreaterThan(1.4 * 2 ** f); // more than C: one example can move the sum by up to 2C
    // a row outside the batch changes nothing
    const out = [...Array(40).keys()].find((i) => !batch.includes(i))!;
    const x3 = Float32Array.from(data.x);
    x3[4 * out] = 99;
    expect(Array.from(encode({ ...data, x: x3 }))).toEqual(Array.from(a));
  });
});

describe("accountant and reduce", () => {
  const { job } = parseLearningTask(privateJob() as unknown as Record<string, unknown>);
  const layout = learningLayout(job, 3, "m61");
  const f = layout.plan.fracBits;
  const aggregateOf = (ints: number[]) => m61.encode(m61.fromInts(ints));
  it("the update is −lr · noisy Σ / (parties·B), whatever the opened count says; no per-round evaluation", () => {
    const { state } = initLearning(job);
    const sum = [0.5, -1, 2, 0, 3];
    const ints = [...quantize(sum, f, 1e9), 7 /* count entry: noise, ignored */, 11, -4, 2 /* noisy zeros */];
    const out = reduceLearning(job, state, "m61", aggregateOf(ints), 3, 3);
    out.state.weights.forEach((v, i) => expect(v).toBeCloseTo(state.weights[i]! - (0.5 * sum[i]!) / (3 * 16), 4));
    expect(out.result.history[0]).toMatchObject({ loss: null, accuracy: null, samples: 48, parties: 3 });
    expect(out.result.privacy).toMatchObject({ roundsReleased: 1, releases: 5, batchSize: 16, clip: 1, noisyParties: 3 });
  });
  it("composition: training stops after releases − 1 rounds, leaving the final evaluation; the job spends ≤ its total and (ε, δ) ≤ asked", () => {
    let { state } = initLearning(job);
    const acct = learningAccountant(job.privacy!, job.stopping.maxRounds);
    expect(acct.releases).toBe(5);
    let last: ReturnType<typeof reduceLearning> | null = null;
    let rounds = 0;
    for (; rounds < 10; rounds++) {
      last = reduceLearning(job, state, "m61", aggregateOf(new Array(layout.length).fill(0)), 3, 3);
      state = last.state;
      if (last.done) break;
    }
    expect(rounds + 1).toBe(acct.releases - 1); // 4 training rounds; a 5th would leave no budget for the final evaluation
    expect(last!.result.stopReason).toBe("max-rounds");
    expect(last!.result.privacy!.rhoSpent).toBeCloseTo(acct.perRelease * 4, 12);
    const ev = evaluationLayout(job, 3, "m61");
    const fin = reduceFinalEvaluation(job, state, startFinalEvaluation(last!.result), "m61", aggregateOf([...quantize([30, 90, 100], ev.evalPlan.fracBits, ev.evalPlan.bound)]), 3, 3);
    const p = fin.result.privacy!;
    expect(p.roundsReleased).toBe(5);
    expect(p.rhoSpent).toBeLessThanOrEqual(p.rhoTotal * (1 + RHO_TOLERANCE));
    expect(p.rhoTotal).toBe(rhoFor(3, 1e-6));
    expect(p.epsilonSpent).toBeLessThanOrEqual(3 + 1e-9);
    expect(p.epsilonSpent).toBeCloseTo(epsilonOf(p.rhoSpent, 1e-6), 12);
    expect(fin.result.history.at(-1)).toMatchObject({ accuracy: 0.9, loss: 0.3 });
    expect(fin.result.bestRound).toBe(4);
  });
  it("noisy evaluation sums are clamped: count ≥ 0, correct ∈ [0, count], loss ∈ [0, count·16.12]", () => {
    expect(noisyEvalMetrics([5, 130, 100])).toEqual({ loss: 0.05, accuracy: 1, count: 100 });
    expect(noisyEvalMetrics([-20, -3, 50]).accuracy).toBe(0);
    expect(noisyEvalMetrics([-20, -3, 50]).loss).toBe(0);
    expect(noisyEvalMetrics([1e9, 3, 10]).loss).toBeCloseTo(-Math.log(1e-7), 9);
    expect(Number.isNaN(noisyEvalMetrics([3, 3, -4]).accuracy)).toBe(true);
  });
});

describe("a private learning round through MASCOT (3 parties, in process)", () => {
  it("every party adds its noise; the opened update is within 6σ√N of the exact sum; the reduce steps from it", () => {
    const { job } = parseLearningTask(privateJob({ privacy: { rho: 0.5 } }) as unknown as Record<string, unknown>);
    const n = 3;
    const layout = learningLayout(job, n, "m61");
    const { state, model: g } = initLearning(job);
    const parts = [0, 1, 2].map((k) => synthetic(60, 4, 2, 100 + k));
    const xs = parts.map((train, k) => {
      const out = runNodeDpRound({ globalModel: g, expectedHash: globalModelHash(g), round: 0, train, plan: layout.plan, spec: job.model, size: 5, dp: job.dp!, rng: seededRng(`node/${k}`) });
      return [...out.contribution, ...out.evaluation];
    });
    const noise = layout.privacy!.training.noise;
    const predicates = [...learningPredicates(layout), noisePredicate(m61, noise, layout.length)];
    const parties = xs.map((x, me) => new SecureSumParty(
      { field: m61, parties: n, me, mode: "validated", length: layout.length, predicates, sessionId: SID, noise },
      m61.fromInts(x), seededRng(`dpl/${me}`), { offline: dealer(m61, n, me, "dpl", { cope: true }) }));
    const net = runNetwork(parties);
    expect(net.errors.filter((e) => e !== undefined)).toEqual([]);
    const res = parties[0]!.result!;
    expect(res.excluded).toEqual([]);
    const opened = m61.toBigInts(res.sum).map((v) => Number(v > m61.p / 2n ? v - m61.p : v));
    const exact = xs[0]!.map((_, i) => xs[0]![i]! + xs[1]![i]! + xs[2]![i]!);
    expect(opened).not.toEqual(exact);
    for (const s of noise.segments) {
      const sd = Math.sqrt((n * Number(s.sigma2.num)) / Number(s.sigma2.den));
      for (let i = s.start; i < s.end; i++) expect(Math.abs(opened[i]! - exact[i]!)).toBeLessThan(6 * sd);
    }
    const out = reduceLearning(job, state, "m61", m61.encode(res.sum), n, n);
    expect(out.result.privacy!.sigmaUpdate).toBeGreaterThan(0);
    expect(out.state.weights.every(Number.isFinite)).toBe(true);
    // the same round's inputs without noise give the exact update: the difference is the noise alone
    const exactOut = reduceLearning(job, state, "m61", m61.encode(m61.fromInts(exact)), n, n);
    const moved = Math.hypot(...out.state.weights.map((w, i) => w - exactOut.state.weights[i]!));
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan((0.5 * 6 * layout.privacy!.training.sigma * Math.sqrt(3 * 5)) / (3 * 16));
    // evaluation on a dataset (the float64 forward pass the bench uses)
    expect(evaluateDense(job.model, out.state.weights, parts[0]!).count).toBe(60);
  });
  it("a party built without the noise refuses to start (the listed noise predicate is beyond its input): no exact release", () => {
    const { job } = parseLearningTask(privateJob() as unknown as Record<string, unknown>);
    const layout = learningLayout(job, 3, "m61");
    const predicates = [...learningPredicates(layout), noisePredicate(m61, layout.privacy!.training.noise, layout.length)];
    expect(() => new SecureSumParty({ field: m61, parties: 3, me: 0, mode: "validated", length: layout.length, predicates, sessionId: SID }, m61.zeros(layout.length), seededRng("x"))).toThrow(/bad indices/);
  });
});

it("encodeGlobalModel round trip used by the DP round is the logged model (sanity)", () => {
  const { job } = parseLearningTask(privateJob() as unknown as Record<string, unknown>);
  const { state, model: g } = initLearning(job);
  expect(globalModelHash(g)).toEqual(globalModelHash(encodeGlobalModel(0, state.weights)));
});
