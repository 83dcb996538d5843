/**
 * The final model is evaluated (issue 17, friction 5): once a learning job's stopping rule
 * fires, the job runs one evaluation-only round on the model the last training round produced;
 * nodes recognise that round from the log, send only [Σloss ‖ Σcorrect ‖ count] under range
 * checks, and the result lists the final model with its metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJob, onOutcome, plan, type JobEffect, type JobState } from "../../../durable-objects/core/job-machine.ts";
import { m61 } from "../../../protocol/field/index.ts";
import { evaluationLayout, evaluationPredicates, initLearning, isFinalEvaluationRound, parseLearningTask, reduceFinalEvaluation, type LearningResult } from "../../../protocol/jobs/learning.ts";
import { formatLearningResult } from "../../../protocol/jobs/learning-format.ts";
import { quantize } from "../../../protocol/learning/bounds.ts";
import { encodeGlobalModel, globalModelHash } from "../../../protocol/learning/codec.ts";
import type { LogEntry } from "../../../protocol/log/index.ts";
import { createLocalModel, type LocalModel } from "../../../client/learning/model.ts";
import type { Dataset } from "../../../client/learning/datasets.ts";
import { ModelRejected, runNodeEvaluation } from "../../../client/learning/node-round.ts";
import { runWithDealer } from "../mascot/helpers.ts";
import { ctx, learningAggregate, learningSpec, nodes, storedModel } from "./fixtures.ts";
import type { StoredModel } from "../../../durable-objects/core/job-types.ts";

const logged = (effects: JobEffect[]) => effects.flatMap((e) => (e.kind === "log" ? [e.entry] : []));
const spec = learningSpec(); // 3 training rounds, committee of 3
const job = parseLearningTask(spec.task).job;

/** An evaluation-only aggregate: loss sum, correct and count over `count` rows. */
function evalAggregate(loss: number, correct: number, count: number): Uint8Array {
  const { evalPlan } = evaluationLayout(job, 3, spec.field);
  return m61.encode(m61.fromInts(Array.from(quantize([loss, correct, count], evalPlan.fracBits, evalPlan.bound))));
}

/** Runs the job until it is done or `stopAt` training rounds are accepted; returns state and log. */
function drive(evalAgg: Uint8Array | null) {
  const c = createJob("job1", spec, null, ctx());
  let s: JobState = c.state;
  const models = new Map<number, StoredModel | null>([[0, storedModel(c.effects, 0)]]);
  const log: LogEntry[] = [];
  const step = (effects: JobEffect[]) => log.push(...logged(effects));
  for (let i = 0; i < 10 && s.status !== "completed" && s.status !== "failed"; i++) {
    const p = plan(s, nodes(3), ctx());
    step(p.effects);
    s = p.state;
    const final = isFinalEvaluationRound(log, s.round);
    if (final && !evalAgg) break;
    const aggregate = final ? evalAgg! : learningAggregate(spec, 3);
    const r = onOutcome(s, { jobId: s.jobId, round: s.round, attempt: s.attempt, outcome: "accepted", aggregate, transcriptHash: "t", excluded: [] }, ctx(), s.models[s.round] ? models.get(s.round) ?? null : null);
    const next = storedModel(r.effects, s.round + 1);
    if (next) models.set(s.round + 1, next);
    step(r.effects);
    s = r.state;
  }
  return { state: s, log };
}

describe("learning: the final model is evaluated", () => {
  it("after the stopping rule fires, one evaluation-only round runs on the final model; the job then completes with it evaluated", () => {
    const before = drive(null);
    // three training rounds accepted, the fourth round (index 3) is open and evaluates model 3
    expect(before.state).toMatchObject({ status: "running", round: 3 });
    expect(before.state.open).not.toBeNull();
    expect(isFinalEvaluationRound(before.log, 3)).toBe(true);
    for (const r of [0, 1, 2]) expect(isFinalEvaluationRound(before.log, r)).toBe(false);
    const pending = before.state.result as LearningResult;
    expect(pending).toMatchObject({ latestModelRound: 3, stopReason: "max-rounds", final: "evaluating" });
    expect(formatLearningResult(pending, "job1")).toContain("3        (final model, being evaluated)");
    const manifest = before.log.filter((e) => e.body.kind === "manifest").at(-1)!.body as { round: number; manifest: { modelHash: string } };
    expect(manifest.round).toBe(3);
    expect(manifest.manifest.modelHash).toBe(before.state.models[3]);

    const { state, log } = drive(evalAggregate(12, 45, 50));
    expect(state.status).toBe("completed");
    expect(Object.keys(state.models)).toEqual(["0", "1", "2", "3"]); // the evaluation round publishes no model
    const r = state.result as LearningResult;
    expect(r.final).toBe("evaluated");
    expect(r.latestModelRound).toBe(3);
    expect(r.history.map((h) => h.round)).toEqual([0, 1, 2, 3]);
    expect(r.history[3]).toMatchObject({ round: 3, samples: 0, parties: 3 });
    expect(r.history[3]!.loss).toBeCloseTo(12 / 50, 6);
    expect(r.history[3]!.accuracy).toBeCloseTo(45 / 50, 6);
    expect(r.bestRound).toBe(0); // the training rounds' loss 0 (fixture) stays the best
    expect(log.filter((e) => e.body.kind === "status").at(-1)!.body).toMatchObject({ status: "completed", detail: "completed after round 4" });
    const text = formatLearningResult(r, "job1");
    expect(text).toMatch(/final model 3 evaluated/);
    expect(text).toMatch(/^3 +0\.2400 +90\.00 % +— +3 .*← final \(evaluated only\)$/m);
  });

  it("the final model becomes the best one only if it beats the stopping rule's choice on the monitored metric", () => {
    const { state } = initLearning(job);
    const prior: LearningResult = { history: [{ round: 0, loss: 0.5, accuracy: 0.7, samples: 90, parties: 3 }, { round: 1, loss: 0.3, accuracy: 0.8, samples: 90, parties: 3 }], bestRound: 1, latestModelRound: 2, stopReason: "max-rounds", final: "evaluating" };
    const at2 = { ...state, round: 2 };
    expect(reduceFinalEvaluation(job, at2, prior, "m61", evalAggregate(12, 45, 50), 3, 3).result).toMatchObject({ bestRound: 2, final: "evaluated" });
    expect(reduceFinalEvaluation(job, at2, prior, "m61", evalAggregate(20, 45, 50), 3, 3).result).toMatchObject({ bestRound: 1, final: "evaluated" });
    // no node evaluated: null metrics, the earlier best stays
    const none = reduceFinalEvaluation(job, at2, prior, "m61", evalAggregate(0, 0, 0), 3, 3).result;
    expect(none.history[2]).toMatchObject({ round: 2, loss: null, accuracy: null });
    expect(none.bestRound).toBe(1);
  });

  it("if the final evaluation cannot run, the job still completes, with its models and the final model marked not evaluated", () => {
    const before = drive(null).state; // the evaluation round is open
    const aborted = (s: JobState) => onOutcome(s, { jobId: s.jobId, round: s.round, attempt: s.attempt, outcome: "aborted", code: "timeout", culprits: [0], detail: "d" }, ctx()).state;
    let s = before;
    for (let i = 0; i <= spec.retryBudget && s.status === "running"; i++) {
      s = aborted(s);
      if (s.status === "running") s = plan(s, nodes(3).concat(nodes(8).slice(3)), ctx()).state;
    }
    expect(s.status).toBe("completed");
    expect(s.error).toBeNull();
    const r = s.result as LearningResult;
    expect(r).toMatchObject({ final: "not-evaluated", latestModelRound: 3 });
    expect(formatLearningResult(r, "job1")).toMatch(/final model 3 not evaluated/);
    // a training round that cannot run still fails the job
    const c = createJob("job2", spec, null, ctx()).state;
    const o = plan(c, nodes(3), ctx()).state;
    const r0 = onOutcome(o, { jobId: o.jobId, round: 0, attempt: 0, outcome: "aborted", code: "declined", culprits: [0], detail: "party 0 declined: no" }, ctx());
    const f = plan(r0.state, nodes(3).filter((n) => !r0.state.excluded.includes(n.nodeId)).slice(0, 1), ctx()).state;
    expect(f.status).toBe("failed");
  });

  it("a training-sized aggregate in the evaluation round is refused (reduce-failed), not applied as an update", () => {
    const { state } = drive(learningAggregate(spec, 3));
    expect(state.status).toBe("failed");
    expect(state.error).toMatch(/^reduce-failed: evaluation aggregate has \d+ entries, expected 3/);
  });

  it("the evaluation round's predicates exclude a node reporting a negative count (validated secure sum)", () => {
    const layout = evaluationLayout(job, 3, "m61");
    const q = (v: number[]) => m61.fromInts(Array.from(quantize(v, layout.evalPlan.fracBits, layout.evalPlan.bound)));
    const inputs = [q([3, 8, 10]), q([1, 9, -10]), q([2, 7, 10])];
    const { net, parties } = runWithDealer({ n: 3, inputs, predicates: evaluationPredicates(layout), seed: "final-eval" });
    expect(net.errors).toEqual([undefined, undefined, undefined]);
    for (const p of parties) expect(p.result!.excluded).toEqual([1]);
  });
});

describe("node: evaluation-only step", () => {
  let m: LocalModel;
  const rows: Dataset = (() => {
    const n = 20;
    const x = new Float32Array(n * 3);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) { y[i] = i % 2; x[3 * i] = y[i]! ? 1 : -1; x[3 * i + 1] = Math.sin(i); x[3 * i + 2] = 0.5; }
    return { x, y, n, d: 3, classes: 2, featureNames: ["a", "b", "c"] };
  })();
  beforeAll(async () => { m = await createLocalModel(job.model); });
  afterAll(() => m.dispose());

  it("verifies the model against the logged hash and returns only the quantised evaluation of the held-out rows", () => {
    const { evalPlan } = evaluationLayout(job, 3, "m61");
    const bytes = encodeGlobalModel(3, m.getWeights());
    const out = runNodeEvaluation({ model: m, globalModel: bytes, expectedHash: globalModelHash(bytes), round: 3, heldOut: rows, evalPlan });
    expect(out.evaluation).toHaveLength(3);
    expect(out.evalSums.count).toBe(20);
    expect(out.evaluation[2]).toBe(20 * 2 ** evalPlan.fracBits);
    const other = encodeGlobalModel(3, m.getWeights().map((v, i) => (i === 0 ? v + 1 : v)));
    expect(() => runNodeEvaluation({ model: m, globalModel: other, expectedHash: globalModelHash(bytes), round: 3, heldOut: rows, evalPlan })).toThrow(ModelRejected);
    expect(() => runNodeEvaluation({ model: m, globalModel: bytes, expectedHash: globalModelHash(bytes), round: 2, heldOut: rows, evalPlan })).toThrow(/wrong-round/);
  });
});
