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
import { loadJobSpec, prepareSpec, watchJob } from "../../client/cli/job.ts";

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

  it("a learning job's metric charts: titled axes, the models' numbers on the x axis, the final model evaluated, no overlapping labels", async () => {
    // 2 rounds (linear-only keeps it short) and the evaluation-only round of the final model.
    const loaded = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-learning.json"));
    const task = loaded.task as Record<string, unknown> & { aggregation: Record<string, unknown>; stopping: Record<string, unknown> };
    const lines: string[] = [];
    const spec = await prepareSpec(cluster.operator, {
      ...loaded, mode: "linear-only", maxRounds: 2, committee: { size: 3, min: 3 },
      task: { ...task, stopping: { maxRounds: 2 }, aggregation: { ...task.aggregation, mode: "linear-only", maxSamplesPerNode: 300 } },
    }, (l) => lines.push(l)).catch((e: Error) => { throw new Error(`${e.message}\n${lines.join("\n")}\n${cluster.coordinator.log.slice(-30).join("\n")}`); });
    const { id } = await cluster.operator.submitJob(spec);
    const final = await watchJob(cluster.operator, id, (l) => lines.push(l));
    expect(final.status, [...lines, ...cluster.coordinator.log.slice(-30)].join("\n")).toBe("completed");
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${cluster.coordinator.url}/dashboard#job=${id}`);
    await page.fill("#token", cluster.coordinator.apiToken);
    await page.click("#login-form button");
    await page.waitForSelector(`svg.chart[data-metric="loss"]`, { timeout: 30_000 });
    expect(await page.textContent("#job-where")).toMatch(/2 of 2 rounds/);
    for (const metric of ["accuracy", "loss"]) {
      const chart = `svg.chart[data-metric="${metric}"]`;
      expect(await page.locator(`${chart} text.x-tick`).allTextContents()).toEqual(["0", "1", "2"]); // model 2, the final one, evaluated
      expect(await page.locator(`${chart} text.axis-title`).allTextContents()).toEqual(["model after k rounds (k)", metric]);
      // every label inside the chart and no two overlapping, as the browser laid them out
      const boxes = await page.$$eval(`${chart} text`, (ts) => ts.map((t) => { const r = t.getBoundingClientRect(); return { x0: r.left, x1: r.right, y0: r.top, y1: r.bottom, text: t.textContent }; }));
      const frame = (await page.locator(chart).boundingBox())!;
      for (const b of boxes) {
        expect(b.x0, b.text!).toBeGreaterThanOrEqual(frame.x - 0.5);
        expect(b.x1, b.text!).toBeLessThanOrEqual(frame.x + frame.width + 0.5);
      }
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!, c = boxes[j]!;
        expect(a.x0 < c.x1 - 0.5 && c.x0 < a.x1 - 0.5 && a.y0 < c.y1 - 0.5 && c.y0 < a.y1 - 0.5, `${a.text} / ${c.text}`).toBe(false);
      }
    }
    const [acc, loss] = await Promise.all([page.locator(`svg.chart[data-metric="accuracy"]`).boundingBox(), page.locator(`svg.chart[data-metric="loss"]`).boundingBox()]);
    expect(acc!.x + acc!.width <= loss!.x || loss!.y >= acc!.y + acc!.height).toBe(true); // the two charts do not overlap
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-learning.png"), fullPage: true });
    expect(errors).toEqual([]);
  }, 900_000);
});
