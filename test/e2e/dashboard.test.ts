/**
 * The dashboard in a real browser: headless Debian Chromium driven by playwright-core,
 * against a real local coordinator with a job that ran on real node processes. Screenshots
 * go to test-artifacts/ as evidence.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { startCluster, type Cluster } from "../../scripts/lib/cluster.ts";
import { loadJobSpec, watchJob } from "../../client/cli/job.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe.skipIf(!existsSync(CHROMIUM))("dashboard in headless Chromium", () => {
  let cluster: Cluster;
  let browser: Browser;
  let jobId = "";

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = await startCluster({
      nodes: 3,
      datasets: [{ schemaFile: path.join(ROOT, "examples/schemas/adult.json"), dataFile: path.join(ROOT, "examples/data/adult-train.csv"), maxRowsPerNode: 300 }],
    });
    const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats-small.json"));
    ({ id: jobId } = await cluster.operator.submitJob(spec));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it("signs in, lists nodes and the job, shows its timeline and result, and verifies the log", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${cluster.coordinator.url}/dashboard`);
    await page.fill("#token", "wrong-token");
    await page.click("#login-form button");
    await page.waitForSelector("#login-msg:has-text('refused')");
    await page.fill("#token", cluster.coordinator.apiToken);
    await page.click("#login-form button");
    await page.waitForSelector("#nodes tbody tr");
    expect(await page.locator("#nodes tbody tr").count()).toBe(3);
    await page.waitForSelector(`tr.job[data-job="${jobId}"]`);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-running.png"), fullPage: true });
    const final = await watchJob(cluster.operator, jobId, () => undefined);
    expect(final.status).toBe("completed");
    await page.click(`tr.job[data-job="${jobId}"]`);
    await page.waitForSelector("#job-status.completed", { timeout: 15_000 });
    await page.waitForSelector("#log-status.completed", { timeout: 15_000 });
    expect(await page.textContent("#log-status")).toMatch(/hash chain intact/);
    expect(await page.locator("svg.histogram").count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-completed.png"), fullPage: true });
    expect(errors).toEqual([]);
  }, 600_000);
});
