/**
 * Federated statistics end to end: a real local coordinator (the bundled Worker on Miniflare:
 * workerd, D1, R2, Durable Objects) and real `2pm node start` processes, each holding its own slice of the
 * UCI adult census data. Results are compared with the same statistics computed in
 * plaintext over the union of the slices that were actually summed.
 *
 * Fixed-point tolerance: Σx and Σx² are exact integers in the field after each value is
 * rounded to 2^-f (docs/stats.md: mean within 2^-(f+1)); age is an integer, so with f = 0
 * every sum is exact and means and variances are compared to 1e-9 relative.
 *
 * The first test uses all 5 nodes; the cheating scenarios then run with 3 honest nodes and
 * one extra (cheating or doomed) node, committee 4 (min 3), so the extra node is always
 * selected first.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startCluster, type Cluster, type NodeProcess } from "../../scripts/lib/cluster.ts";
import { loadJobSpec, watchJob } from "../../client/cli/job.ts";
import type { JobSpec } from "../../protocol/api/schemas.ts";
import { computePlaintext, type StatsResult } from "../../protocol/stats/engine.ts";
import { parseStatsQuery } from "../../protocol/stats/query.ts";
import type { Row } from "../../protocol/stats/schema.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const BIN = path.join(ROOT, "client", "cli", "bin.mjs");
const ADULT = { schemaFile: path.join(ROOT, "examples/schemas/adult.json"), dataFile: path.join(ROOT, "examples/data/adult-train.csv"), maxRowsPerNode: 1500 };

/** The acceptance query: count, mean and variance of age, education histogram, income by sex. */
const QUERY = parseStatsQuery({
  version: 1, dataset: "adult", minCount: 5, fracBits: 0,
  limits: { maxParties: 8, maxRowsPerParty: 2048 },
  measures: [
    { name: "rows", kind: "count" },
    { name: "age_mean", kind: "mean", column: "age", bounds: [17, 90] },
    { name: "age_variance", kind: "variance", column: "age", bounds: [17, 90] },
    { name: "education", kind: "histogram", column: "education" },
    { name: "income_by_sex", kind: "histogram", column: "income", groupBy: "sex" },
  ],
});

function expectMatchesPlaintext(got: StatsResult, want: StatsResult): void {
  expect(got.measures.map((m) => m.name)).toEqual(want.measures.map((m) => m.name));
  got.measures.forEach((m, i) => {
    const w = want.measures[i]!;
    expect(m.groups.length).toBe(w.groups.length);
    m.groups.forEach((g, j) => {
      const h = w.groups[j]!;
      expect(g.key).toBe(h.key);
      expect(g.suppressed).toBe(h.suppressed);
      expect(g.count).toBe(h.count); // exact
      if (h.mean !== undefined && h.mean !== null) expect(Math.abs(g.mean! - h.mean) / Math.abs(h.mean)).toBeLessThan(1e-9);
      if (h.variancePopulation !== undefined && h.variancePopulation !== null) expect(Math.abs(g.variancePopulation! - h.variancePopulation) / h.variancePopulation).toBeLessThan(1e-9);
      if (h.histogram) expect(g.histogram!.map((c) => c.count)).toEqual(h.histogram.map((c) => c.count)); // exact
    });
  });
}

describe("federated statistics end to end", () => {
  let cluster: Cluster;
  const base = async (): Promise<JobSpec> => {
    const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats.json"));
    return { ...spec, task: { ...spec.task, query: QUERY } };
  };
  const rowsOf = (nodes: NodeProcess[]): Row[] => nodes.flatMap((n) => n.slices[0]!.rows);
  const byId = (id: string) => cluster.nodes.find((n) => n.nodeId === id)!;
  const run = async (spec: JobSpec) => {
    const job = await cluster.operator.submitJob(spec);
    const lines: string[] = [];
    const final = await watchJob(cluster.operator, job.id, (s) => lines.push(s));
    const rounds = await cluster.operator.rounds(job.id);
    const { result } = await cluster.operator.result<{ stats: StatsResult; excludedNodes?: string[] }>(job.id);
    return { id: job.id, final, rounds, result, lines };
  };

  /** Stops a node; it deregisters itself on SIGTERM, and the operator removes it too in case it was too slow. */
  const retire = async (n: NodeProcess) => {
    await n.stop();
    await cluster.operator.deregister(n.nodeId).catch(() => undefined);
  };
  /** Waits until exactly `n` nodes are registered. */
  const waitRegistered = async (n: number) => {
    for (let i = 0; i < 60; i++) {
      const nodes = await cluster.operator.nodes();
      if (nodes.length === n) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`expected ${n} registered nodes`);
  };

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 5, datasets: [ADULT], livenessSeconds: 8 });
  }, 240_000);
  afterAll(async () => { await cluster?.stop(); });

  it("5 nodes answer the census query; equals plaintext over the union of their slices", async () => {
    const spec = await base();
    const { final, rounds, result, lines } = await run({ ...spec, committee: { size: 5, min: 5 } });
    expect(final.status, lines.join("\n")).toBe("completed");
    const accepted = rounds.filter((r) => r.status === "accepted");
    expect(accepted).toHaveLength(1);
    expect(new Set(accepted[0]!.committee)).toEqual(new Set(cluster.nodes.map((n) => n.nodeId)));
    const want = computePlaintext(QUERY, cluster.schemas[0]!, rowsOf(cluster.nodes));
    expectMatchesPlaintext(result.stats, want);
    expect(result.stats.parties).toBe(5);
    // The scenarios below run with 3 honest nodes plus one extra node each. Stopped nodes
    // deregister, so they are never selected again.
    for (const n of [cluster.nodes[3]!, cluster.nodes[4]!]) await retire(n);
    await waitRegistered(3);
  }, 900_000);

  it("a differentially private query (ε = 1): every node adds its own noise inside MASCOT; the result states the privacy and is within the noise of plaintext", async () => {
    const query = parseStatsQuery({
      version: 1, dataset: "adult", minCount: 0, fracBits: 0, privacy: { epsilon: 1, delta: 1e-6 },
      limits: { maxParties: 8, maxRowsPerParty: 2048 },
      measures: [
        { name: "rows", kind: "count" },
        { name: "age_mean", kind: "mean", column: "age", bounds: [17, 90] },
        { name: "education", kind: "histogram", column: "education" },
      ],
    });
    const spec = await base();
    const { final, rounds, result, lines } = await run({ ...spec, committee: { size: 3, min: 3 }, task: { ...spec.task, query } });
    expect(final.status, lines.join("\n")).toBe("completed");
    const acc = rounds.find((r) => r.status === "accepted")!;
    const want = computePlaintext({ ...query, privacy: undefined }, cluster.schemas[0]!, rowsOf(acc.committee.map(byId)));
    const p = result.stats.privacy!;
    expect(p.noisyParties).toBe(3);
    expect(p.rho).toBeLessThanOrEqual(p.rhoRequested);
    expect(p.epsilon).toBeLessThanOrEqual(1 + 1e-9);
    // Each released count is within 7 standard deviations of the released noise (3 nodes' noise, variance 3σ²) of the exact count,
    // and the counts are not all exact (with this many cells and σ ≥ 1 that happens with probability < 1e-9).
    let exact = 0, cells = 0;
    result.stats.measures.forEach((m, i) => {
      const sd = Math.sqrt(3) * m.privacy!.sigma.count;
      const gotCounts = m.groups.flatMap((g) => g.histogram ? g.histogram.map((c) => c.count ?? 0) : [g.count ?? 0]);
      const wantCounts = want.measures[i]!.groups.flatMap((g) => g.histogram ? g.histogram.map((c) => c.count ?? 0) : [g.count ?? 0]);
      gotCounts.forEach((c, j) => { cells++; if (c === wantCounts[j]) exact++; expect(Math.abs(c - wantCounts[j]!)).toBeLessThanOrEqual(7 * sd + 1); });
    });
    expect(exact).toBeLessThan(cells);
  }, 900_000);

  it("a node whose input breaks the range predicate is named and excluded; the job completes", async () => {
    const cheat = await cluster.addNode([ADULT_ROWS()], { TWOPM_FAULT: "bad-input" });
    try {
      const { final, rounds, result, lines } = await run({ ...(await base()), committee: { size: 4, min: 3 } });
      expect(final.status, lines.join("\n")).toBe("completed");
      const acc = rounds.find((r) => r.status === "accepted")!;
      const cheatIndex = acc.committee.indexOf(cheat.nodeId);
      expect(cheatIndex).toBeGreaterThanOrEqual(0);
      const outcome = await cheat.waitFor((e) => e.kind === "round-done");
      expect(outcome.excluded).toEqual([cheatIndex]);
      const honest = acc.committee.filter((id) => id !== cheat.nodeId).map(byId);
      expectMatchesPlaintext(result.stats, computePlaintext(QUERY, cluster.schemas[0]!, rowsOf(honest)));
      expect(result.stats.parties).toBe(3);
    } finally {
      await retire(cheat);
      await waitRegistered(3);
    }
  }, 900_000);

  it("a member that tampers with its share of the sum opening: the job stops with output-released and no attempt reruns the round over other inputs", async () => {
    const cheat = await cluster.addNode([ADULT_ROWS()], { TWOPM_FAULT: "tamper:open.sum" });
    try {
      const { final, rounds, lines } = await run({ ...(await base()), committee: { size: 4, min: 3 }, retryBudget: 6 });
      expect(final.status, lines.join("\n")).toBe("failed");
      expect(final.error).toMatch(/^output-released/);
      // Every sum anyone could see: only attempts that reached the opening. There is exactly one.
      expect(rounds).toHaveLength(1);
      expect(rounds[0]!.status).toBe("aborted");
      // Every member committed to its sum share before any was opened: the tampered opening
      // breaks the cheater's own commitment (docs/mascot.md "Relay round trips"). The members
      // accuse it; the relay cannot check an accusation, so it names no one.
      expect(rounds[0]!.abort!.code).toBe("commitment-mismatch");
      expect(rounds[0]!.committee).toContain(cheat.nodeId);
      expect(rounds[0]!.abort!.culprits).toEqual([]);
      expect(rounds[0]!.abort!.detail).toMatch(new RegExp(`accusing ${rounds[0]!.committee.indexOf(cheat.nodeId)}\\b`));
      // No honest member ever worked on a second attempt of the round.
      for (const id of rounds[0]!.committee.filter((c) => c !== cheat.nodeId)) {
        expect(byId(id).events.filter((e) => e.jobId === final.id && e.kind === "assignment" && e.attempt !== 0)).toEqual([]);
      }
    } finally {
      await retire(cheat);
      await waitRegistered(3);
    }
  }, 900_000);

  it("a node that tampers with a validation opening (before the sum opens) aborts the round; the job reselects and completes without it", async () => {
    const cheat = await cluster.addNode([ADULT_ROWS()], { TWOPM_FAULT: "tamper:valid.open" });
    try {
      const { final, rounds, result, lines } = await run({ ...(await base()), committee: { size: 4, min: 3 }, retryBudget: 6 });
      expect(final.status, lines.join("\n")).toBe("completed");
      const aborted = rounds.filter((r) => r.status === "aborted");
      expect(aborted.length).toBeGreaterThanOrEqual(1);
      expect(aborted.map((r) => r.abort!.code)).toContain("mac-check-failed");
      expect(aborted.every((r) => r.committee.includes(cheat.nodeId))).toBe(true); // only committees with the cheater failed
      const acc = rounds.find((r) => r.status === "accepted")!;
      expect(acc.committee).not.toContain(cheat.nodeId);
      expectMatchesPlaintext(result.stats, computePlaintext(QUERY, cluster.schemas[0]!, rowsOf(acc.committee.map(byId))));
    } finally {
      await retire(cheat);
      await waitRegistered(3);
    }
  }, 900_000);

  it("a node killed mid-round: the deadline fires, the round is retried with a new committee, nothing is counted twice", async () => {
    const victim = await cluster.addNode([ADULT_ROWS()]);
    const spec = await base();
    const job = await cluster.operator.submitJob({ ...spec, committee: { size: 4, min: 3 }, deadlines: { ...spec.deadlines, compute: 25 } });
    await victim.waitFor((e) => e.kind === "phase" && e.jobId === job.id, 300_000);
    victim.kill();
    const final = await watchJob(cluster.operator, job.id, () => undefined);
    expect(final.status).toBe("completed");
    const rounds = await cluster.operator.rounds(job.id);
    expect(rounds[0]!.status).toBe("aborted");
    expect(rounds[0]!.abort!.code).toBe("timeout");
    const accepted = rounds.filter((r) => r.status === "accepted");
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.committee).not.toContain(victim.nodeId);
    const { result } = await cluster.operator.result<{ stats: StatsResult }>(job.id);
    expectMatchesPlaintext(result.stats, computePlaintext(QUERY, cluster.schemas[0]!, rowsOf(accepted[0]!.committee.map(byId))));
  }, 900_000);

  it("bad query specs and bad data files get a clear one-line error and no partial result", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "2pm-bad-"));
    const env = { ...process.env, TWOPM_COORDINATOR: cluster.coordinator.url, TWOPM_API_TOKEN: cluster.coordinator.apiToken, TWOPM_SUBMITTER_KEY: cluster.submitterKey.file };
    const before = (await cluster.operator.jobs()).length;
    const badQuery = path.join(dir, "bad-query.json");
    writeFileSync(badQuery, JSON.stringify({ ...(await base()), task: { query: { version: 1, minCount: 5, measures: [{ kind: "mean", column: "no-such-column", bounds: [0, 1] }] }, schema: path.join(ROOT, "examples/schemas/adult.json") } }));
    let r = spawnSync(process.execPath, [BIN, "job", "submit", badQuery], { env, encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/no-such-column/);
    // The coordinator refuses it too, with problem details (not only the CLI).
    const refused = await fetch(`${cluster.coordinator.url}/v1/jobs`, { method: "POST", headers: { authorization: `Bearer ${cluster.coordinator.apiToken}`, "content-type": "application/json" }, body: JSON.stringify({ ...(await base()), task: { query: { version: 1, minCount: -1, measures: [] }, schema: {} } }) });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { code: string }).code).toBeTruthy();
    const badData = path.join(dir, "bad.csv");
    writeFileSync(badData, "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K\nnot-a-number, Private, 1, HS-grad, 9, Divorced, Sales, Unmarried, White, Female, 0, 0, 40, United-States, <=50K\n");
    const nodeDir = path.join(dir, "node");
    r = spawnSync(process.execPath, [BIN, "node", "init", "--dir", nodeDir, "--coordinator", cluster.coordinator.url, "--source", badData, "--schema", ADULT.schemaFile], { encoding: "utf8" });
    expect(r.status).toBe(0);
    r = spawnSync(process.execPath, [BIN, "node", "start", "--dir", nodeDir], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/bad\.csv:2/);
    expect((await cluster.operator.jobs()).length).toBe(before);
  }, 120_000);

  /** A fresh slice of adult rows for an extra node (rows not held by any other node). */
  function ADULT_ROWS(): Row[] {
    extra += 1;
    return EXTRA_ROWS.slice((extra - 1) * 1500, extra * 1500);
  }
  let extra = 0;
  let EXTRA_ROWS: Row[] = [];
  beforeAll(async () => {
    const { sliceDataset } = await import("../../scripts/lib/cluster.ts");
    const { all } = sliceDataset({ ...ADULT, dataFile: path.join(ROOT, "examples/data/adult-test.csv") }, 1, "extra");
    EXTRA_ROWS = all;
  });
});
