/**
 * Federated learning end to end on a real local coordinator and real node processes: wdbc
 * logistic regression with standardisation from a federated statistics job, validated
 * MASCOT aggregation (per-entry ranges + L2-norm bound) and federated evaluation; a node
 * sending an out-of-range update is named and excluded every round while training still
 * converges; the trained model's hashes verify against the transparency log and its
 * CKKS-encrypted predictions equal plaintext inference.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { startCluster, type Cluster } from "../../scripts/lib/cluster.ts";
import { loadJobSpec, prepareSpec, watchJob } from "../../client/cli/job.ts";
import { encryptedPredict, fetchTrainedModel, plainLabel } from "../../client/cli/model.ts";
import type { JobSpec, RoundInfo } from "../../protocol/api/schemas.ts";
import { fromBase64Url } from "../../protocol/encoding.ts";
import { verifyJobLog } from "../../protocol/jobs/audit.ts";
import type { LearningResult } from "../../protocol/jobs/learning.ts";
import type { LogEntry } from "../../protocol/log/index.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");

describe("federated learning end to end (wdbc, validated)", () => {
  let cluster: Cluster;
  let spec: JobSpec;
  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, datasets: [{ schemaFile: path.join(ROOT, "examples/schemas/wdbc.json"), dataFile: path.join(ROOT, "examples/data/wdbc.data") }] });
    const loaded = await loadJobSpec(path.join(ROOT, "examples/jobs/wdbc-learning.json"));
    loaded.committee = { size: 3, min: 3 };
    loaded.maxRounds = 3;
    (loaded.task as { stopping: { maxRounds: number } }).stopping.maxRounds = 3;
    spec = await prepareSpec(cluster.operator, loaded, () => undefined);
  }, 300_000);
  afterAll(async () => { await cluster?.stop(); });

  it("trains to high federated accuracy; the log verifies; encrypted inference equals plaintext", async () => {
    const { job } = await cluster.operator.json<{ job: { id: string } }>("POST", "/v1/jobs", spec);
    const lines: string[] = [];
    const final = await watchJob(cluster.operator, job.id, (s) => lines.push(s));
    expect(final.status, lines.join("\n")).toBe("completed");
    const { result } = await cluster.operator.json<{ result: LearningResult }>("GET", `/v1/jobs/${job.id}/result`);
    expect(result.history.length).toBeGreaterThanOrEqual(2);
    expect(result.history[0]!.samples).toBeGreaterThan(400);
    const last = result.history[result.history.length - 1]!;
    expect(last.accuracy).toBeGreaterThan(0.9); // federated evaluation of the trained model on held-out rows
    expect(last.loss).toBeLessThan(result.history[0]!.loss); // training improved on the initial model
    const log = await cluster.operator.json<{ entries: LogEntry[]; publicKey: string }>("GET", `/v1/jobs/${job.id}/log`);
    const audit = verifyJobLog(log.entries, fromBase64Url(log.publicKey));
    expect(audit.problems).toEqual([]);
    expect(log.entries.filter((e) => e.body.kind === "model").length).toBe(result.latestModelRound + 1);
    const m = await fetchTrainedModel(cluster.operator, job.id);
    const rows = cluster.nodes[0]!.slices[0]!.rows.slice(0, 40);
    const pre = (spec.task as { model: { preprocessing: NonNullable<unknown> } }).model.preprocessing;
    const { datasetFromRows } = await import("../../client/learning/from-schema.ts");
    const ds = datasetFromRows(cluster.schemas[0]!, rows, pre as Parameters<typeof datasetFromRows>[2]);
    const x: number[][] = [];
    for (let i = 0; i < ds.n; i++) x.push(Array.from(ds.x.subarray(i * ds.d, (i + 1) * ds.d)));
    const r = await encryptedPredict(cluster.operator, job.id, m.dense, x, false);
    const same = x.filter((row, i) => plainLabel(m.dense, row) === r.labels[i]).length;
    expect(same / x.length).toBeGreaterThanOrEqual(0.999);
  }, 900_000);

  it("a node whose update breaks the range bound is named and excluded each round; training still converges", async () => {
    const cheat = await cluster.addNode([cluster.nodes[0]!.slices[0]!.rows.slice(0, 150)], { TWOPM_FAULT: "bad-input" });
    try {
      const { job } = await cluster.operator.json<{ job: { id: string } }>("POST", "/v1/jobs", { ...spec, committee: { size: 4, min: 4 }, maxRounds: 2, task: { ...spec.task, stopping: { maxRounds: 2 } } });
      const final = await watchJob(cluster.operator, job.id, () => undefined);
      expect(final.status).toBe("completed");
      const { rounds } = await cluster.operator.json<{ rounds: RoundInfo[] }>("GET", `/v1/jobs/${job.id}/rounds`);
      const { result } = await cluster.operator.json<{ result: LearningResult & { excludedNodes: string[] } }>("GET", `/v1/jobs/${job.id}/result`);
      expect(rounds.filter((r) => r.status === "accepted").every((r) => r.committee.includes(cheat.nodeId))).toBe(true);
      expect(result.excludedNodes).toEqual([cheat.nodeId]);
      expect(result.history.every((h) => h.parties === 3)).toBe(true);
      expect(result.history[result.history.length - 1]!.accuracy).toBeGreaterThan(0.85);
    } finally {
      await cheat.stop();
    }
  }, 900_000);
});
