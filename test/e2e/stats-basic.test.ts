import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { startCluster, type Cluster } from "../../scripts/lib/cluster.ts";
import { loadJobSpec, watchJob } from "../../client/cli/job.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");

describe("federated statistics end to end (probe)", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, datasets: [{ schemaFile: path.join(ROOT, "examples/schemas/adult.json"), dataFile: path.join(ROOT, "examples/data/adult-train.csv"), maxRowsPerNode: 2000 }] });
  }, 180_000);
  afterAll(async () => { await cluster?.stop(); });

  it("runs a stats job", async () => {
    const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats.json"));
    spec.committee = { size: 3, min: 3 };
    const { job } = await cluster.operator.json<{ job: { id: string } }>("POST", "/v1/jobs", spec);
    const final = await watchJob(cluster.operator, job.id, (s) => console.log(s));
    for (const n of cluster.nodes) console.log(n.name, n.output.slice(-6).join("\n"));
    expect(final.status).toBe("completed");
  }, 300_000);
});
