// `wrangler deploy --dry-run` must succeed offline: the Worker bundles with its Durable
// Objects, D1 and R2 bindings, and nothing in the bundle needs the network.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../../..");
const out = mkdtempSync(path.join(tmpdir(), "2pm-dry-run-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it("wrangler deploy --dry-run succeeds and lists the bindings", async () => {
  const wrangler = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
  const { stdout, stderr } = await run(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", out], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true", NO_COLOR: "1" },
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const text = stdout + stderr;
  expect(text).toMatch(/--dry-run: exiting now/);
  for (const b of ["JOB_DO", "ROUND_DO", "DB", "MODELS"]) expect(text).toContain(b);
  const files = readdirSync(out);
  expect(files.some((f) => f.endsWith(".js"))).toBe(true);
  const bundle = files.filter((f) => f.endsWith(".js")).map((f) => statSync(path.join(out, f)).size).reduce((a, b) => a + b, 0);
  expect(bundle).toBeGreaterThan(1000);
}, 150_000);
