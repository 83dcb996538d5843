/**
 * `npm run bench -- learning [--datasets wdbc,optdigits,adult] [--nodes 5] [--rounds 4] [--hidden units] [--source] [--profile-node DIR]`:
 * federated learning jobs on a real local coordinator with N real node processes, each job
 * run twice: with its secure aggregation mode (validated MASCOT for all three; the optdigits
 * MLP's L2 bound is checked with PINE) and with the benchmark-only plaintext baseline (inputs
 * broadcast in the clear over the same relay; the coordinator admits it only with
 * ALLOW_PLAINTEXT_AGGREGATION=1). Nodes run the built package unless `--source` (bench/node-bin.ts). Per round, the slowest node's
 *  - local: assignment → contribution ready (model download and hash check, federated
 *    evaluation, local training, encoding),
 *  - aggregation: the rest of that node's round (contribution ready → round accepted),
 *  - coordinator: the job's wall time outside the nodes' rounds, per round (submission,
 *    selection, assignment delivery by long poll, reduce, model storage, logging),
 * and bytes per node (relay frames sent + received). The job's wall-time ratio secure /
 * plaintext is the figure the goal (issue 13: ≤ 2×) is about; rounds and seconds until the
 * federated evaluation first reaches the dataset's target accuracy are reported too.
 *
 * Where a round goes (issue 13), per node and round, means over nodes and rounds:
 *  - CPU by thread (Linux /proc, user + system, from submit to completion): `agent_cpu_s`
 *    (the agent's main thread: envelopes, relay socket, party-thread messaging, local
 *    training), `party_cpu_s` (the MASCOT party thread), `v8_cpu_s` (V8's helper threads:
 *    concurrent/parallel GC and compilation), and `coord_cpu_s` per round (workerd — the
 *    coordinator and relay — plus this process). N nodes and the coordinator share the
 *    machine's cores, so on a small machine the job's wall time follows their total CPU;
 *  - the MASCOT steps from the node's phase events (validated mode): `join_s` (contribution
 *    ready → party started: thread party, ledger, relay connect, view exchange),
 *    `offline_input_s` (→ coin A: offline setup and authenticated input), `proof_s` (→ the
 *    validation openings are in: late inputs, product proofs, their challenge and public
 *    checks), `checks_s` (→ party done: pass/fail, MAC checks, sum opening) and `accept_s` (→ round accepted by
 *    the RoundDO). `load_1m`: the machine's 1-minute load at submit → completion.
 */
import { readdirSync, readFileSync } from "node:fs";
import { procCpu, procPeakRssMb, workerdPids } from "./proc.ts";
import os from "node:os";
import path from "node:path";
import { benchNodeBin, nodeBinNote, profileNodeEnv } from "./node-bin.ts";
import { startCluster, type AgentEventLine, type Cluster, type ClusterDataset } from "../scripts/lib/cluster.ts";
import { loadJobSpec, prepareSpec, watchJob } from "../client/cli/job.ts";
import type { JobSpec } from "../protocol/api/schemas.ts";
import type { LearningResult } from "../protocol/jobs/learning.ts";
import type { BenchResult } from "./types.ts";
import { strArg as arg } from "./args.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const ex = (p: string) => path.join(ROOT, "examples", p);

interface Case { name: string; job: string; data: ClusterDataset; target: number }
const CASES: Record<string, Case> = {
  wdbc: { name: "wdbc", job: "jobs/wdbc-learning.json", data: { schemaFile: ex("schemas/wdbc.json"), dataFile: ex("data/wdbc.data") }, target: 0.95 },
  optdigits: { name: "optdigits", job: "jobs/optdigits-learning.json", data: { schemaFile: ex("schemas/optdigits.json"), dataFile: ex("data/optdigits.tra") }, target: 0.9 },
  adult: { name: "adult", job: "jobs/adult-learning.json", data: { schemaFile: ex("schemas/adult.json"), dataFile: ex("data/adult-train.csv"), maxRowsPerNode: 2000 }, target: 0.82 },
};


/** CPU seconds of one thread role in a node process (see {@link threadCpu}). */
type ThreadRole = "agent" | "party" | "v8" | "other";

/** Node's default V8 platform pool size (`--v8-pool-size`, 4). */
const V8_POOL = 4;

/**
 * CPU seconds (user + system) per thread role of process `pid` so far, from /proc (Linux; empty
 * elsewhere or once the process has exited). Roles by name and creation order: the main thread
 * is the agent; V8's platform workers are the (at most {@link V8_POOL}) "node"-named threads
 * created right after "DelayedTaskScheduler" at start-up (GC and compilation helpers); any
 * other "node"-named thread is a worker thread (the party thread); the rest (libuv pool) is "other".
 */
function threadCpu(pid: number | undefined): Record<ThreadRole, number> {
  const out: Record<ThreadRole, number> = { agent: 0, party: 0, v8: 0, other: 0 };
  if (pid === undefined) return out;
  let tids: number[];
  try { tids = readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b); } catch { return out; }
  let v8Left = 0;
  for (const tid of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cpu = (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
      let role: ThreadRole;
      if (tid === pid) role = "agent";
      else if (comm.startsWith("DelayedTaskSch")) { v8Left = V8_POOL; role = "v8"; }
      else if (comm === "node" && v8Left > 0) { v8Left--; role = "v8"; }
      else { v8Left = 0; role = comm === "node" ? "party" : "other"; }
      out[role] += cpu;
    } catch { /* the thread ended */ }
  }
  return out;
}

/** The MASCOT steps of {@link Measured.steps}: the phase a step ends at (validated mode's phase names). */
const STEPS = [["offline_input_s", "coin.A"], ["proof_s", "valid"], ["checks_s", "done"]] as const;

interface Measured {
  wallS: number; localS: number; aggS: number; coordS: number; mbPerNode: number;
  rounds: number; roundsToTarget: number | null; sToTarget: number | null; finalAcc: number;
  /** Per node and round: CPU seconds by thread role; coordinator CPU per round. */
  cpu: Record<ThreadRole, number> & { coordinator: number };
  /** Per node and round, seconds of each step (absent when the mode has no such phases). */
  steps: Record<string, number>;
  load: string;
  /** Largest peak RSS (VmHWM) of the node processes so far, MB; null where /proc is absent. */
  peakRssMb: number | null;
}

async function measure(cluster: Cluster, spec: JobSpec, target: number): Promise<Measured> {
  const pids = cluster.nodes.map((n) => n.child?.pid);
  const th0 = pids.map(threadCpu), wd = workerdPids(), wd0 = wd.map(procCpu), self0 = process.cpuUsage(), load0 = os.loadavg()[0]!;
  const t0 = Date.now();
  const job = await cluster.operator.submitJob(spec);
  const final = await watchJob(cluster.operator, job.id, () => undefined, 200);
  const wall = Date.now() - t0;
  const th1 = pids.map(threadCpu), wd1 = wd.map(procCpu), self1 = process.cpuUsage(self0), load1 = os.loadavg()[0]!;
  const peakRss = Math.max(0, ...pids.map((p) => procPeakRssMb(p) ?? 0));
  if (final.status !== "completed") throw new Error(`learning bench: job ${job.id} ${final.status} (${spec.mode})`);
  const { result } = await cluster.operator.result<LearningResult>(job.id);
  const rounds = result.history.length;
  let local = 0, agg = 0, span = 0, bytes = 0;
  const roundEnd: number[] = [];
  const stepSum: Record<string, number> = {}, stepCount: Record<string, number> = {};
  const addStep = (k: string, from: AgentEventLine | undefined, to: AgentEventLine | undefined) => {
    if (!from || !to || to.t < from.t) return;
    stepSum[k] = (stepSum[k] ?? 0) + (to.t - from.t);
    stepCount[k] = (stepCount[k] ?? 0) + 1;
  };
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
      // The MASCOT steps: the first phase event after the contribution is the party's start.
      const phases = ev.filter((e) => e.kind === "phase" && e.t >= computed.t);
      const at = (name: string) => phases.find((e) => e.phase === name);
      addStep("join_s", computed, phases[0]);
      let prev = phases[0];
      for (const [key, phase] of STEPS) { const e = at(phase); addStep(key, prev, e); prev = e; }
      addStep("accept_s", prev, done);
    }
    local += l; agg += Math.max(0, s - l); span += s; bytes += k ? b / k : 0;
    roundEnd.push(end);
  }
  const hit = result.history.findIndex((h) => h.accuracy !== null && h.accuracy >= target);
  const nodeRounds = cluster.nodes.length * rounds;
  const role = (r: ThreadRole) => th1.reduce((a, t, i) => a + t[r] - th0[i]![r], 0) / nodeRounds;
  const coordCpu = wd1.reduce<number>((a, c, i) => a + ((c ?? 0) - (wd0[i] ?? 0)), 0) + (self1.user + self1.system) / 1e6;
  const steps: Record<string, number> = {};
  for (const k of ["join_s", ...STEPS.map(([key]) => key), "accept_s"]) if (stepCount[k]) steps[k] = stepSum[k]! / stepCount[k]! / 1000;
  return {
    cpu: { agent: role("agent"), party: role("party"), v8: role("v8"), other: role("other"), coordinator: coordCpu / rounds },
    steps, load: `${load0.toFixed(1)}→${load1.toFixed(1)}`,
    wallS: wall / 1000, localS: local / rounds / 1000, aggS: agg / rounds / 1000, coordS: Math.max(0, wall - span) / rounds / 1000, mbPerNode: bytes / rounds / 1e6,
    rounds, roundsToTarget: hit < 0 ? null : hit, sToTarget: hit < 0 ? null : hit === 0 ? 0 : (roundEnd[hit - 1]! - t0) / 1000,
    finalAcc: result.history[rounds - 1]!.accuracy ?? Number.NaN, peakRssMb: peakRss || null,
  };
}

/** The spec with its MLP's first hidden layer set to `units` (`--hidden`, for model-size runs); unchanged when undefined. Throws for a model without hidden layers. */
function withHidden(spec: JobSpec, units: number | undefined): JobSpec {
  if (units === undefined) return spec;
  const task = spec.task as { model: { architecture?: { kind: string; hidden?: Array<Record<string, unknown>> } } };
  const arch = task.model.architecture;
  if (!arch?.hidden?.length) throw new Error("--hidden needs a job whose model has a hidden layer (optdigits)");
  return { ...spec, task: { ...spec.task, model: { ...task.model, architecture: { ...arch, hidden: [{ ...arch.hidden[0], units }, ...arch.hidden.slice(1)] } } } } as JobSpec;
}

export async function run(args: string[]): Promise<BenchResult> {
  const names = arg(args, "datasets", "wdbc,optdigits,adult").split(",");
  const nodes = Number(arg(args, "nodes", "5"));
  const rounds = Number(arg(args, "rounds", "4"));
  const hidden = args.includes("--hidden") ? Number(arg(args, "hidden", "")) : undefined;
  if (hidden !== undefined && !(Number.isInteger(hidden) && hidden > 0)) throw new Error("--hidden takes a positive number of units");
  const profileDir = arg(args, "profile-node", "");
  const nodeEnv = (i: number): Record<string, string> => profileNodeEnv(profileDir, i);
  const out: BenchResult["rows"] = [];
  const nodeBin = await benchNodeBin(args);
  for (const name of names) {
    const c = CASES[name];
    if (!c) throw new Error(`unknown dataset ${JSON.stringify(name)}; one of ${Object.keys(CASES).join(", ")}`);
    const cluster = await startCluster({ nodes, ...(nodeBin ? { nodeBin } : {}), datasets: [c.data], nodeEnv, coordinatorVars: { ALLOW_PLAINTEXT_AGGREGATION: "1" }, nodePolicy: { modes: ["validated", "linear-only", "plaintext"] } });
    try {
      const loaded = withHidden(await loadJobSpec(ex(c.job)), hidden);
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
          agent_cpu_s: m.cpu.agent, party_cpu_s: m.cpu.party, v8_cpu_s: m.cpu.v8, coord_cpu_s: m.cpu.coordinator, peak_rss_MB: m.peakRssMb ?? "-",
          ...Object.fromEntries(["join_s", ...STEPS.map(([key]) => key), "accept_s"].map((k) => [k, m.steps[k] ?? "-"])),
          load_1m: m.load,
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
      nodeBinNote(nodeBin),
      "agent/party/v8_cpu_s: CPU per node and round of the agent's main thread, the party thread and V8's GC/compiler helper threads (/proc, Linux); coord_cpu_s: workerd + the bench process per round; the nodes and the coordinator share this machine's cores",
      "steps (validated, per node and round): join = contribution ready → party started; offline_input → coin A; proof → validation openings in; checks → party done; accept → round accepted",
      `targets (federated evaluation on held-out rows): ${Object.values(CASES).map((c) => `${c.name} ${c.target}`).join(", ")}`,
    ],
  };
}
