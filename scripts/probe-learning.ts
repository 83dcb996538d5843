// Debug helper: wdbc federated logistic regression on a small cluster, printing progress.
import path from "node:path";
import { startCluster } from "./lib/cluster.ts";
import { loadJobSpec, prepareSpec, watchJob } from "../client/cli/job.ts";
const ROOT = path.resolve(import.meta.dirname, "..");
const nodes = Number(process.env.NODES ?? 3);
const cluster = await startCluster({ nodes, datasets: [{ schemaFile: path.join(ROOT, "examples/schemas/wdbc.json"), dataFile: path.join(ROOT, "examples/data/wdbc.data") }], onNodeLine: (n, l) => { if (!l.includes('"phase"')) console.log(Date.now() % 100000, n, l.slice(0, 300)); } });
try {
  const loaded = await loadJobSpec(path.join(ROOT, process.argv[2] ?? "examples/jobs/wdbc-learning.json"));
  loaded.committee = { size: nodes, min: Math.min(nodes, 3) };
  loaded.maxRounds = Number(process.env.ROUNDS ?? 3);
  (loaded.task as { stopping: { maxRounds: number } }).stopping.maxRounds = loaded.maxRounds;
  const t0 = Date.now();
  const spec = await prepareSpec(cluster.operator, loaded, (s) => console.log("PIPE", s));
  console.log("standardization ready", (Date.now() - t0) / 1000, "s");
  const job = await cluster.operator.submitJob(spec);
  const final = await watchJob(cluster.operator, job.id, (s) => console.log("WATCH", s));
  console.log("FINAL", final.status, (Date.now() - t0) / 1000, "s");
  console.log(JSON.stringify(await cluster.operator.result(job.id)).slice(0, 1500));
  const { decodeGlobalModel } = await import("../protocol/learning/codec.ts");
  console.log("standardization", JSON.stringify((spec.task as { standardization?: unknown }).standardization).slice(0, 300));
  for (let r = 0; r <= loaded.maxRounds; r++) {
    const res = await cluster.operator.request("GET", `/v1/jobs/${job.id}/models/${r}`).catch(() => null);
    if (res) console.log("model", r, Array.from(decodeGlobalModel(new Uint8Array(await res.arrayBuffer())).weights.slice(0, 4)));
  }
} finally {
  console.log(cluster.coordinator.log.filter((l) => !l.includes("wrangler:info")).slice(-10).join("\n"));
  await cluster.stop();
}
