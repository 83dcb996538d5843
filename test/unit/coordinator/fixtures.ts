/** Shared fixtures for the coordinator core's Node tests: specs, candidates, a context, a stats aggregate. */
import { JobSpec, type JobSpecInput } from "../../../protocol/api/schemas.ts";
import { identityPublicKey } from "../../../protocol/crypto/identity.ts";
import { m61 } from "../../../protocol/field/index.ts";
import { learningLayout, parseLearningTask } from "../../../protocol/jobs/learning.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { compileQuery, parseStatsQuery } from "../../../protocol/stats/index.ts";
import { parseDatasetSchema } from "../../../protocol/stats/schema.ts";
import type { JobContext, JobEffect } from "../../../durable-objects/core/job-machine.ts";
import type { StoredModel } from "../../../durable-objects/core/job-types.ts";
import type { Candidate } from "../../../durable-objects/core/selection.ts";

export const T0 = Date.UTC(2026, 0, 1, 12);
export const KEY = new Uint8Array(32).fill(7);
export const PUBLIC_KEY = identityPublicKey(KEY);
export const LIVENESS_MS = 120_000;

export function ctx(now = T0, seed = "ctx"): JobContext {
  return { now, signingKey: KEY, rng: seededRng(seed), livenessMs: LIVENESS_MS };
}

const task = {
  query: { version: 1, minCount: 0, measures: [{ name: "rows", kind: "count" }], limits: { maxParties: 16, maxRowsPerParty: 1000 } },
  schema: { version: 1, name: "t/s", columns: [{ name: "x", type: "numeric" }] },
};

/** A statistics job over schema "t/s" (row count), committee 3 of at least 2. */
export function spec(o: Partial<JobSpecInput> = {}): JobSpec {
  return JobSpec.parse({ type: "stats", schemaId: "t/s", committee: { size: 3, min: 2 }, maxRounds: 1, fixedPoint: { fracBits: 16, bound: 1000 }, task, ...o });
}

/** An opened aggregate for {@link spec}'s query with `rows` counted. */
export function aggregate(rows: number): Uint8Array {
  const layout = compileQuery(parseStatsQuery(task.query), parseDatasetSchema(task.schema));
  const v = new Array<number>(layout.length).fill(0);
  v[0] = rows;
  return m61.encode(m61.fromInts(v));
}

/** Eligible candidates `n0..n{k-1}`, seen at `now`. */
export function nodes(k: number, now = T0): Candidate[] {
  return Array.from({ length: k }, (_, i) => ({
    nodeId: `n${i}`, identityKey: `id${i}`, kxKey: `kx${i}`, rows: 100, commitment: `c${i}`, reliability: 0.5, lastSeen: now,
    cores: 4, memoryMb: 4096, bandwidthMbps: 100, availFrom: null, availTo: null, onBattery: false, online: true,
  }));
}

const learningTask = {
  model: {
    inputDim: 3, classes: 2, architecture: { kind: "logistic" }, loss: "binary-crossentropy", optimizer: { kind: "sgd", learningRate: 0.1 },
    epochs: 1, batchSize: 8, seed: 11, strategy: { kind: "fedavg", serverLearningRate: 1 }, clipNorm: 2,
  },
  stopping: { maxRounds: 3 },
  aggregation: { mode: "validated", maxSamplesPerNode: 500 },
};

/** A learning job (logistic regression, 3 rounds). */
export function learningSpec(o: Partial<JobSpecInput> = {}): JobSpec {
  return spec({ type: "learning", maxRounds: 3, task: learningTask, ...o });
}

/** The model (and carry) a step's `put-model` effect stores for `round`, as the store would hand it back; null if it stores none. */
export function storedModel(effects: readonly JobEffect[], round: number): StoredModel | null {
  const e = effects.find((x): x is Extract<JobEffect, { kind: "put-model" }> => x.kind === "put-model" && x.round === round);
  return e ? { bytes: e.bytes, carry: e.carry ?? null } : null;
}

/** A well-formed opened aggregate for {@link learningSpec} with committee `parties`: zero update, one sample, one evaluated. */
export function learningAggregate(s: JobSpec, parties: number): Uint8Array {
  const layout = learningLayout(parseLearningTask(s.task).job, parties, s.field);
  const v = new Array<number>(layout.length).fill(0);
  v[layout.plan.length - 1] = 2 ** layout.plan.fracBits;
  v[layout.evalOffset + 2] = 2 ** layout.evalPlan.fracBits; // one evaluated sample, loss 0
  return m61.encode(m61.fromInts(v));
}
