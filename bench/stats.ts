/**
 * `npm run bench -- stats [--nodes 3,5,10] [--rows 2000] [--modes validated,linear-only] [--jobs k] [--fresh-base-ots] [--source]`:
 * end-to-end round time of the adult census query on a real local coordinator with N real
 * node processes, split into local computation, MASCOT phases and coordinator overhead.
 *
 *  - local: assignment received → local contribution encoded (includes fetching and
 *    verifying the manifest against the transparency log), slowest node;
 *  - mascot: contribution ready → round accepted by the RoundDO, slowest node, with the time
 *    spent in each protocol phase (first node to enter → last node to leave) in `phases`;
 *  - coordinator: submit → job completed, minus the two above (selection, assignment
 *    delivery, long-poll latency, reduce and logging);
 *  - node_cpu_max_s / node_cpu_sum_s: CPU of the node processes (agent + party thread) from
 *    submit to completion (Linux /proc), and coordinator_cpu_s (workerd + this process): with
 *    N nodes on a few cores the wall time is bounded below by the sum over the cores.
 * `--jobs k` runs k jobs in a row per cluster (job 2 on: base OTs kept from job 1, the steady
 * state of nodes that meet again). Nodes run the built package unless `--source` (bench/node-bin.ts). `--profile-node DIR` writes V8 CPU profiles of node 0 (agent and party thread) into DIR.
 */
import { procCpu, workerdPids } from "./proc.ts";
import os from "node:os";
import path from "node:path";
import { startCluster } from "../scripts/lib/cluster.ts";
import { loadJobSpec, watchJob } from "../client/cli/job.ts";
import type { BenchResult } from "./types.ts";
import { benchNodeBin, nodeBinNote, profileNodeEnv } from "./node-bin.ts";
import { strArg as arg } from "./args.ts";

const ROOT = path.resolve(import.meta.dirname, "..");


export async function run(args: string[]): Promise<BenchResult> {
  const sizes = arg(args, "nodes", "3,5,10").split(",").map(Number);
  const rows = Number(arg(args, "rows", "2000"));
  const modes = arg(args, "modes", "validated,linear-only").split(",") as Array<"validated" | "linear-only">;
  // Validated runs relay Θ(n²) base-OT and offline traffic; --max-validated skips larger n.
  const maxValidated = Number(arg(args, "max-validated", "10"));
  // --profile-node DIR: node 0 runs with --cpu-prof into DIR (agent and party thread, one profile each; written at exit).
  const profileDir = arg(args, "profile-node", "");
  // --jobs k: k jobs in a row on the same cluster; from the second on, the nodes reuse the base OTs kept from the first (client/agent/base-ot-cache.ts).
  const jobs = Number(arg(args, "jobs", "1"));
  // --fresh-base-ots: the nodes keep no base OTs (TWOPM_BASE_OT_MAX_USES=0), so with --jobs 2 the
  // second job is a first meeting of nodes whose processes are already warm (JIT compiled)
  const freshBase = args.includes("--fresh-base-ots");
  // --idle-before S: wait S seconds after the nodes registered before the first job, as a node
  // that has been up a while is (it prepares its base-OT receiver halves after
  // TWOPM_BASE_OT_PREPARE_DELAY_MS without work: client/agent/base-ot-cache.ts). Default 0: the
  // first job follows the nodes' start at once.
  const idleBefore = Number(arg(args, "idle-before", "0"));
  if (!Number.isFinite(idleBefore) || idleBefore < 0) throw new RangeError(`stats bench: --idle-before must be a non-negative number of seconds, got ${idleBefore}`);
  const nodeEnv = (i: number): Record<string, string> => ({
    ...profileNodeEnv(profileDir, i),
    ...(freshBase ? { TWOPM_BASE_OT_MAX_USES: "0" } : {}),
  });
  const out: BenchResult["rows"] = [];
  const nodeBin = await benchNodeBin(args);
  for (const n of sizes) {
    const cluster = await startCluster({ nodes: n, ...(nodeBin ? { nodeBin } : {}), datasets: [{ schemaFile: path.join(ROOT, "examples/schemas/adult.json"), dataFile: path.join(ROOT, "examples/data/adult-train.csv"), maxRowsPerNode: rows }], nodeEnv });
    try {
      if (idleBefore > 0) await new Promise((r) => setTimeout(r, idleBefore * 1000));
      for (const mode of modes) {
        if (mode === "validated" && n > maxValidated) {
          out.push({ nodes: n, mode, rows_per_node: rows, wall_s: "skipped", slowest_phases: `n > --max-validated ${maxValidated}` });
          continue;
        }
        for (let jobNo = 1; jobNo <= jobs; jobNo++) {
          const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats.json"));
          const pids = cluster.nodes.map((nd) => nd.child?.pid), wd = workerdPids();
          const cpu0 = pids.map(procCpu), wd0 = wd.map(procCpu), self0 = process.cpuUsage(), load0 = os.loadavg()[0]!;
          const t0 = Date.now();
          const job = await cluster.operator.submitJob({ ...spec, mode, committee: { size: n, min: n }, deadlines: { ...spec.deadlines, compute: 1800 } });
          const final = await watchJob(cluster.operator, job.id, () => undefined, 200);
          const wall = Date.now() - t0;
          const nodeCpu = pids.map((pid, i) => (procCpu(pid) ?? NaN) - (cpu0[i] ?? NaN));
          const workerdCpu = wd.reduce((a, pid, i) => a + ((procCpu(pid) ?? NaN) - (wd0[i] ?? NaN)), 0);
          const selfCpu = (() => { const u = process.cpuUsage(self0); return (u.user + u.system) / 1e6; })();
          if (final.status !== "completed") throw new Error(`stats bench: job ${final.status} with ${n} nodes (${mode})`);
          let local = 0, mascot = 0;
          const phaseSpan = new Map<string, { start: number; end: number }>();
          for (const node of cluster.nodes) {
            const ev = node.events.filter((e) => e.jobId === job.id);
            const assigned = ev.find((e) => e.kind === "assignment")!.t;
            const computed = ev.find((e) => e.kind === "computed")!.t;
            const done = ev.find((e) => e.kind === "round-done")!.t;
            local = Math.max(local, computed - assigned);
            mascot = Math.max(mascot, done - computed);
            const phases = ev.filter((e) => e.kind === "phase");
            phases.forEach((p, i) => {
              const end = phases[i + 1]?.t ?? done;
              const span = phaseSpan.get(String(p.phase)) ?? { start: Infinity, end: 0 };
              phaseSpan.set(String(p.phase), { start: Math.min(span.start, p.t), end: Math.max(span.end, end) });
            });
          }
          const top = [...phaseSpan.entries()].map(([k, v]) => [k, v.end - v.start] as const).sort((a, b) => b[1] - a[1]).slice(0, 4);
          out.push({
            nodes: n, mode, ...(jobs > 1 ? { job: jobNo } : {}), ...(freshBase ? { base_ots: "fresh" } : {}), ...(idleBefore ? { idle_before_s: idleBefore } : {}), rows_per_node: rows, wall_s: wall / 1000, local_s: local / 1000, mascot_s: mascot / 1000,
            coordinator_s: Math.max(0, wall - local - mascot) / 1000,
            node_cpu_max_s: Number(Math.max(...nodeCpu).toFixed(2)), node_cpu_sum_s: Number(nodeCpu.reduce((a, b) => a + b, 0).toFixed(1)),
            coordinator_cpu_s: Number((workerdCpu + selfCpu).toFixed(1)), load_1m: `${load0.toFixed(1)}→${os.loadavg()[0]!.toFixed(1)}`,
            slowest_phases: top.map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}s`).join(", "),
          });
          console.log(JSON.stringify(out[out.length - 1]));
        }
      }
    } finally {
      await cluster.stop();
    }
  }
  return {
    name: freshBase ? "stats-fresh-base-ots" : "stats",
    rows: out,
    notes: [
      "adult census query (count, mean/variance of age, education histogram, income by sex, count by sex, age quantiles, hours by sex), 1 round",
      "validated: MASCOT-authenticated inputs with range predicates; linear-only: PRG-seed additive sharing + commit-then-open",
      nodeBinNote(nodeBin),
      "node_cpu_*: CPU seconds (user + system, /proc) of the node processes (agent + party thread) from submit to completion, slowest and sum; coordinator_cpu_s: workerd + the bench process (Miniflare, the operator's polling); load_1m: 1-min load average at submit → completion (N node processes and the coordinator share the machine's cores)",
    ],
  };
}
