// Debug helper: the demo's step 4 (N honest nodes + one bad-input node, committee N+1).
import path from "node:path";
import { startCluster, sliceDataset } from "./lib/cluster.ts";
import { loadJobSpec, watchJob } from "../client/cli/job.ts";
const ROOT = path.resolve(import.meta.dirname, "..");
const ex = (p: string) => path.join(ROOT, "examples", p);
const N = Number(process.env.NODES ?? 5);
const cluster = await startCluster({ nodes: N, seed: "demo", livenessSeconds: 15, datasets: [{ schemaFile: ex("schemas/adult.json"), dataFile: ex("data/adult-train.csv"), maxRowsPerNode: 1500 }] });
try {
  const rows = sliceDataset({ schemaFile: ex("schemas/adult.json"), dataFile: ex("data/adult-test.csv"), maxRowsPerNode: 1500 }, 1, "cheat").slices[0]!;
  const cheat = await cluster.addNode([rows], { TWOPM_FAULT: "bad-input" });
  const spec = await loadJobSpec(ex("jobs/adult-stats-small.json"));
  const job = await cluster.operator.submitJob({ ...spec, committee: { size: N + 1, min: 3 } });
  const final = await watchJob(cluster.operator, job.id, (s) => console.log("WATCH", s));
  console.log("FINAL", final.status, final.error);
  const rounds = await cluster.operator.rounds(job.id);
  console.log(JSON.stringify(rounds.map((r) => ({ s: r.status, abort: r.abort, n: r.committee.length, cheat: r.committee.includes(cheat.nodeId) }))));
  for (const n of cluster.nodes) console.log(n.name, n.output.filter((l) => /abort|reject|warning|error/i.test(l)).slice(-3).join(" | "));
} finally {
  await cluster.stop();
}
