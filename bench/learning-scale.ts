/**
 * `npm run bench -- learning-scale [--params 10000,100000] [--nodes 5] [--rounds 2]`: issue 13's
 * "a 100k-parameter update, 5 nodes, validated (L2 bound), per round" as users run it — real
 * node processes and the local coordinator (bench/learning.ts), the optdigits MLP with its hidden
 * layer widened until the model has about `params` parameters (64·h + h + 10·h + 10), each size
 * run validated (PINE L2 bound) and with the plaintext baseline back to back. Reports per round
 * the wall time, the aggregation time and the relay bytes per node, and the nodes' peak RSS.
 * Written to bench/results/learning-scale.json.
 */
import { run as runLearning } from "./learning.ts";
import type { BenchResult } from "./types.ts";
import { strArg as arg } from "./args.ts";

/** Hidden units of the optdigits MLP (64 inputs, 10 classes, one hidden layer) for about `params` parameters. */
export function hiddenFor(params: number): number {
  return Math.max(1, Math.round((params - 10) / 75));
}


export async function run(args: string[]): Promise<BenchResult> {
  const sizes = arg(args, "params", "10000,100000").split(",").map(Number);
  if (sizes.some((p) => !(Number.isInteger(p) && p >= 100))) throw new Error("--params takes a comma-separated list of parameter counts ≥ 100");
  const rest = ["--nodes", arg(args, "nodes", "5"), "--rounds", arg(args, "rounds", "2"), ...(args.includes("--source") ? ["--source"] : [])];
  const rows: BenchResult["rows"] = [];
  let notes: string[] = [];
  for (const p of sizes) {
    const h = hiddenFor(p);
    const r = await runLearning(["--datasets", "optdigits", "--hidden", String(h), ...rest]);
    for (const row of r.rows) {
      const perRound = Number(row.wall_s) / Number(row.rounds);
      const pick = (k: string) => row[k] ?? "-";
      rows.push({
        params: 75 * h + 10, hidden: h, mode: pick("mode"), nodes: pick("nodes"), rounds: pick("rounds"), s_per_round: perRound, aggregation_s: pick("aggregation_s"),
        local_s: pick("local_s"), MB_per_node: pick("MB_per_node"), ratio_vs_plaintext: pick("ratio_vs_plaintext"), peak_rss_MB: pick("peak_rss_MB"),
        final_fed_acc: pick("final_fed_acc"), party_cpu_s: pick("party_cpu_s"), load_1m: pick("load_1m"),
      });
    }
    notes = r.notes ?? [];
  }
  return { name: "learning-scale", rows, notes: ["s_per_round = the job's wall time / rounds (assignment, local training, aggregation, reduce, logging); goal (issue 13): ≤ 30 s and ≤ 250 MB per node at 100k parameters, validated", ...notes] };
}
