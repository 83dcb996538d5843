/**
 * `npm run demo [-- --nodes 5 --rounds N --learn wdbc,optdigits,adult --rows 1500 --keep]`: the
 * whole of 2PM on real data, on this machine, with nothing else to set up.
 *
 * Builds the node package (client/dist, as `npm run build:client` does, without types), then
 * starts a local coordinator (workerd with D1, R2 and Durable Objects) and N node processes of the built CLI,
 * each holding its own slice of the UCI adult, wdbc and optdigits data (examples/data), then:
 *  1. a federated statistics job on the adult census slices (validated MASCOT);
 *  2. federated learning on the datasets named by --learn (default wdbc, optdigits): wdbc
 *     logistic regression (feature standardisation from a statistics job, validated MASCOT
 *     aggregation with range and L2-norm bounds, federated evaluation per round), the
 *     optdigits MLP (validated aggregation, PINE norm check), adult logistic regression with one-hot
 *     features (validated); each compared with central training on the union of the
 *     nodes' training rows, on test rows no node holds. Each job runs for its job file's
 *     round limit and stopping rule unless --rounds caps every job at N rounds;
 *  3. CKKS-encrypted inference with the trained wdbc model on rows no node holds, compared
 *     with plaintext inference;
 *  4. a round with a cheating node (out-of-range input): named, excluded, job completes.
 * Ends with a summary table and the dashboard URL; exits non-zero if any step fails.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { startCluster, sliceDataset, type Cluster } from "./lib/cluster.ts";
import { buildNodeCli } from "./build-client.ts";
import { loadJobSpec, prepareSpec, watchJob } from "../client/cli/job.ts";
import { formatStatsResult } from "../protocol/stats/format.ts";
import { encryptedPredict, fetchTrainedModel, plainLabel } from "../client/cli/model.ts";
import type { JobSpec, JobSummary, RoundInfo } from "../protocol/api/schemas.ts";
import type { LearningResult } from "../protocol/jobs/learning.ts";
import { computePlaintext, type StatsResult } from "../protocol/stats/engine.ts";
import { parseStatsQuery } from "../protocol/stats/query.ts";
import { datasetFromRows } from "../client/learning/from-schema.ts";
import { parseLearningTask } from "../protocol/jobs/learning.ts";
import type { Row } from "../protocol/stats/schema.ts";
import { compareWithCentral } from "./lib/learning-compare.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
const ROOT = path.resolve(import.meta.dirname, "..");
const ex = (p: string) => path.join(ROOT, "examples", p);

const { values: opts } = parseArgs({
  options: {
    nodes: { type: "string", default: "5" },
    rounds: { type: "string" },
    rows: { type: "string", default: "1500" },
    learn: { type: "string", default: "wdbc,optdigits" },
    "skip-mlp": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const N = Number(opts.nodes), ROUNDS = opts.rounds === undefined ? undefined : Number(opts.rounds), ROWS = Number(opts.rows);
const LEARN = new Set(opts.learn!.split(",").map((s) => s.trim()).filter(Boolean));
if (opts["skip-mlp"]) LEARN.delete("optdigits");
if (!(N >= 3 && N <= 10) || (ROUNDS !== undefined && !(ROUNDS >= 1 && ROUNDS <= 50)) || !(ROWS >= 100 && ROWS <= 4096) || [...LEARN].some((d) => !["wdbc", "optdigits", "adult"].includes(d))) {
  console.error("demo: --nodes must be 3..10, --rounds 1..50, --rows 100..4096 (the demo query's maxRowsPerParty), --learn a list of wdbc, optdigits, adult");
  process.exit(2);
}

/** The protocol phases shown as progress, with readable names (the others are not shown). */
const PHASE_LABEL: Record<string, string> = {
  input: "online: authenticated inputs (COPE under every peer's MAC key)",
  "coin.A": "online: coin toss, validation proofs", "coin.C": "online: proof challenge, open the proof checks", valid: "online: pass/fail decided, MAC check",
  "maccheck.commit": "online: MAC check (commit)", "sum.commit": "online: commit to the sum shares", "open.sum": "online: open the sum",
  "lin.seed": "linear-only: PRG seeds", "lin.commit": "linear-only: commit", "lin.open": "linear-only: open",
};

const summary: Array<{ step: string; outcome: string; detail: string; seconds: string }> = [];
const say = (s: string) => console.log(s);
const banner = (s: string) => say(`\n━━ ${s} ${"━".repeat(Math.max(0, 70 - s.length))}`);

async function step<T>(name: string, f: () => Promise<{ detail: string; value?: T }>): Promise<T | undefined> {
  banner(name);
  const t0 = Date.now();
  try {
    const r = await f();
    summary.push({ step: name, outcome: "ok", detail: r.detail, seconds: ((Date.now() - t0) / 1000).toFixed(1) });
    return r.value;
  } catch (e) {
    summary.push({ step: name, outcome: "FAILED", detail: (e as Error).message.slice(0, 120), seconds: ((Date.now() - t0) / 1000).toFixed(1) });
    say(`  ✗ ${(e as Error).message}`);
    return undefined;
  }
}

async function runJob(c: Cluster, spec: JobSpec): Promise<{ id: string; final: JobSummary; rounds: RoundInfo[] }> {
  const job = await c.operator.submitJob(spec);
  say(`  job ${job.id} submitted (${spec.type}, committee ${spec.committee.size}, ${spec.mode})`);
  const final = await watchJob(c.operator, job.id, (s) => say(`  ${s}`));
  const rounds = await c.operator.rounds(job.id);
  if (final.status !== "completed") throw new Error(`job ${job.id} ${final.status}${final.error ? `: ${final.error}` : ""}`);
  return { id: job.id, final, rounds };
}

const rowsOf = (c: Cluster, ids: string[], k: number): Row[] => ids.flatMap((id) => c.nodes.find((n) => n.nodeId === id)?.slices[k]?.rows ?? []);

async function main(): Promise<number> {
  banner(`starting a local coordinator and ${N} nodes`);
  // wdbc: 20% of rows held back from every node, as the querier's rows for encrypted inference.
  const wdbc = sliceDataset({ schemaFile: ex("schemas/wdbc.json"), dataFile: ex("data/wdbc.data") }, 5, "demo-holdout");
  const wdbcQuery = wdbc.slices[0]!;
  // The nodes run the built package (client/dist/cli.mjs, as `npm install @2pm/node` gets it), not the sources.
  const nodeBin = await buildNodeCli();
  const cluster = await startCluster({
    nodes: N, seed: "demo", livenessSeconds: 15, nodeBin,
    // Progress inside a round: node-0's protocol phases (the other nodes run the same ones).
    onNodeLine: (node, line) => {
      if (node !== "node-0" || !line.startsWith("{")) return;
      try {
        const e = JSON.parse(line) as { kind: string; round?: number; phase?: string; ms?: number; bytesSent?: number; bytesReceived?: number };
        if (e.kind === "phase" && e.phase && PHASE_LABEL[e.phase]) say(`    · node-0, round ${e.round! + 1}: ${PHASE_LABEL[e.phase]}`);
        if (e.kind === "round-done") say(`    · node-0, round ${e.round! + 1}: accepted after ${(e.ms! / 1000).toFixed(1)} s, ${((e.bytesSent! + e.bytesReceived!) / 1e6).toFixed(1)} MB relayed`);
      } catch { /* not an event line */ }
    },
    datasets: [
      { schemaFile: ex("schemas/adult.json"), dataFile: ex("data/adult-train.csv"), maxRowsPerNode: ROWS },
      { schemaFile: ex("schemas/wdbc.json"), dataFile: ex("data/wdbc.data"), rows: wdbc.slices.slice(1).flat() },
      { schemaFile: ex("schemas/optdigits.json"), dataFile: ex("data/optdigits.tra") },
    ],
  });
  say(`  coordinator ${cluster.coordinator.url}; nodes: ${cluster.nodes.map((n) => n.nodeId.slice(0, 8)).join(" ")}`);
  say(`  wdbc: ${wdbcQuery.length} rows kept aside (held by no node) as the querier's rows for encrypted inference`);
  let failed = false;
  try {
    await step("1. federated statistics: adult census", async () => {
      const spec = await loadJobSpec(ex("jobs/adult-stats-demo.json"));
      const { id, rounds } = await runJob(cluster, { ...spec, committee: { size: N, min: Math.min(3, N) } });
      const { result } = await cluster.operator.result<{ stats: StatsResult }>(id);
      say(formatStatsResult(result.stats).split("\n").map((l) => `  ${l}`).join("\n"));
      const acc = rounds.find((r) => r.status === "accepted")!;
      const plain = computePlaintext(parseStatsQuery((spec.task as { query: unknown }).query), cluster.schemas[0]!, rowsOf(cluster, acc.committee, 0));
      const rowsSecure = result.stats.measures[0]!.groups[0]!.count, rowsPlain = plain.measures[0]!.groups[0]!.count;
      const meanDiff = Math.abs(result.stats.measures[1]!.groups[0]!.mean! - plain.measures[1]!.groups[0]!.mean!);
      say(`  plaintext check over the union of the slices: rows ${rowsSecure} = ${rowsPlain}, |Δ mean age| = ${meanDiff.toExponential(2)}`);
      if (rowsSecure !== rowsPlain || meanDiff > 1e-6) throw new Error("secure result differs from plaintext");
      return { detail: `${rowsSecure} rows over ${acc.committee.length} nodes; equals plaintext` };
    });

    const learn = async (name: string, jobFile: string, k: number, testRows: Row[]): Promise<string> => {
      const loaded = await loadJobSpec(ex(jobFile));
      loaded.committee = { size: N, min: Math.min(3, N) };
      if (ROUNDS !== undefined) { // else the job file's own round limit and stopping rule
        loaded.maxRounds = ROUNDS;
        (loaded.task as { stopping: { maxRounds: number } }).stopping.maxRounds = ROUNDS;
      }
      const spec = await prepareSpec(cluster.operator, loaded, (s) => say(`  ${s}`));
      const { id, rounds } = await runJob(cluster, spec);
      const { result } = await cluster.operator.result<LearningResult>(id);
      for (const h of result.history) say(`  round ${h.round + 1}: federated evaluation loss ${h.loss?.toFixed(4) ?? "— (no node evaluated)"}, accuracy ${h.accuracy === null ? "—" : `${(100 * h.accuracy).toFixed(2)}%`} (${h.parties} nodes, ${h.samples} training rows)`);
      const members = [...new Set(rounds.filter((r) => r.status === "accepted").flatMap((r) => r.committee))];
      const cmp = await compareWithCentral(cluster.operator, id, spec, cluster.schemas[k]!, members.map((m) => rowsOf(cluster, [m], k)), testRows);
      say(`  test accuracy on ${cmp.testRows} rows no node holds: federated ${(100 * cmp.federated).toFixed(2)}%, central (same model and hyper-parameters on the union of the ${cmp.trainRows} training rows) ${(100 * cmp.central).toFixed(2)}%`);
      learned.push({ name, federated: cmp.federated, central: cmp.central, rounds: cmp.rounds, mode: spec.mode });
      return id;
    };
    const learned: Array<{ name: string; federated: number; central: number; rounds: number; mode: string }> = [];
    const detail = () => { const l = learned[learned.length - 1]!; return `test accuracy ${(100 * l.federated).toFixed(2)}% federated vs ${(100 * l.central).toFixed(2)}% central, ${l.rounds} rounds (${l.mode})`; };

    let wdbcJob: string | undefined;
    if (LEARN.has("wdbc")) {
      wdbcJob = await step<string>("2a. federated learning: wdbc logistic regression", async () => {
        const id = await learn("wdbc", "jobs/wdbc-learning.json", 1, wdbcQuery);
        return { detail: detail(), value: id };
      });
    }
    if (LEARN.has("optdigits")) {
      await step("2b. federated learning: optdigits MLP (x² activation)", async () => {
        await learn("optdigits", "jobs/optdigits-learning.json", 2, sliceDataset({ schemaFile: ex("schemas/optdigits.json"), dataFile: ex("data/optdigits.tes") }, 1, "test").all);
        return { detail: detail() };
      });
    }
    if (LEARN.has("adult")) {
      await step("2c. federated learning: adult logistic regression (one-hot)", async () => {
        const test = sliceDataset({ schemaFile: ex("schemas/adult.json"), dataFile: ex("data/adult-test.csv") }, 1, "test").all;
        await learn("adult", "jobs/adult-learning.json", 0, test);
        return { detail: detail() };
      });
    }

    await step("3. encrypted inference (CKKS) with the wdbc model", async () => {
      if (!wdbcJob) throw new Error(LEARN.has("wdbc") ? "no trained wdbc model (step 2a failed)" : "needs the wdbc model: add wdbc to --learn");
      const m = await fetchTrainedModel(cluster.operator, wdbcJob);
      const pre = parseLearningTask(m.spec.task).job.model.preprocessing!;
      const ds = datasetFromRows(wdbc.schema, wdbcQuery, pre);
      const rows: number[][] = [];
      for (let i = 0; i < ds.n; i++) rows.push(Array.from(ds.x.subarray(i * ds.d, (i + 1) * ds.d)));
      const t0 = Date.now();
      const r = await encryptedPredict(cluster.operator, wdbcJob, m.dense, rows, false);
      const ms = Date.now() - t0;
      const same = rows.filter((row, i) => plainLabel(m.dense, row) === r.labels[i]).length;
      const correct = r.labels.filter((l, i) => l === ds.y[i]).length;
      say(`  ${rows.length} querier rows encrypted on the client, scored by the Worker, decrypted by the querier in ${ms} ms`);
      say(`  labels equal to plaintext inference: ${same}/${rows.length}; accuracy against the true diagnosis: ${(100 * correct / rows.length).toFixed(2)}%`);
      if (same / rows.length < 0.999) throw new Error("encrypted labels differ from plaintext");
      return { detail: `${same}/${rows.length} labels = plaintext, accuracy ${(100 * correct / rows.length).toFixed(1)}%` };
    });

    await step("4. a cheating node is caught", async () => {
      const adultRows = sliceDataset({ schemaFile: ex("schemas/adult.json"), dataFile: ex("data/adult-test.csv"), maxRowsPerNode: ROWS }, 1, "cheat").slices[0]!;
      const cheat = await cluster.addNode([adultRows, [], []], { TWOPM_FAULT: "bad-input" });
      say(`  node ${cheat.nodeId.slice(0, 8)} joins and inflates its contribution out of the declared range`);
      try {
        const spec = await loadJobSpec(ex("jobs/adult-stats-demo.json"));
        const { id, rounds } = await runJob(cluster, { ...spec, committee: { size: N + 1, min: 3 } });
        const acc = rounds.find((r) => r.status === "accepted")!;
        const { result } = await cluster.operator.result<{ excludedNodes: string[]; stats: StatsResult }>(id);
        if (!result.excludedNodes.includes(cheat.nodeId)) throw new Error("the cheating node was not excluded");
        say(`  validation inside MASCOT named ${cheat.nodeId.slice(0, 8)} (only its pass/fail bit was opened); the sum covers the other ${acc.committee.length - 1} nodes`);
        return { detail: `excluded ${cheat.nodeId.slice(0, 8)}; job completed with ${result.stats.parties} nodes` };
      } finally {
        await cheat.stop();
      }
    });
  } finally {
    banner("summary");
    const w = { step: Math.max(...summary.map((s) => s.step.length)) + 2, outcome: 8, seconds: 8 };
    say(`${"step".padEnd(w.step)}${"result".padEnd(w.outcome)}${"time s".padEnd(w.seconds)}detail`);
    for (const s of summary) say(`${s.step.padEnd(w.step)}${s.outcome.padEnd(w.outcome)}${s.seconds.padEnd(w.seconds)}${s.detail}`);
    failed = summary.some((s) => s.outcome !== "ok");
    say(`\ndashboard: ${cluster.coordinator.url}/dashboard (API token: ${cluster.coordinator.apiToken})`);
    if (opts.keep) {
      say("--keep: the coordinator and nodes keep running; press Ctrl-C to stop.");
      await new Promise<void>((r) => process.once("SIGINT", () => r()));
    }
    await cluster.stop();
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(`demo: ${(e as Error).message}`);
  process.exit(1);
});
