/** Job-type engines inside the Worker: submit-time task validation and the learning job's round-0 model. */
import { describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex } from "../../protocol/encoding.ts";
import { decodeGlobalModel } from "../../protocol/learning/codec.ts";
import { initialGlobalWeights } from "../../protocol/jobs/learning.ts";
import { parseModelSpec } from "../../protocol/learning/spec.ts";
import type { LogEntry } from "../../protocol/log/index.ts";
import { spec, statsTask, tokenFetch } from "./helpers.ts";

type P = { code: string; status: number; detail: string };

const model = {
  inputDim: 3, classes: 2, architecture: { kind: "logistic" }, loss: "binary-crossentropy",
  optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 8, seed: 11,
  strategy: { kind: "fedavg", serverLearningRate: 1 }, clipNorm: 2,
};
const learningTask = { model, stopping: { maxRounds: 3 }, aggregation: { mode: "validated", maxSamplesPerNode: 500 } };

describe("job engines", () => {
  it("refuses a statistics task whose query does not fit its schema, with invalid-task", async () => {
    const bad = { ...statsTask("eng/a"), query: { version: 1, minCount: 0, measures: [{ kind: "mean", column: "nope", bounds: [0, 1] }] } };
    const r = await tokenFetch("POST", "/v1/jobs", spec({ schemaId: "eng/a", task: bad }));
    expect(r.status).toBe(400);
    const p = (await r.json()) as P;
    expect(p.code).toBe("invalid-task");
    expect(p.detail).toMatch(/nope/);
    const other = await tokenFetch("POST", "/v1/jobs", spec({ schemaId: "eng/b", task: statsTask("eng/c") }));
    expect(((await other.json()) as P).code).toBe("invalid-task");
  });

  it("refuses the benchmark-only plaintext mode unless the coordinator allows it, with plaintext-disabled", async () => {
    const r = await tokenFetch("POST", "/v1/jobs", spec({ type: "learning", mode: "plaintext", maxRounds: 3, task: { ...learningTask, aggregation: { ...learningTask.aggregation, mode: "plaintext" } } }));
    expect(r.status).toBe(403);
    const p = (await r.json()) as P;
    expect(p.code).toBe("plaintext-disabled");
  });

  it("refuses a learning task with a bad model spec, naming the path", async () => {
    const r = await tokenFetch("POST", "/v1/jobs", spec({ type: "learning", maxRounds: 3, task: { ...learningTask, model: { ...model, loss: "categorical-crossentropy" } } }));
    expect(r.status).toBe(400);
    const p = (await r.json()) as P;
    expect(p.code).toBe("invalid-task");
    expect(p.detail).toMatch(/task\.model\.loss/);
  });

  it("stores and logs a learning job's round-0 model before any round", async () => {
    const r = await tokenFetch("POST", "/v1/jobs", spec({ type: "learning", schemaId: "eng/learn", maxRounds: 3, task: learningTask }));
    expect(r.status).toBe(201);
    const { job } = (await r.json()) as { job: { id: string } };
    const { entries } = (await (await tokenFetch("GET", `/v1/jobs/${job.id}/log`)).json()) as { entries: LogEntry[] };
    expect(entries.map((e) => e.body.kind).slice(0, 2)).toEqual(["job", "model"]);
    const logged = entries[1]!.body as { modelHash: string; round: number };
    expect(logged.round).toBe(0);
    const m = await tokenFetch("GET", `/v1/jobs/${job.id}/models/0`);
    expect(m.status).toBe(200);
    const bytes = new Uint8Array(await m.arrayBuffer());
    expect(toHex(sha256(bytes))).toBe(logged.modelHash);
    expect(Array.from(decodeGlobalModel(bytes).weights)).toEqual(Array.from(initialGlobalWeights(parseModelSpec(model))));
  });
});
