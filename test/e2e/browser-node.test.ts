/**
 * The browser node in a real browser: headless Debian Chromium (playwright-core) opens
 * GET /node/ on a real local coordinator, loads a CSV slice and its schema with the File API,
 * makes its keys in IndexedDB, registers, and takes part in a validated MASCOT statistics
 * round together with two `2pm node start` processes. The result must equal plaintext over
 * the union of the three slices; every request and WebSocket frame the page sends is recorded
 * and none may carry a row or a distinctive cell value of the browser's CSV. A screenshot goes
 * to test-artifacts/browser-node.png.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { sliceDataset, startCluster, type Cluster } from "../../scripts/lib/cluster.ts";
import { loadJobSpec, prepareSpec, watchJob } from "../../client/cli/job.ts";
import { compareWithCentral } from "../../scripts/lib/learning-compare.ts";
import type { LearningResult } from "../../protocol/jobs/learning.ts";
import type { JobSpec } from "../../protocol/api/schemas.ts";
import { fetchTrainedModel, plainLabel } from "../../client/cli/model.ts";
import { datasetFromRows } from "../../client/learning/from-schema.ts";
import { parseLearningTask } from "../../protocol/jobs/learning.ts";
import { buildPackage } from "../../client/fhe/package.ts";
import { decodeFrame } from "../../client/fhe/wire.ts";
import { loadSealNode } from "../../client/fhe/seal-node.ts";
import { CkksContext } from "../../client/fhe/context.ts";
import { EvaluationKeys } from "../../client/fhe/evaluator.ts";
import { loadDataSource } from "../../client/data/source.ts";
import { nodeFsAdapter } from "../../client/data/node-fs.ts";
import { formatCsv } from "../../examples/split.ts";
import { computePlaintext, type StatsResult } from "../../protocol/stats/engine.ts";
import { parseStatsQuery } from "../../protocol/stats/query.ts";
import type { Row } from "../../protocol/stats/schema.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ADULT = { schemaFile: path.join(ROOT, "examples/schemas/adult.json"), dataFile: path.join(ROOT, "examples/data/adult-train.csv"), maxRowsPerNode: 300 };
const WDBC = { schemaFile: path.join(ROOT, "examples/schemas/wdbc.json"), dataFile: path.join(ROOT, "examples/data/wdbc.data") };

/** Exact statistics (fracBits 0, integer ages): equal to plaintext, not merely close. */
const QUERY = parseStatsQuery({
  version: 1, dataset: "adult", minCount: 5, fracBits: 0,
  limits: { maxParties: 8, maxRowsPerParty: 1024 },
  measures: [
    { name: "rows", kind: "count" },
    { name: "age_mean", kind: "mean", column: "age", bounds: [17, 90] },
    { name: "education", kind: "histogram", column: "education" },
    { name: "income_by_sex", kind: "histogram", column: "income", groupBy: "sex" },
  ],
});

/** Bytes as a latin1 string (one char per byte), so byte strings can be searched as text. */
const latin1 = (b: Uint8Array | null): string => (b ? Buffer.from(b).toString("latin1") : "");

/** What must never appear in anything the page sends: its CSV lines and distinctive cell values. */
function secretsOf(csv: string, rows: readonly Row[]): { lines: string[]; numbers: string[]; levels: string[] } {
  const lines = csv.split("\n").filter((l) => l.length > 20);
  // fnlwgt (column 2) is a 5–7 digit census weight: distinctive per row.
  const numbers = [...new Set(rows.map((r) => r[2]).filter((v): v is number => typeof v === "number" && v >= 10_000).map(String))];
  // Categorical levels long enough not to occur by chance in ciphertext.
  const levels = [...new Set(rows.flatMap((r) => r.filter((v): v is string => typeof v === "string" && v.length >= 9)))];
  return { lines, numbers, levels };
}

/** The secrets found in `body` (text): CSV lines, levels, and fnlwgt values as whole tokens. */
function leaks(body: string, s: ReturnType<typeof secretsOf>): string[] {
  const found = [...s.lines, ...s.levels].filter((x) => body.includes(x));
  for (const n of s.numbers) if (new RegExp(`(?<![0-9A-Za-z_-])${n}(?![0-9A-Za-z_-])`).test(body)) found.push(n);
  return found;
}

describe.skipIf(!existsSync(CHROMIUM))("browser node in headless Chromium", () => {
  let cluster: Cluster;
  let browser: Browser;
  let tmp: string;
  let browserRows: Row[];
  let csvFile: string;
  let csvText: string;
  let wdbc: { browserRows: Row[]; test: Row[]; file: string };
  let page: Page;
  let learned: { jobId: string; spec: JobSpec } | undefined;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    tmp = mkdtempSync(path.join(os.tmpdir(), "2pm-browser-node-"));
    // Three disjoint slices: two for the node processes, one for the browser.
    const { schema, slices } = sliceDataset(ADULT, 3, "2pm-browser-e2e");
    browserRows = slices[2]!;
    csvText = formatCsv(schema, browserRows);
    csvFile = path.join(tmp, "hospital-c.csv");
    writeFileSync(csvFile, csvText);
    // wdbc has no test split: every 5th row is the test set, the rest is dealt three ways.
    const wAll = sliceDataset(WDBC, 1, "all").all;
    const w = sliceDataset({ ...WDBC, rows: wAll.filter((_, i) => i % 5 !== 0) }, 3, "2pm-browser-e2e");
    wdbc = { browserRows: w.slices[2]!, test: wAll.filter((_, i) => i % 5 === 0), file: path.join(tmp, "hospital-c-wdbc.csv") };
    writeFileSync(wdbc.file, formatCsv(w.schema, wdbc.browserRows));
    cluster = await startCluster({ nodes: 2, datasets: [{ ...ADULT, rows: [...slices[0]!, ...slices[1]!] }, { ...WDBC, rows: [...w.slices[0]!, ...w.slices[1]!] }], livenessSeconds: 15 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 240_000);

  /** The job's watch lines, the page's progress and the node processes' last lines (for a failed job). */
  const diagnose = async (lines: string[]): Promise<string> =>
    [...lines, "browser node:", (await page.textContent("#events").catch(() => "")) ?? "", ...cluster.nodes.map((n) => `${n.name}:\n${n.output.slice(-15).join("\n")}`)].join("\n");

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("joins from the page, takes part in a validated statistics round with two node processes, equals plaintext, and sends no row", async () => {
    page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const requests: Array<{ url: string; method: string; body: string }> = [];
    page.on("request", (r) => requests.push({ url: r.url(), method: r.method(), body: latin1(r.postDataBuffer()) }));
    const frames: string[] = [];
    page.on("websocket", (ws) => ws.on("framesent", (f) => frames.push(typeof f.payload === "string" ? f.payload : latin1(f.payload))));

    await page.goto(`${cluster.coordinator.url}/node/`);
    expect(await page.textContent("#privacy")).toMatch(/never leaves this page/);
    expect(await page.inputValue("#coordinator")).toBe(cluster.coordinator.url);

    // Schema check: a bad file is refused with line and column, then the real slice passes.
    await page.setInputFiles("#schema-file", ADULT.schemaFile);
    await page.setInputFiles("#data-file", { name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from("39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K\nforty, Private, 1, HS-grad, 9, Divorced, Sales, Unmarried, White, Female, 0, 0, 40, United-States, <=50K\n") });
    await page.waitForSelector("#check-result.err");
    expect(await page.textContent("#check-errors")).toMatch(/bad\.csv:2: column "age"/);
    await page.setInputFiles("#data-file", csvFile);
    await page.waitForSelector("#check-result.ok");
    expect(Number(await page.textContent("#row-count"))).toBe(browserRows.length);
    // The page's commitment is the one the CLI node computes for the same file.
    const cli = await loadDataSource(nodeFsAdapter(), { path: csvFile, schema: cluster.schemas[0]! });
    expect(await page.textContent("#commitment-digest")).toBe(cli.commitment.digest);

    // Keys: generated once, wrapped under a non-extractable key, the same after a reload.
    await page.click("#keys-btn");
    await page.waitForSelector("#node-id");
    const nodeId = (await page.textContent("#node-id"))!;
    expect(await page.textContent("#wrap-key")).toMatch(/non-extractable/);
    await page.reload();
    await page.waitForSelector("#node-id");
    expect(await page.textContent("#node-id")).toBe(nodeId);
    expect(await page.textContent("#keys-status")).toMatch(/loaded from this browser's IndexedDB/);
    // The stored record holds no secret in the clear and its wrapping key is not extractable.
    const stored = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((res, rej) => { const r = indexedDB.open("2pm-node"); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      const rec = await new Promise<Record<string, unknown>>((res, rej) => { const r = db.transaction("kv").objectStore("kv").get("node-keys"); r.onsuccess = () => res(r.result as Record<string, unknown>); r.onerror = () => rej(r.error); });
      const k = rec.wrapKey as CryptoKey;
      let exported = "exported";
      try { await crypto.subtle.exportKey("raw", k); } catch (e) { exported = (e as Error).name; }
      return { fields: Object.keys(rec).sort(), extractable: k.extractable, algorithm: k.algorithm.name, exported };
    });
    expect(stored).toEqual({ fields: ["identityPublicKey", "iv", "kxPublicKey", "sealed", "version", "wrapKey"], extractable: false, algorithm: "AES-GCM", exported: "InvalidAccessError" });

    // Policy: the safe defaults (statistics only), plus the cluster's submitter key.
    await page.setInputFiles("#schema-file", ADULT.schemaFile);
    await page.setInputFiles("#data-file", csvFile);
    await page.waitForSelector("#check-result.ok");
    const policy = JSON.parse(await page.inputValue("#policy")) as { submitters: string[]; jobTypes: string[]; minCommittee: number };
    expect(policy).toMatchObject({ submitters: [], jobTypes: ["stats", "learning"], minCommittee: 3 });
    await page.fill("#policy", JSON.stringify({ ...policy, submitters: [cluster.submitterKey.publicKeyB64] }, null, 2));
    await page.fill("#label", "browser-hospital");
    await page.click("#start");
    await page.waitForSelector("#node-state.ok", { timeout: 60_000 });
    expect((await cluster.operator.nodes()).map((n) => n.id)).toContain(nodeId);

    const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats-small.json"));
    const job = await cluster.operator.submitJob({ ...spec, committee: { size: 3, min: 3 }, task: { ...spec.task, query: QUERY } });
    const lines: string[] = [];
    const final = await watchJob(cluster.operator, job.id, (s) => lines.push(s));
    expect(final.status, await diagnose(lines)).toBe("completed");
    const rounds = await cluster.operator.rounds(job.id);
    const accepted = rounds.filter((r) => r.status === "accepted");
    expect(accepted).toHaveLength(1);
    expect(new Set(accepted[0]!.committee)).toEqual(new Set([nodeId, ...cluster.nodes.map((n) => n.nodeId)]));
    const { result } = await cluster.operator.result<{ stats: StatsResult }>(job.id);
    const union = [...cluster.nodes.flatMap((n) => n.slices[0]!.rows), ...browserRows];
    const want = computePlaintext(QUERY, cluster.schemas[0]!, union);
    expect(result.stats.parties).toBe(3);
    expect(result.stats.measures.map((m) => m.groups.map((g) => [g.key, g.count, g.suppressed, g.histogram?.map((c) => c.count)])))
      .toEqual(want.measures.map((m) => m.groups.map((g) => [g.key, g.count, g.suppressed, g.histogram?.map((c) => c.count)])));
    const mean = result.stats.measures.find((m) => m.name === "age_mean")!.groups[0]!.mean!;
    expect(Math.abs(mean - want.measures.find((m) => m.name === "age_mean")!.groups[0]!.mean!)).toBeLessThan(1e-9);

    // The page showed the CLI's progress and recorded the round in its IndexedDB ledger.
    await page.waitForSelector(`#rounds tr.accepted`, { timeout: 30_000 });
    const events = await page.textContent("#events");
    expect(events).toMatch(new RegExp(`${job.id} round 1 attempt 1: selected as party \\d of 3`));
    expect(events).toMatch(/local contribution ready/);
    expect(events).toMatch(/phase open\.sum/);
    expect(events).toMatch(new RegExp(`${job.id} round 1 attempt 1: accepted`));
    await page.waitForSelector(`#ledger tbody tr`);
    expect(await page.textContent("#ledger tbody")).toMatch(/output opened/);
    await page.screenshot({ path: path.join(ARTIFACTS, "browser-node.png"), fullPage: true });

    // Nothing the page sent carries a row or a distinctive cell value of its CSV.
    const secrets = secretsOf(csvText, browserRows);
    expect(secrets.lines.length).toBe(browserRows.length);
    expect(secrets.numbers.length).toBeGreaterThan(100);
    expect(requests.filter((r) => r.body.length > 0).length).toBeGreaterThan(0);
    expect(frames.length).toBeGreaterThan(10);
    for (const r of requests) expect(leaks(r.body, secrets), `${r.method} ${r.url}`).toEqual([]);
    for (const f of frames) expect(leaks(f, secrets)).toEqual([]);
    // The statistics page never fetched the learning bundle (tfjs).
    expect(requests.filter((r) => r.url.endsWith("/node/learning.js"))).toEqual([]);
    // Every request went to the coordinator that served the page.
    expect(requests.filter((r) => !r.url.startsWith(cluster.coordinator.url))).toEqual([]);
    // The recorder itself sees bodies: a row posted on purpose is caught.
    const planted = secrets.lines[7]!;
    await page.evaluate(async (body) => { await fetch("/v1/health", { method: "POST", body }).catch(() => undefined); }, planted);
    const caught = requests.filter((r) => leaks(r.body, secrets).length > 0);
    expect(caught.map((r) => r.url)).toEqual([`${cluster.coordinator.url}/v1/health`]);

    await page.click("#stop");
    await page.waitForSelector("#node-state:has-text('stopped')", { timeout: 30_000 });
    expect(errors).toEqual([]);
  }, 600_000);

  it("trains: a wdbc logistic regression with the browser node in every round (tfjs cpu, loaded on the first learning round), close to central training", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const bodies: string[] = [];
    page.on("request", (r) => bodies.push(latin1(r.postDataBuffer())));
    const scripts: string[] = [];
    page.on("response", (r) => { if (r.url().endsWith(".js")) scripts.push(`${r.status()} ${r.url()}`); });
    // Leave with the adult file, come back with the wdbc slice: the same identity, another dataset.
    await page.setInputFiles("#schema-file", WDBC.schemaFile);
    await page.setInputFiles("#data-file", wdbc.file);
    await page.waitForSelector("#check-result.ok");
    expect(Number(await page.textContent("#row-count"))).toBe(wdbc.browserRows.length);
    await page.click("#start");
    await page.waitForSelector("#node-state.ok", { timeout: 60_000 });
    const nodeId = (await page.textContent("#node-id"))!;

    const base = await loadJobSpec(path.join(ROOT, "examples/jobs/wdbc-learning.json"));
    const task = base.task as { stopping: Record<string, unknown> };
    const spec: JobSpec = await prepareSpec(cluster.operator, { ...base, committee: { size: 3, min: 3 }, maxRounds: 2, task: { ...task, stopping: { maxRounds: 2 } } }, () => undefined);
    const job = await cluster.operator.submitJob(spec);
    const lines: string[] = [];
    const final = await watchJob(cluster.operator, job.id, (s) => lines.push(s));
    expect(final.status, await diagnose(lines)).toBe("completed");
    const accepted = (await cluster.operator.rounds(job.id)).filter((r) => r.status === "accepted");
    expect(accepted.length).toBeGreaterThanOrEqual(2);
    for (const r of accepted) expect(r.committee).toContain(nodeId);
    const { result } = await cluster.operator.result<LearningResult>(job.id);
    expect(result.history.every((h) => h.parties === 3)).toBe(true);
    const cmp = await compareWithCentral(cluster.operator, job.id, spec, cluster.schemas[1]!, [...cluster.nodes.map((n) => n.slices[1]!.rows), wdbc.browserRows], wdbc.test);
    console.log(`browser wdbc: federated ${(100 * cmp.federated).toFixed(2)} % vs central ${(100 * cmp.central).toFixed(2)} % (${cmp.rounds} rounds)`);
    expect(cmp.federated).toBeGreaterThan(0.9);
    expect(Math.abs(cmp.diffPts)).toBeLessThanOrEqual(2);
    // tfjs arrived as the integrity-checked learning bundle, once.
    expect(scripts).toEqual([`200 ${cluster.coordinator.url}/node/learning.js`]);
    await page.waitForSelector(`#rounds tr.accepted >> nth=2`, { timeout: 30_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, "browser-node-learning.png"), fullPage: true });
    learned = { jobId: job.id, spec };
    const csv = readFileSync(wdbc.file, "utf8").split("\n").filter((l) => l.length > 20);
    for (const b of bodies) expect(csv.filter((l) => b.includes(l))).toEqual([]);
    expect(errors).toEqual([]);
  }, 900_000);

  it("querier page: CKKS keys made in the browser, rows encrypted there, scored by the Worker, decrypted there; equals plaintext; only public keys and ciphertexts are sent", async () => {
    expect(learned, "needs the learning test's model").toBeDefined();
    const { jobId, spec } = learned!;
    const m = await fetchTrainedModel(cluster.operator, jobId);
    const modelId = `browser-${jobId.replace(/[^A-Za-z0-9._-]/g, "_")}`.slice(0, 64);
    const pkg = await buildPackage(m.dense, { modelId });
    await cluster.operator.putFhePackage(modelId, pkg);
    // Raw features of test rows no node holds (the package carries the standardisation).
    const ds = datasetFromRows(cluster.schemas[1]!, wdbc.test.slice(0, 12), parseLearningTask(spec.task).job.model.preprocessing!);
    const x: number[][] = [];
    for (let i = 0; i < ds.n; i++) x.push(Array.from(ds.x.subarray(i * ds.d, (i + 1) * ds.d)));

    // A coordinator (or anything in the path) serving other WebAssembly is refused before any key is made.
    const evil = await browser.newPage();
    await evil.route("**/querier/seal.wasm", async (route) => {
      const body = Buffer.from(await (await route.fetch()).body());
      body[body.length - 1]! ^= 1;
      await route.fulfill({ status: 200, contentType: "application/wasm", body });
    });
    const evilSent: string[] = [];
    evil.on("request", (r) => evilSent.push(`${r.method()} ${r.url()}`));
    await evil.goto(`${cluster.coordinator.url}/querier/`);
    await evil.fill("#model-id", modelId);
    await evil.click("#load-model");
    await evil.waitForSelector("#model-loaded");
    await evil.fill("#rows", x.map((r) => r.join(",")).join("\n"));
    await evil.fill("#token", cluster.coordinator.apiToken);
    await evil.click("#run");
    await evil.waitForSelector("#q-status .err");
    expect(await evil.textContent("#q-status .err")).toMatch(/does not match the page's pinned hash/);
    expect(evilSent.filter((r) => r.startsWith("POST"))).toEqual([]);
    await evil.close();

    const q = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    q.on("pageerror", (e) => errors.push(e.message));
    const sent: Array<{ url: string; method: string; body: Buffer }> = [];
    q.on("request", (r) => sent.push({ url: r.url(), method: r.method(), body: Buffer.from(r.postDataBuffer() ?? []) }));
    await q.goto(`${cluster.coordinator.url}/querier/`);
    expect(await q.textContent("#privacy")).toMatch(/secret key never leave this page/);
    await q.fill("#model-id", modelId);
    await q.click("#load-model");
    await q.waitForSelector("#model-loaded");
    expect(await q.textContent("#model-hash")).toBe(pkg.hash);
    await q.fill("#rows", x.map((r) => r.join(",")).join("\n"));
    await q.fill("#token", cluster.coordinator.apiToken);
    await q.click("#run");
    await q.waitForSelector(`#results[data-count="${x.length}"]`, { timeout: 120_000 });
    const labels = (await q.locator("#results td.label").allTextContents()).map(Number);
    expect(labels).toEqual(x.map((row) => plainLabel(m.dense, row)));
    await q.screenshot({ path: path.join(ARTIFACTS, "browser-querier.png"), fullPage: true });

    // What went out: the package read, the SEAL WebAssembly, one key upload, inference, key release.
    const base = cluster.coordinator.url;
    expect(sent.every((r) => r.url.startsWith(base))).toBe(true);
    const uploads = sent.filter((r) => r.method === "POST" && r.url === `${base}/v1/models/${modelId}/keys`);
    expect(uploads).toHaveLength(1);
    const frame = decodeFrame(uploads[0]!.body, { maxParts: 8, maxPartBytes: 64 * 2 ** 20 });
    const kinds = (frame.header as { kinds: string[] }).kinds;
    expect(kinds.every((k) => k === "relin" || k === "galois")).toBe(true);
    // Each uploaded part is the public evaluation key it claims to be (a secret key would not load as one).
    const ctx = CkksContext.get(await loadSealNode(), pkg.ckks);
    const keys = EvaluationKeys.load(ctx, Object.fromEntries(kinds.map((k, i) => [k, frame.parts[i]!])));
    keys.dispose();
    expect(sent.filter((r) => r.method === "POST" && r.url.endsWith("/infer"))).toHaveLength(1);
    expect(sent.filter((r) => r.method === "DELETE" && r.url.includes("/keys/"))).toHaveLength(1);
    expect(sent.filter((r) => r.method === "POST").map((r) => r.url.split("/").pop()).sort()).toEqual(["infer", "keys"]);
    // No request carries a feature value in the clear.
    for (const r of sent) {
      const text = latin1(r.body);
      expect(x.flat().filter((v) => String(v).length >= 5 && text.includes(String(v))), r.url).toEqual([]);
    }
    expect(errors).toEqual([]);
  }, 300_000);
});
