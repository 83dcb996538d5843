/**
 * The node's tasks take their parser, predicates and noise from the job-type registry
 * (protocol/jobs/registry.ts): what a node lists for its MASCOT party is exactly the round plan
 * every member derives, for a non-private learning job (training and evaluation-only rounds,
 * validated and linear-only) and for a statistics query.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { toHex } from "../../../protocol/encoding.ts";
import { evaluationLayout, evaluationPredicates, initLearning, learningLayout, learningPredicates, parseLearningTask } from "../../../protocol/jobs/learning.ts";
import { jobTypes } from "../../../protocol/jobs/registry.ts";
import { encodeGlobalModel, globalModelHash } from "../../../protocol/learning/codec.ts";
import type { LogEntry } from "../../../protocol/log/index.ts";
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import { learningInput } from "../../../client/agent/tasks/learning.ts";
import { statsInput } from "../../../client/agent/tasks/stats.ts";
import type { LoadedDataset } from "../../../client/data/source.ts";
import type { NodeClient } from "../../../client/agent/node-client.ts";
import { rowsOf, schemaOf } from "../stats/helpers.ts";

const adult = JSON.parse(readFileSync(new URL("../../../examples/jobs/adult-learning.json", import.meta.url), "utf8")) as { task: { model: Record<string, unknown> } & Record<string, unknown> };
const { schema: _s, bounds: _b, ...cliFree } = adult.task; // CLI-side inputs, not part of the submitted task
const task = { ...cliFree, model: { ...adult.task.model, preprocessing: { ...(adult.task.model.preprocessing as object), standardize: false } } };
const schema = schemaOf("adult");
const dataset = { source: "test", schema, rows: rowsOf(schema, "adult-train.csv").slice(0, 300) } as unknown as LoadedDataset;
const { job } = parseLearningTask(task);

function round(r: number, mode: string, extraLog: LogEntry[] = []) {
  const bytes = encodeGlobalModel(r, initLearning(job).state.weights);
  const modelHash = toHex(globalModelHash(bytes));
  const manifest = { task, mode, committee: [{}, {}, {}], field: "m61", round: r, jobId: "job", modelHash } as unknown as RoundManifest;
  const log = [...extraLog, { body: { kind: "model", round: r, modelHash, bytes: bytes.length } } as unknown as LogEntry];
  const client = { modelBytes: async () => new Uint8Array(bytes) } as unknown as NodeClient;
  return [manifest, dataset, m61, client, log, 0] as const;
}

describe("node tasks use the registry's round plan", () => {
  it("learning, training round: the layout's predicates in validated mode, none in linear-only, no noise", async () => {
    const layout = learningLayout(job, 3, "m61");
    const v = await learningInput(...round(0, "validated"));
    expect(v.input.length).toBe(layout.length);
    expect(v.predicates).toEqual(learningPredicates(layout));
    expect(v.noise).toBeUndefined();
    expect((await learningInput(...round(0, "linear-only"))).predicates).toEqual([]);
  }, 60_000);

  it("learning, evaluation-only round: three sums with unsigned ranges", async () => {
    const prior = { body: { kind: "result", round: 2, result: { final: "evaluating", latestModelRound: 3 } } } as unknown as LogEntry;
    const v = await learningInput(...round(3, "validated", [prior]));
    expect(v.input.length).toBe(3);
    expect(v.predicates).toEqual(evaluationPredicates(evaluationLayout(job, 3, "m61")));
  }, 60_000);

  it("stats: the plan's predicates (the query's ranges)", () => {
    const q = { version: 1, minCount: 0, measures: [{ name: "n", kind: "count" }, { name: "age", kind: "mean", column: "age", bounds: [17, 90] }], limits: { maxParties: 8, maxRowsPerParty: 1000 } };
    const manifest = { task: { query: q, schema }, mode: "validated", committee: [{}, {}, {}], field: "m61" } as unknown as RoundManifest;
    const v = statsInput(manifest, dataset, m61);
    const plan = jobTypes.stats.roundPlan(jobTypes.stats.parseTask(manifest.task), { field: "m61", mode: "validated", parties: 3, evaluationOnly: false });
    expect(v.predicates).toEqual(plan.predicates);
    expect(v.predicates.length).toBeGreaterThan(0);
    expect(v.input.length).toBe(plan.length);
  });
});
