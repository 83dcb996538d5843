/**
 * The node's learning task for a private job (client/agent/tasks/learning.ts): from the signed
 * task alone it derives the noise its MASCOT party must add and returns it as LocalInput.noise,
 * with the noise-norm predicate listed (so a party built without the noise refuses to start);
 * in training rounds the contribution is a clipped batch sum with the constant count B and
 * zero evaluation entries, in the final round the evaluation sums with their own noise.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { toHex } from "../../../protocol/encoding.ts";
import { evaluationLayout, initLearning, learningLayout, parseLearningTask } from "../../../protocol/jobs/learning.ts";
import { encodeGlobalModel, globalModelHash } from "../../../protocol/learning/codec.ts";
import { squaredNormInt } from "../../../protocol/learning/bounds.ts";
import type { LogEntry } from "../../../protocol/log/index.ts";
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import { learningInput } from "../../../client/agent/tasks/learning.ts";
import { TaskRejected } from "../../../client/agent/tasks/errors.ts";
import type { LoadedDataset } from "../../../client/data/source.ts";
import type { NodeClient } from "../../../client/agent/node-client.ts";
import { rowsOf, schemaOf } from "../stats/helpers.ts";

const adult = JSON.parse(readFileSync(new URL("../../../examples/jobs/adult-learning.json", import.meta.url), "utf8")) as { task: { model: Record<string, unknown> } };
const { clipNorm: _c, ...baseModel } = adult.task.model;
const task = {
  model: { ...baseModel, optimizer: { kind: "sgd", learningRate: 4 }, preprocessing: { ...(baseModel.preprocessing as object), standardize: false } },
  stopping: { maxRounds: 3 },
  aggregation: { mode: "validated", maxSamplesPerNode: 4096 },
  privacy: { epsilon: 2, delta: 1e-6 },
  dp: { clip: 1, batchSize: 256 },
};
const schema = schemaOf("adult");
const dataset = { source: "test", schema, rows: rowsOf(schema, "adult-train.csv").slice(0, 600) } as unknown as LoadedDataset;
const { job } = parseLearningTask(task);
const committee = [{}, {}, {}];

function roundInputs(round: number, weights: Float64Array, extraLog: LogEntry[] = []) {
  const bytes = encodeGlobalModel(round, weights);
  const modelHash = toHex(globalModelHash(bytes));
  const manifest = { task, mode: "validated", committee, field: "m61", round, jobId: "job", modelHash } as unknown as RoundManifest;
  const log = [...extraLog, { body: { kind: "model", round, modelHash, bytes: bytes.length } } as unknown as LogEntry];
  const client = { modelBytes: async () => new Uint8Array(bytes) } as unknown as NodeClient;
  return { manifest, log, client };
}

describe("learningInput for a private job", () => {
  it("training round: clipped batch sum with count B, zero evaluation, the job's noise and its norm predicate", async () => {
    const layout = learningLayout(job, 3, "m61");
    const { state } = initLearning(job);
    const { manifest, log, client } = roundInputs(0, state.weights);
    const local = await learningInput(manifest, dataset, m61, client, log, 1);
    expect(local.noise).toEqual(layout.privacy!.training.noise);
    expect(local.input.length).toBe(layout.length);
    const ints = m61.toBigInts(local.input).map((v) => Number(v > m61.p / 2n ? v - m61.p : v));
    const f = layout.plan.fracBits;
    expect(ints[layout.plan.length - 1]).toBe(256 * 2 ** f);
    expect(ints.slice(layout.evalOffset)).toEqual([0, 0, 0]);
    const update = ints.slice(0, layout.plan.length - 1);
    expect(Math.sqrt(Number(squaredNormInt(update)))).toBeLessThanOrEqual(256 * 2 ** f + Math.sqrt(update.length));
    expect(local.predicates.at(-1)).toEqual({ kind: "l2-norm", bound: layout.privacy!.training.normBound, indices: [layout.length, 2 * layout.length], method: "pine" });
  });
  it("final round: the evaluation sums with the evaluation noise", async () => {
    const { state } = initLearning(job);
    const prior = { body: { kind: "result", round: 2, result: { final: "evaluating", latestModelRound: 3 } } } as unknown as LogEntry;
    const { manifest, log, client } = roundInputs(3, state.weights, [prior]);
    const local = await learningInput(manifest, dataset, m61, client, log, 0);
    const ev = evaluationLayout(job, 3, "m61");
    expect(local.noise).toEqual(ev.noise);
    expect(local.input.length).toBe(3);
    const count = Number(m61.toBigInts(local.input)[2]!);
    expect(count).toBe(60 * 2 ** ev.evalPlan.fracBits); // 10 % of 600 rows held out
  }, 60_000);
  it("declines with too-few-rows when its training rows are fewer than the batch", async () => {
    const small = { ...dataset, rows: dataset.rows.slice(0, 200) } as LoadedDataset;
    const { state } = initLearning(job);
    const { manifest, log, client } = roundInputs(0, state.weights);
    const err = await learningInput(manifest, small, m61, client, log, 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskRejected);
    expect((err as TaskRejected).code).toBe("too-few-rows");
  });
});
