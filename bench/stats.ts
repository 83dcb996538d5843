/**
 * `npm run bench -- stats [--nodes 3,5,10] [--rows 2000] [--modes validated,linear-only]`:
 * end-to-end round time of the adult census query on a real local coordinator with N real
 * node processes, split into local computation, MASCOT phases and coordinator overhead.
 *
 *  - local: assignment received → local contribution encoded (includes fetching and
 *    verifying the manifest against the transparency log), slowest node;
 *  - mascot: contribution ready → round accepted by the RoundDO, slowest node, with the time
 *    spent in each protocol phase (first node to enter → last node to leave) in `phases`;
 *  - coordinator: submit → job completed, minus the two above (selection, assignment
 *    delivery, long-poll latency, reduce and logging).
 */
import path from "node:path";
import { startCluster } from "../scripts/lib/cluster.ts";
import { loadJobSpec, watchJob } from "../client/cli/job.ts";
import type { BenchResult } from "./types.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

function arg(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
}

export async function run(args: string[]): Promise<BenchResult> {
  const sizes = arg(args, "nodes", "3,5,10").split(",").map(Number);
  const rows = Number(arg(args, "rows", "2000"));
  const modes = arg(args, "modes", "validated,linear-only").split(",") as Array<"validated" | "linear-only">;
  // Validated runs relay Θ(n²) base-OT and offline traffic; --max-validated skips larger n.
  const maxValidated = Number(arg(args, "max-validated", "10"));
  const out: BenchResult["rows"] = [];
  for (const n of sizes) {
    const cluster = await startCluster({ nodes: n, datasets: [{ schemaFile: path.join(ROOT, "examples/schemas/adult.json"), dataFile: path.join(ROOT, "examples/data/adult-train.csv"), maxRowsPerNode: rows }] });
    try {
      for (const mode of modes) {
        if (mode === "validated" && n > maxValidated) {
          out.push({ nodes: n, mode, rows_per_node: rows, wall_s: "skipped", slowest_phases: `n > --max-validated ${maxValidated}` });
          continue;
        }
        const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats.json"));
        const t0 = Date.now();
        const job = await cluster.operator.submitJob({ ...spec, mode, committee: { size: n, min: n }, deadlines: { ...spec.deadlines, compute: 1800 } });
        const final = await watchJob(cluster.operator, job.id, () => undefined, 200);
        const wall = Date.now() - t0;
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
          nodes: n, mode, rows_per_node: rows, wall_s: wall / 1000, local_s: local / 1000, mascot_s: mascot / 1000,
          coordinator_s: Math.max(0, wall - local - mascot) / 1000,
          slowest_phases: top.map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}s`).join(", "),
        });
        console.log(JSON.stringify(out[out.length - 1]));
      }
    } finally {
      await cluster.stop();
    }
  }
  return {
    name: "stats",
    rows: out,
    notes: [
      "adult census query (count, mean/variance of age, education histogram, income by sex, count by sex, age quantiles, hours by sex), 1 round",
      "validated: MASCOT-authenticated inputs with range predicates; linear-only: PRG-seed additive sharing + commit-then-open",
    ],
  };
}
