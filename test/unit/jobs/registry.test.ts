/**
 * The job-type registry (protocol/jobs/registry.ts) and the submission limits
 * (protocol/jobs/limits.ts): one definition per type used by every room; limits refused with
 * SpecLimitError before anything of the model is built; the learning reduce keeps only hashes
 * in its state and takes the model (and an adaptive optimiser's moments) from storage.
 */
import { describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2.js";
import { JobSpec, type JobSpecInput } from "../../../protocol/api/schemas.ts";
import { ClientFrame } from "../../../protocol/api/frames.ts";
import { toBase64Url, toHex } from "../../../protocol/encoding.ts";
import { m61 } from "../../../protocol/field/index.ts";
import { initLearning, learningLayout, learningPredicates, parseLearningTask, reduceLearning, type LearningJobState } from "../../../protocol/jobs/learning.ts";
import { JOB_LIMITS, maxAggregateEntries, SpecLimitError } from "../../../protocol/jobs/limits.ts";
import { jobType, jobTypes, validateSpec } from "../../../protocol/jobs/registry.ts";
import type { RoundAggregate } from "../../../protocol/jobs/types.ts";
import { decodeGlobalModel, decodeServerMoments } from "../../../protocol/learning/codec.ts";
import { compileQuery, parseStatsQuery } from "../../../protocol/stats/index.ts";
import { parseDatasetSchema } from "../../../protocol/stats/schema.ts";
import { JobRunner } from "../../../durable-objects/core/job-runner.ts";
import { MemoryJobStore, MemoryRoundPort } from "../../../durable-objects/core/memory-store.ts";
import { ctx, nodes } from "../coordinator/fixtures.ts";

const statsTask = {
  query: { version: 1, minCount: 0, measures: [{ name: "rows", kind: "count" }, { name: "age", kind: "mean", column: "age", bounds: [0, 100] }], limits: { maxParties: 16, maxRowsPerParty: 1000 } },
  schema: { version: 1, name: "reg", columns: [{ name: "age", type: "numeric" }] },
};
const statsSpec = (o: Partial<JobSpecInput> = {}): JobSpec => JobSpec.parse({ type: "stats", schemaId: "reg", committee: { size: 3, min: 2 }, maxRounds: 1, fixedPoint: { fracBits: 16, bound: 1000 }, task: statsTask, ...o });

/** A learning spec whose model has `hidden` units over `inputDim` inputs (logistic when hidden is 0): hidden·(inputDim + 2) + 1 parameters. */
function learningSpec(inputDim: number, hidden: number, o: { strategy?: Record<string, unknown>; maxRounds?: number; field?: "m61" | "p128" } = {}): JobSpec {
  const model = {
    inputDim, classes: 2, architecture: hidden ? { kind: "mlp", hidden: [{ units: hidden, activation: "relu" }] } : { kind: "logistic" }, loss: "binary-crossentropy",
    optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 8, seed: 5, strategy: o.strategy ?? { kind: "fedavg", serverLearningRate: 1 }, clipNorm: 2,
  };
  const rounds = o.maxRounds ?? 3;
  return JobSpec.parse({
    type: "learning", schemaId: "reg", committee: { size: 3, min: 2 }, maxRounds: rounds, field: o.field ?? "m61", fixedPoint: { fracBits: 16, bound: 1000 },
    task: { model, stopping: { maxRounds: rounds }, aggregation: { mode: "validated", maxSamplesPerNode: 500 } },
  });
}

const limitOf = (f: () => unknown): string | null => {
  try { f(); return null; } catch (e) { return e instanceof SpecLimitError ? e.limit : `not a limit: ${(e as Error).message}`; }
};

describe("the registry: one definition per job type", () => {
  it("knows every JobSpec type, by its own name; an unknown type is a TypeError", () => {
    for (const t of JobSpec.shape.type.options) expect(jobType(t).type).toBe(t);
    expect(Object.keys(jobTypes).sort()).toEqual([...JobSpec.shape.type.options].sort());
    expect(() => jobType("sql" as never)).toThrow(TypeError);
    expect(() => jobType("__proto__" as never)).toThrow(TypeError);
  });

  it("stats: parseTask is the one parser; roundPlan gives the query's range predicates in validated mode only", () => {
    const def = jobTypes.stats;
    const task = def.parseTask(statsTask);
    const layout = compileQuery(parseStatsQuery(statsTask.query), parseDatasetSchema(statsTask.schema), { modulus: m61.p });
    const v = def.roundPlan(task, { field: "m61", mode: "validated", parties: 3, evaluationOnly: false });
    expect(v).toMatchObject({ length: layout.length, predicates: layout.predicates });
    expect(v.noise).toBeUndefined();
    expect(def.roundPlan(task, { field: "m61", mode: "linear-only", parties: 3, evaluationOnly: false }).predicates).toEqual([]);
    expect(def.columns(task)).toEqual(["age"]);
    expect(() => def.parseTask({ ...statsTask, query: { version: 1 } })).toThrow();
  });

  it("learning: roundPlan gives the training predicates, or the evaluation-only round's", () => {
    const spec = learningSpec(3, 0);
    const def = jobTypes.learning;
    const task = def.validate(spec);
    const training = def.roundPlan(task, { field: "m61", mode: "validated", parties: 3, evaluationOnly: false });
    const layout = learningLayout(task.job, 3, "m61");
    expect(training).toMatchObject({ length: layout.length, predicates: learningPredicates(layout), layout: { kind: "training" } });
    const evaluation = def.roundPlan(task, { field: "m61", mode: "validated", parties: 3, evaluationOnly: true });
    expect(evaluation).toMatchObject({ length: 3, layout: { kind: "evaluation" } });
    expect(evaluation.predicates).toEqual([{ kind: "range", bits: expect.any(Number), indices: [0, 3] }]);
    expect(def.roundPlan(task, { field: "m61", mode: "linear-only", parties: 3, evaluationOnly: false }).predicates).toEqual([]);
    expect(def.columns(task)).toEqual(["*"]);
  });
});

describe("limits: what the coordinator can serve, refused at submission", () => {
  it("relates the aggregate limit to the result frame: the largest aggregate fits one frame, one more entry does not", () => {
    const frame = (bytes: number) => ClientFrame.safeParse({ v: 1, kind: "result", aggregate: toBase64Url(new Uint8Array(bytes)), transcriptHash: "A".repeat(43), excluded: [] }).success;
    expect(frame(maxAggregateEntries("m61") * 8)).toBe(true);
    expect(frame((maxAggregateEntries("m61") + 1) * 8)).toBe(false);
    expect(frame(maxAggregateEntries("p128") * 16)).toBe(true);
    expect(frame((maxAggregateEntries("p128") + 1) * 16)).toBe(false);
  });

  it("a model at the served size is accepted; one round cannot carry 262k parameters; 2M exceed maxModelParameters", () => {
    // 186·1002 + 1 = 186,373 ≤ 187,500 − 4 entries over m61
    expect(limitOf(() => validateSpec(learningSpec(1000, 186)))).toBeNull();
    expect(limitOf(() => validateSpec(learningSpec(1000, 262)))).toBe("maxAggregateBytes");
    expect(limitOf(() => validateSpec(learningSpec(1000, 186, { field: "p128" })))).toBe("maxAggregateBytes");
    expect(limitOf(() => validateSpec(learningSpec(1000, 2000)))).toBe("maxModelParameters");
  });

  it("a 2M-parameter spec is refused fast, before any layout or weights are built", () => {
    const t0 = performance.now();
    expect(() => validateSpec(learningSpec(10_000, 200))).toThrow(SpecLimitError);
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it("rounds, committee and task size", () => {
    expect(limitOf(() => validateSpec(statsSpec({ maxRounds: JOB_LIMITS.maxRounds })))).toBeNull();
    expect(limitOf(() => validateSpec(statsSpec({ maxRounds: JOB_LIMITS.maxRounds + 1 })))).toBe("maxRounds");
    // learning adds its evaluation-only round
    expect(limitOf(() => validateSpec(learningSpec(3, 0, { maxRounds: JOB_LIMITS.maxRounds - 1 })))).toBeNull();
    expect(limitOf(() => validateSpec(learningSpec(3, 0, { maxRounds: JOB_LIMITS.maxRounds })))).toBe("maxRounds");
    const big = { ...statsTask, padding: "x".repeat(JOB_LIMITS.maxTaskBytes) };
    expect(limitOf(() => validateSpec(statsSpec({ task: big })))).toBe("maxTaskBytes");
    expect(limitOf(() => validateSpec({ ...statsSpec(), committee: { size: JOB_LIMITS.maxCommittee + 1, min: 2 } }))).toBe("maxCommittee");
  });

  it("other problems are not limits: they stay invalid-task errors naming the problem", () => {
    expect(limitOf(() => validateSpec(statsSpec({ schemaId: "other" })))).toMatch(/not a limit: .*schemaId/);
  });
});

/** A learning aggregate for `spec` over 3 parties: update entries `delta(i)`·2^(f−6), `samples` samples, `samples` evaluated. */
function aggregate(spec: JobSpec, round: number, samples = 2, delta = (i: number) => (i % 3) - 1): RoundAggregate {
  const layout = learningLayout(parseLearningTask(spec.task).job, 3, spec.field);
  const f = layout.plan.fracBits;
  const v = new Array<number>(layout.length).fill(0);
  for (let i = 0; i < layout.plan.length - 1; i++) v[i] = delta(i) * 2 ** (f - 6);
  v[layout.plan.length - 1] = samples * 2 ** f;
  v[layout.evalOffset + 2] = samples * 2 ** layout.evalPlan.fracBits;
  const bytes = m61.encode(m61.fromInts(v));
  return { round, attempt: 0, bytes, hash: toHex(sha256(bytes)), transcriptHash: "t", excluded: [], committee: ["a", "b", "c"] };
}

describe("the learning reduce: weights in storage, hashes in the state", () => {
  const adam = learningSpec(3, 4, { strategy: { kind: "fedadam", eta: 0.1 } });
  const def = jobTypes.learning;

  it("matches the protocol's full-state reduce over two FedAdam rounds, carrying the moments in storage", () => {
    const init = def.init(adam);
    const st0 = init.state as LearningJobState;
    expect(st0).toEqual({ round: 0, modelHash: toHex(sha256(init.model!)), server: { kind: "fedadam", round: 0 }, carryHash: null, history: [] });
    const r0 = def.reduce(adam, st0, aggregate(adam, 0), { bytes: init.model!, carry: null });
    expect(r0.carry).toBeDefined();
    const r1 = def.reduce(adam, r0.state, aggregate(adam, 1, 3, (i) => 1 - (i % 2)), { bytes: r0.model!, carry: r0.carry! });
    // the same rounds over the full in-memory state
    const { job } = parseLearningTask(adam.task);
    const f0 = reduceLearning(job, initLearning(job).state, "m61", aggregate(adam, 0).bytes, 3, 3);
    const f1 = reduceLearning(job, f0.state, "m61", aggregate(adam, 1, 3, (i) => 1 - (i % 2)).bytes, 3, 3);
    expect(r1.model).toEqual(f1.model);
    expect(decodeServerMoments(r1.carry!).m).toEqual(f1.state.server.m);
    const lean = r1.state as LearningJobState;
    expect(lean).toMatchObject({ round: 2, modelHash: toHex(sha256(f1.model)), carryHash: toHex(sha256(r1.carry!)) });
    expect(JSON.stringify(lean)).not.toMatch(/weights/);
    expect(Object.values(lean).some((x) => ArrayBuffer.isView(x))).toBe(false);
  });

  it("refuses a missing or altered model, and missing or altered moments", () => {
    const init = def.init(adam);
    expect(() => def.reduce(adam, init.state, aggregate(adam, 0), null)).toThrow(/missing from storage/);
    const altered = init.model!.slice();
    altered[20]! ^= 1;
    expect(() => def.reduce(adam, init.state, aggregate(adam, 0), { bytes: altered, carry: null })).toThrow(/does not match its logged hash/);
    const r0 = def.reduce(adam, init.state, aggregate(adam, 0), { bytes: init.model!, carry: null });
    expect(() => def.reduce(adam, r0.state, aggregate(adam, 1), { bytes: r0.model!, carry: null })).toThrow(/moments/);
    const carry = r0.carry!.slice();
    carry[30]! ^= 1;
    expect(() => def.reduce(adam, r0.state, aggregate(adam, 1), { bytes: r0.model!, carry })).toThrow(/moments/);
    // FedAvg keeps no moments: no carry at all
    const avg = learningSpec(3, 0);
    const a0 = def.init(avg);
    expect(def.reduce(avg, a0.state, aggregate(avg, 0), { bytes: a0.model!, carry: null }).carry).toBeUndefined();
  });

  it("through the job runner: each round's model and moments go to the store, the stored state stays small", async () => {
    const store = new MemoryJobStore();
    store.nodes = nodes(3);
    const runner = new JobRunner(store, () => new MemoryRoundPort(), () => ctx());
    const spec = learningSpec(200, 40, { strategy: { kind: "fedyogi", eta: 0.05 } }); // 8,081 parameters
    await runner.create("big", spec, null);
    for (const round of [0, 1]) {
      const r = await runner.roundFinished({ jobId: "big", round, attempt: 0, outcome: "accepted", aggregate: aggregate(spec, round).bytes, transcriptHash: "t", excluded: [] });
      expect(r.applied).toBe(true);
    }
    const s = runner.state!;
    expect(s.status).toBe("running");
    expect(Object.keys(s.models)).toEqual(["0", "1", "2"]);
    const m2 = store.models.get("big/2")!;
    expect(toHex(sha256(m2.bytes))).toBe(s.models[2]);
    expect(decodeGlobalModel(m2.bytes).weights.length).toBe(8_081);
    expect(decodeServerMoments(m2.carry!).v.length).toBe(8_081);
    expect(JSON.stringify(store.state).length).toBeLessThan(16_000);
    // a model gone from storage fails the job reduce-failed, naming it
    store.models.delete("big/2");
    await runner.roundFinished({ jobId: "big", round: 2, attempt: 0, outcome: "accepted", aggregate: aggregate(spec, 2).bytes, transcriptHash: "t", excluded: [] });
    expect(runner.state).toMatchObject({ status: "failed", error: expect.stringMatching(/reduce-failed: the global model of round 2 is missing/) });
  });
});

describe("the learning reduce: states stored before weights moved to storage", () => {
  it("a legacy state (weights and server inside) is reduced as before, and leaves a lean state", () => {
    const spec = learningSpec(3, 0);
    const { job } = parseLearningTask(spec.task);
    const legacy = { ...initLearning(job).state, excludedNodes: [] };
    const out = jobTypes.learning.reduce(spec, legacy, aggregate(spec, 0), null);
    expect(out.model).toEqual(reduceLearning(job, initLearning(job).state, "m61", aggregate(spec, 0).bytes, 3, 3).model);
    expect(out.state).toMatchObject({ round: 1, modelHash: toHex(sha256(out.model!)), carryHash: null });
    expect(out.state).not.toHaveProperty("weights");
  });
});
