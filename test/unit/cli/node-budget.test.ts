/**
 * `2pm node budget`: per dataset ρ spent / cap / remaining (and ε at δ), non-private releases,
 * and per-job entries, from the node's own verified ledger; `--json`; a tampered ledger or a
 * ledger signed by another key is an error, not an empty budget.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { nodeInit } from "../../../client/cli/node-init.ts";
import { nodeBudget, type BudgetReport } from "../../../client/cli/node-budget.ts";
import { fileLedgerStore } from "../../../client/cli/node-start.ts";
import { CliError, UsageError } from "../../../client/cli/errors.ts";
import { Ledger } from "../../../client/agent/ledger.ts";
import { FileKeyStore } from "../../../client/agent/node-key-store.ts";
import { generateNodeKeys } from "../../../protocol/crypto/identity.ts";
import { epsilonOf, rhoFor } from "../../../protocol/dp/zcdp.ts";
import { toBase64Url } from "../../../protocol/encoding.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "2pm-budget-"));
const dir = path.join(tmp, "node");
const DAY = 86_400_000;
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const log = vi.spyOn(console, "log").mockImplementation(() => {});

async function output(args: string[]): Promise<string> {
  log.mockClear();
  expect(await nodeBudget(["--dir", dir, ...args])).toBe(0);
  return log.mock.calls.map((c) => String(c[0])).join("\n");
}

beforeAll(async () => {
  await nodeInit(["--dir", dir, "--coordinator", "http://127.0.0.1:8787", "--source", path.join(ROOT, "examples/data/adult-test.csv"), "--schema", path.join(ROOT, "examples/schemas/adult.json")]);
  const cfgFile = path.join(dir, "node.json");
  const cfg = JSON.parse(readFileSync(cfgFile, "utf8")) as { policy: Record<string, unknown> };
  cfg.policy = { ...cfg.policy, privacy: { rho: 1, windowDays: 30, datasets: { wdbc: { rho: 0.5, allowNonPrivate: true } } } };
  writeFileSync(cfgFile, JSON.stringify(cfg));
  const keys = (await new FileKeyStore(path.join(dir, "keys.json")).load())!;
  const l = await Ledger.open(fileLedgerStore(path.join(dir, "ledger.json")), { signingKey: keys.identitySecretKey });
  const now = Date.now();
  const join = async (jobId: string, schemaId: string, round: number, attempt: number, rho: number | null, privacy: { rho: number } | { epsilon: number; delta: number } | null, at: number) => {
    l.admit({ jobId, round, attempt, schemaId, rho, privacy });
    await l.join(jobId, schemaId, round, attempt, ["a", "b", "c"], at);
  };
  await join("stats-1", "adult", 0, 0, 0.25, { rho: 0.25 }, now - 2 * DAY);
  await l.settle("stats-1", 0, 0, true);
  await join("stats-2", "adult", 0, 0, rhoFor(0.5, 1e-6), { epsilon: 0.5, delta: 1e-6 }, now - DAY);
  await l.settle("stats-2", 0, 0, false); // aborted before release: not counted
  await join("stats-2", "adult", 0, 1, rhoFor(0.5, 1e-6), { epsilon: 0.5, delta: 1e-6 }, now - DAY); // unknown: counted
  await join("old", "adult", 0, 0, 0.5, { rho: 0.5 }, now - 40 * DAY); // outside the 30-day window
  await l.settle("old", 0, 0, true);
  await join("learn-1", "wdbc", 0, 0, 0.1, { rho: 0.2 }, now);
  await join("learn-1", "wdbc", 1, 0, 0.1, { rho: 0.2 }, now);
  await join("plain", "wdbc", 0, 0, null, null, now);
});

describe("2pm node budget", () => {
  it("prints ρ spent / cap / remaining and ε at δ per dataset, then every job with its attempts", async () => {
    const text = await output([]);
    const adultSpent = 0.25 + rhoFor(0.5, 1e-6);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^ledger: 10 entries, hash chain verified, signed by this node's key /);
    const adult = lines.find((x) => x.startsWith("adult:"))!;
    expect(adult).toContain(`ρ ${Number(adultSpent.toPrecision(4))} spent of 1 in the last 30 days, ${Number((1 - adultSpent).toPrecision(4))} left`);
    expect(adult).toContain(`ε at δ = 1e-6: ${Number(epsilonOf(adultSpent, 1e-6).toPrecision(4))} spent of ${Number(epsilonOf(1, 1e-6).toPrecision(4))}`);
    expect(adult).toContain("2 private releases");
    expect(adult).toContain("non-private jobs declined");
    const wdbc = lines.find((x) => x.startsWith("wdbc:"))!;
    expect(wdbc).toContain("ρ 0.2 spent of 0.5 in the last 30 days, 0.3 left");
    expect(wdbc).toContain("1 non-private release (not covered by ρ)");
    expect(text).toMatch(/ {2}stats-2 \(adult, .*\): ε 0\.5, δ 1e-6 \(ρ [0-9.]+\), spent ρ [0-9.]+: r1\.1 ρ [0-9.]+ nothing released \(not counted\), r1\.2 ρ [0-9.]+ unknown \(counts as released\)/);
    expect(text).toMatch(/ {2}learn-1 \(wdbc, .*\): ρ 0\.2, spent ρ 0\.2: r1\.1 ρ 0\.1 unknown \(counts as released\), r2\.1 ρ 0\.1 unknown \(counts as released\)/);
    expect(text).toMatch(/ {2}plain \(wdbc, .*\): non-private: r1\.1 non-private unknown \(counts as released\)/);
  });

  it("--json: the same figures, machine-readable; --delta changes ε only", async () => {
    const r = JSON.parse(await output(["--json", "--delta", "1e-9"])) as BudgetReport;
    expect(r.delta).toBe(1e-9);
    expect(r.ledger).toMatchObject({ entries: 10, signedByThisNode: true });
    const adult = r.datasets.find((d) => d.schemaId === "adult")!;
    expect(adult.budget).toEqual({ rho: 1, windowDays: 30, allowNonPrivate: false });
    expect(adult.spent.rho).toBeCloseTo(0.25 + rhoFor(0.5, 1e-6), 12);
    expect(adult.spent.epsilon).toBeCloseTo(epsilonOf(adult.spent.rho, 1e-9), 12);
    expect(adult.remaining!.rho).toBeCloseTo(1 - adult.spent.rho, 12);
    expect(r.datasets.find((d) => d.schemaId === "wdbc")).toMatchObject({ privateReleases: 2, nonPrivateReleases: 1, cap: { rho: 0.5 } });
    const s2 = r.jobs.find((j) => j.jobId === "stats-2")!;
    expect(s2.jobRho).toBe(rhoFor(0.5, 1e-6));
    expect(s2.attempts.map((a) => a.counted)).toEqual([false, true]);
    expect(r.jobs.find((j) => j.jobId === "old")!.spentRho).toBe(0.5); // the job's own spend; outside the window for the dataset
  });

  it("a tampered ledger is an error naming the problem; so is one signed by another key; a bad --delta is a usage error", async () => {
    const file = path.join(dir, "ledger.json");
    const good = readFileSync(file, "utf8");
    try {
      const f = JSON.parse(good) as { entries: Array<{ body: { rho?: number } }> };
      f.entries[0]!.body.rho = 0.01;
      writeFileSync(file, JSON.stringify(f));
      await expect(nodeBudget(["--dir", dir])).rejects.toThrow(CliError);
      await expect(nodeBudget(["--dir", dir])).rejects.toThrow(/ledger\.json: ledger: entry 0: content does not match its hash/);
      const stranger = generateNodeKeys();
      const g = JSON.parse(good) as { key: string };
      g.key = toBase64Url(stranger.identityPublicKey);
      writeFileSync(file, JSON.stringify(g));
      await expect(nodeBudget(["--dir", dir])).rejects.toThrow(/not by this node's key/);
    } finally {
      writeFileSync(file, good);
    }
    await expect(nodeBudget(["--dir", dir, "--delta", "2"])).rejects.toThrow(UsageError);
    await expect(nodeBudget(["--dir", path.join(tmp, "none")])).rejects.toThrow(/node\.json/);
  });
});
