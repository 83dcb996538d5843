// Debug helper: run the small adult job on a 3-node cluster and print everything.
import path from "node:path";
import { startCluster } from "./lib/cluster.ts";
import { loadJobSpec, watchJob } from "../client/cli/job.ts";
const ROOT = path.resolve(import.meta.dirname, "..");
const nodes = Number(process.env.NODES ?? 3);
const cluster = await startCluster({ nodes, datasets: [{ schemaFile: path.join(ROOT, "examples/schemas/adult.json"), dataFile: path.join(ROOT, "examples/data/adult-train.csv"), maxRowsPerNode: Number(process.env.ROWS ?? 300) }], onNodeLine: (n, l) => console.log(Date.now() % 100000, n, l.slice(0, 300)), nodeEnv: (i): Record<string, string> => (i === 0 && process.env.FAULT0 ? { TWOPM_FAULT: process.env.FAULT0 } : {}) });
try {
  const spec = await loadJobSpec(path.join(ROOT, process.argv[2] ?? "examples/jobs/adult-stats-small.json"));
  spec.committee = { size: nodes, min: nodes };
  spec.deadlines = { ...spec.deadlines, compute: Number(process.env.COMPUTE ?? 60) };
  spec.retryBudget = 0;
  const job = await cluster.operator.submitJob(spec);
  const t0 = Date.now();
  const final = await watchJob(cluster.operator, job.id, (s) => console.log("WATCH", s));
  console.log("FINAL", final.status, (Date.now() - t0) / 1000, "s");
  console.log(JSON.stringify(await cluster.operator.result(job.id)).slice(0, 1500));
} finally {
  console.log(cluster.coordinator.log.slice(-15).join("\n"));
  await cluster.stop();
}
