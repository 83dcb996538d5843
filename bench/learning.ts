/**
 * `npm run bench -- learning [--datasets wdbc,optdigits,adult] [--nodes 5] [--rounds 4]`:
 * federated learning jobs on a real local coordinator with N real node processes, each job
 * run twice: with its secure aggregation mode (validated MASCOT for all three; the optdigits
 * MLP's L2 bound is checked with PINE) and with the benchmark-only plaintext baseline (inputs
 * broadcast in the clear over the same relay; the coordinator admits it only with
 * ALLOW_PLAINTEXT_AGGREGATION=1). Per round, the slowest node's
 *  - local: assignment → contribution ready (model download and hash check, federated
 *    evaluation, local training, encoding),
 *  - aggregation: the rest of that node's round (contribution ready → round accepted),
 *  - coordinator: the job's wall time outside the nodes' rounds, per round (submission,
 *    selection, assignment delivery by long poll, reduce, model storage, logging),
 * and bytes per node (relay frames sent + received). The job's wall-time ratio secure /
 * plaintext is the figure the goal (≤ 1.5×) is about; rounds and seconds until the
 * federated evaluation first reaches the dataset's target accuracy are reported too.
 */
import path from "node:path";
import { startCluster, type Cluster, type ClusterDataset } from "../scripts/lib/cluster.ts";
import { loadJobSpec, prepareSpec, watchJob } from "../client/cli/job.ts";
import type { JobSpec } from "../protocol/api/schemas.ts";
import type { LearningResult } from "../protocol/jobs/learning.ts";
import type { BenchResult } from "./types.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const ex = (p: string) => path.join(ROOT, "examples", p);

interface Case { name: string; job: string; data: ClusterDataset; target: number }
const CASES: Record<string, Case> = {
  wdbc: { name: "wdbc", job: "jobs/wdbc-learning.json", data: { schemaFile: ex("schemas/wdbc.json"), dataFile: ex("data/wdbc.data") }, target: 0.95 },
  optdigits: { name: "optdigits", job: "jobs/optdigits-learning.json", data: { schemaFile: ex("schemas/optdigits.json"), dataFile: ex("data/optdigits.tra") }, target: 0.9 },
  adult: { name: "adult", job: "jobs/adult-learning.json", data: { schemaFile: ex("schemas/adult.json"), dataFile: ex("data/adult-train.csv"), maxRowsPerNode: 2000 }, target: 0.82 },
};

function arg(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
}

interface Measured {
  wallS: number; localS: number; aggS: number; coordS: number; mbPerNode: number;
  rounds: number; roundsToTarget: number | null; sToTarget: number | null; finalAcc: number;
}

async function measure(cluster: Cluster, spec: JobSpec, target: number): Promise<Measured> {
  const t0 = Date.now();
  const job = await cluster.operator.submitJob(spec);
  const final = await watchJob(cluster.operator, job.id, () => undefined, 200);
  const wall = Date.now() - t0;
  if (final.status !== "completed") throw new Error(`learning bench: job ${job.id} ${final.status} (${spec.mode})`);
  const { result } = await cluster.operator.result<LearningResult>(job.id);
  const rounds = result.history.length;
  let local = 0, agg = 0, span = 0, bytes = 0;
  const roundEnd: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let l = 0, s = 0, end = 0, b = 0, k = 0;
    for (const node of cluster.nodes) {
      const ev = node.events.filter((e) => e.jobId === job.id && e.round === r);
      const assigned = ev.findLast((e) => e.kind === "assignment");
      const computed = ev.findLast((e) => e.kind === "computed");
      const done = ev.findLast((e) => e.kind === "round-done");
      if (!assigned || !computed || !done) continue;
      l = Math.max(l, computed.t - assigned.t);
      s = Math.max(s, done.t - assigned.t);
      end = Math.max(end, done.t);
      b += Number(done.bytesSent) + Number(done.bytesReceived);
      k++;
    }
    local += l; agg += Math.max(0, s - l); span += s; bytes += k ? b / k : 0;
    roundEnd.push(end);
  }
  const hit = result.history.findIndex((h) => h.accuracy !== null && h.accuracy >= target);
  return {
    wallS: wall / 1000, localS: local / rounds / 1000, aggS: agg / rounds / 1000, coordS: Math.max(0, wall - span) / rounds / 1000, mbPerNode: bytes / rounds / 1e6,
    rounds, roundsToTarget: hit < 0 ? null : hit, sToTarget: hit < 0 ? null : hit === 0 ? 0 : (roundEnd[hit - 1]! - t0) / 1000,
    finalAcc: result.history[rounds - 1]!.accuracy ?? Number.NaN,
  };
}

export async function run(args: string[]): Promise<BenchResult> {
  const names = arg(args, "datasets", "wdbc,optdigits,adult").split(",");
  const nodes = Number(arg(args, "nodes", "5"));
  const rounds = Number(arg(args, "rounds", "4"));
  const out: BenchResult["rows"] = [];
  for (const name of names) {
    const c = CASES[name];
    if (!c) throw new Error(`unknown dataset ${JSON.stringify(name)}; one of ${Object.keys(CASES).join(", ")}`);
    const cluster = await startCluster({ nodes, datasets: [c.data], coordinatorVars: { ALLOW_PLAINTEXT_AGGREGATION: "1" }, nodePolicy: { modes: ["validated", "linear-only", "plaintext"] } });
    try {
      const loaded = await loadJobSpec(ex(c.job));
      const task = loaded.task as { stopping: Record<string, unknown>; aggregation: Record<string, unknown> };
      const base = await prepareSpec(cluster.operator, { ...loaded, committee: { size: nodes, min: nodes }, maxRounds: rounds, task: { ...task, stopping: { maxRounds: rounds } } }, () => undefined);
      const secureMode = base.mode;
      const plainSpec: JobSpec = { ...base, mode: "plaintext", task: { ...base.task, aggregation: { ...(base.task as typeof task).aggregation, mode: "plaintext" } } };
      await measure(cluster, plainSpec, c.target); // warm-up (tfjs and model set-up on every node), not reported
      const secure = await measure(cluster, base, c.target);
      const plain = await measure(cluster, plainSpec, c.target);
      for (const [mode, m] of [[secureMode, secure], ["plaintext", plain]] as const) {
        out.push({
          dataset: name, mode, nodes, rounds: m.rounds, local_s: m.localS, aggregation_s: m.aggS, coordinator_s: m.coordS,
          MB_per_node: m.mbPerNode, wall_s: m.wallS, ratio_vs_plaintext: m.wallS / plain.wallS,
          rounds_to_target: m.roundsToTarget ?? "not reached", s_to_target: m.sToTarget ?? "-", final_fed_acc: m.finalAcc,
        });
      }
    } finally {
      await cluster.stop();
    }
  }
  return {
    name: "learning",
    rows: out,
    notes: [
      "per-round figures are means over rounds of the slowest node; MB_per_node = relay frames sent + received per round",
      "each dataset: one unreported plaintext warm-up job first, then the secure job, then the plaintext job",
      "ratio_vs_plaintext = job wall time / the same job with plaintext aggregation (benchmark-only mode)",
      `targets (federated evaluation on held-out rows): ${Object.values(CASES).map((c) => `${c.name} ${c.target}`).join(", ")}`,
    ],
  };
}
