/**
 * Issue 15, defect 3, through the real Worker, JobDO, RoundDO and R2: model weights live in R2
 * by round (their hash in the log and the state), never in the JobDO's state; a spec over
 * what the coordinator can serve (protocol/jobs/limits.ts) is refused at submission with a
 * 413 before anything is written — no JobDO, no R2 object, no D1 row.
 */
import { env, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2.js";
import { toBase64Url, toHex, utf8 } from "../../protocol/encoding.ts";
import { m61 } from "../../protocol/field/index.ts";
import { learningLayout, parseLearningTask } from "../../protocol/jobs/learning.ts";
import { JOB_LIMITS } from "../../protocol/jobs/limits.ts";
import { decodeGlobalModel, decodeServerMoments } from "../../protocol/learning/codec.ts";
import type { JobSpecInput } from "../../protocol/api/schemas.ts";
import type { LogEntry } from "../../protocol/log/index.ts";
import { assignments, connect, jobStub, makeNode, register, spec, tokenFetch, until, type Conn } from "./helpers.ts";

type P = { code: string; status: number; detail: string };

/** A learning spec over `schemaId` whose MLP has hidden·(inputDim + 2) + 1 parameters. */
function learning(schemaId: string, inputDim: number, hidden: number, o: Partial<JobSpecInput> = {}): JobSpecInput {
  const model = {
    inputDim, classes: 2, architecture: { kind: "mlp", hidden: [{ units: hidden, activation: "relu" }] }, loss: "binary-crossentropy",
    optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 8, seed: 3, strategy: { kind: "fedadam", eta: 0.05 }, clipNorm: 2,
  };
  return spec({ type: "learning", schemaId, committee: { size: 3, min: 3 }, maxRounds: 2, task: { model, stopping: { maxRounds: 2 }, aggregation: { mode: "validated", maxSamplesPerNode: 500 } }, ...o });
}

/** Everything a job could leave behind: JobDOs, R2 objects, catalogue rows. */
async function footprint(): Promise<{ objects: number; r2: number; rows: number }> {
  const objects = (await listDurableObjectIds(env.JOB_DO)).length;
  const r2 = (await env.MODELS.list({ prefix: "models/" })).objects.length;
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs").first<{ n: number }>();
  return { objects, r2, rows: row?.n ?? 0 };
}

/** The JobDO's stored state as JSON (what SQLite holds, ≤ 2 MB per value). */
const storedState = (id: string) => runInDurableObject(jobStub(id), async (_i, state) => JSON.stringify(await state.storage.get("state")));

describe("large models: weights in R2, the JobDO's state small", () => {
  it("a model at the served size runs a round: models 0 and 1 (and the optimiser's moments) in R2, state and result without weights", async () => {
    const schemaId = `large/${crypto.randomUUID()}`;
    const nodes = [makeNode(), makeNode(), makeNode()];
    for (const n of nodes) expect((await register(n, { schemaId })).status).toBe(201);
    const body = learning(schemaId, 1000, 186); // 186,373 parameters: a round's aggregate is 1,491,016 bytes
    const r = await tokenFetch("POST", "/v1/jobs", body);
    expect(r.status).toBe(201);
    const { job } = (await r.json()) as { job: { id: string; status: string } };
    expect(job.status).toBe("running");

    const m0 = await env.MODELS.get(`models/${job.id}/0`);
    expect(m0?.size).toBe(13 + 8 * 186_373);
    expect((await storedState(job.id)).length).toBeLessThan(64 * 1024); // was > 2 MB: SQLITE_TOOBIG

    // the committee submits one identical aggregate through the RoundDO (one result frame each)
    const job0 = parseLearningTask((body.task as Record<string, unknown>)).job;
    const layout = learningLayout(job0, 3, "m61");
    const v = new Array<number>(layout.length).fill(0);
    for (let i = 0; i < layout.plan.length - 1; i += 7) v[i] = 2 ** (layout.plan.fracBits - 6);
    v[layout.plan.length - 1] = 3 * 2 ** layout.plan.fracBits;
    v[layout.evalOffset + 2] = 3 * 2 ** layout.evalPlan.fracBits;
    const aggregate = m61.encode(m61.fromInts(v));
    const conns: Conn[] = [];
    for (const n of nodes) {
      const a = (await assignments(n)).find((x) => x.jobId === job.id)!;
      conns.push(await connect(n, a.wsPath));
    }
    await until(() => conns.every((c) => c.texts.some((t) => (t.kind === "phase" || t.kind === "welcome") && t.phase === "running")), 10_000, "running");
    for (const c of conns) c.ws.send(JSON.stringify({ v: 1, kind: "result", aggregate: toBase64Url(aggregate), transcriptHash: toBase64Url(sha256(utf8("t"))), excluded: [] }));
    await until(async () => (await env.MODELS.get(`models/${job.id}/1`)) !== null, 20_000, "model 1 in R2");

    const { entries } = (await (await tokenFetch("GET", `/v1/jobs/${job.id}/log`)).json()) as { entries: LogEntry[] };
    const logged = entries.filter((e) => e.body.kind === "model").map((e) => e.body as { round: number; modelHash: string });
    expect(logged.map((m) => m.round)).toEqual([0, 1]);
    const m1 = new Uint8Array(await (await env.MODELS.get(`models/${job.id}/1`))!.arrayBuffer());
    expect(toHex(sha256(m1))).toBe(logged[1]!.modelHash);
    expect(decodeGlobalModel(m1)).toMatchObject({ round: 1 });
    const carry = new Uint8Array(await (await env.MODELS.get(`models/${job.id}/1/carry`))!.arrayBuffer());
    expect(decodeServerMoments(carry).m.length).toBe(186_373);

    const state = await storedState(job.id);
    expect(state.length).toBeLessThan(64 * 1024);
    expect(JSON.parse(state)).toMatchObject({ reduceState: { round: 1, modelHash: logged[1]!.modelHash, carryHash: toHex(sha256(carry)) } });
    const result = await (await tokenFetch("GET", `/v1/jobs/${job.id}/result`)).text();
    expect(result.length).toBeLessThan(8 * 1024);
    expect(JSON.parse(result)).toMatchObject({ status: "running", result: { latestModelRound: 1 } });
    // the carry is never served: the model route serves model bytes only
    const served = await tokenFetch("GET", `/v1/jobs/${job.id}/models/1`);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(m1);
    for (const c of conns) c.ws.close();
  });

  it("refuses what one coordinator cannot serve with 413, writing nothing: no JobDO, no R2 object, no D1 row", async () => {
    const before = await footprint();
    const schemaId = `large/${crypto.randomUUID()}`;
    const cases: Array<[JobSpecInput, RegExp]> = [
      [learning(schemaId, 1000, 2000), /maxModelParameters.*2004001 parameters/], // 2M parameters
      [learning(schemaId, 1000, 262), /maxAggregateBytes/], // ≈ 262k: more than one round's result carries
      [learning(schemaId, 10, 4, { maxRounds: JOB_LIMITS.maxRounds }), /maxRounds/],
      [spec({ schemaId, task: { ...spec({ schemaId }).task, note: "x".repeat(JOB_LIMITS.maxTaskBytes) } }), /maxTaskBytes/],
    ];
    for (const [body, detail] of cases) {
      const r = await tokenFetch("POST", "/v1/jobs", body);
      expect(r.status).toBe(413);
      const p = (await r.json()) as P;
      expect(p.code).toBe("spec-too-large");
      expect(p.detail).toMatch(detail);
    }
    expect(await footprint()).toEqual(before);
    // a spec that fits is accepted (the footprint grows)
    expect((await tokenFetch("POST", "/v1/jobs", learning(schemaId, 10, 4))).status).toBe(201);
    const after = await footprint();
    expect(after.objects).toBe(before.objects + 1);
    expect(after.r2).toBe(before.r2 + 1);
  });
});
