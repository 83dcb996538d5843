/**
 * The installable node package (client/package.json, scripts/build-client.ts): built,
 * packed with `npm pack`, installed into an empty directory with `npm install <tarball>`
 * (runtime dependencies only, no tsx/wrangler/vitest), and used as a data holder would:
 * `2pm` from the installed package's bin joins a real job on a local coordinator and the
 * result equals plaintext.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildClient, packClient } from "../../scripts/build-client.ts";
import { startCluster, type Cluster } from "../../scripts/lib/cluster.ts";
import { loadJobSpec, watchJob } from "../../client/cli/job.ts";
import { computePlaintext, type StatsResult } from "../../protocol/stats/engine.ts";
import { parseStatsQuery } from "../../protocol/stats/query.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const install = mkdtempSync(path.join(os.tmpdir(), "2pm-pkg-"));
let tarball = "";
let cluster: Cluster | undefined;

beforeAll(async () => {
  await buildClient();
  tarball = packClient();
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--no-package-lock", tarball], { cwd: install, encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0) throw new Error(`npm install of the tarball failed: ${r.stderr.slice(-2000)}`);
}, 900_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(install, { recursive: true, force: true });
  if (tarball) rmSync(tarball, { force: true });
});

describe("@2pm/node installed from its tarball", () => {
  it("installs only runtime dependencies; npx 2pm runs without the repository", () => {
    for (const dev of ["tsx", "wrangler", "vitest", "miniflare", "playwright-core", "typescript"]) {
      expect(existsSync(path.join(install, "node_modules", dev)), dev).toBe(false);
    }
    const help = spawnSync("npx", ["--no", "2pm", "help", "node", "start"], { cwd: install, encoding: "utf8", timeout: 60_000 });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: 2pm node start/);
    const bad = spawnSync("npx", ["--no", "2pm", "frobnicate"], { cwd: install, encoding: "utf8", timeout: 60_000 });
    expect(bad.status).toBe(2);
    // Worker threads ship as their own bundles next to the entries that start them.
    for (const f of ["cli.mjs", "node.mjs", "querier.mjs", "encrypt-worker.js", "eval-worker.js", "serve-worker.js", "types/client/node.d.ts", "types/client/querier.d.ts"]) {
      expect(existsSync(path.join(install, "node_modules", "@2pm", "node", "dist", f)), f).toBe(true);
    }
  }, 120_000);

  it("nodes run from the installed package answer a statistics job; equals plaintext", async () => {
    const bin = path.join(install, "node_modules", "@2pm", "node", "dist", "cli.mjs");
    cluster = await startCluster({
      nodes: 3,
      nodeBin: bin,
      datasets: [{ schemaFile: path.join(ROOT, "examples/schemas/adult.json"), dataFile: path.join(ROOT, "examples/data/adult-test.csv"), maxRowsPerNode: 400 }],
    });
    const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats-small.json"));
    const job = await cluster.operator.submitJob(spec);
    const lines: string[] = [];
    const final = await watchJob(cluster.operator, job.id, (s) => lines.push(s));
    expect(final.status, lines.join("\n")).toBe("completed");
    const { result } = await cluster.operator.result<{ stats: StatsResult }>(job.id);
    const query = parseStatsQuery((spec.task as { query: unknown }).query);
    const want = computePlaintext(query, cluster.schemas[0]!, cluster.nodes.flatMap((n) => n.slices[0]!.rows));
    expect(result.stats.measures.map((m) => m.groups.map((g) => g.count))).toEqual(want.measures.map((m) => m.groups.map((g) => g.count)));
    // Every node process ran the packaged CLI, not the repository's.
    for (const n of cluster.nodes) expect(n.bin).toBe(bin);
  }, 900_000);
});
