/**
 * `npm run coordinator`: the standalone local coordinator (scripts/coordinator.ts) as a user
 * starts it. It prints its URL and token, keeps its state and secrets in its directory, and
 * after a restart the same token works and a job submitted before is still there.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadJobSpec } from "../../client/cli/job.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const dir = mkdtempSync(path.join(os.tmpdir(), "2pm-coord-cli-"));
const running: ChildProcess[] = [];

/** Starts the command; resolves with the printed URL and token once it has printed the export line. */
function start(args: string[]): Promise<{ proc: ChildProcess; url: string; token: string; out: string[] }> {
  const proc = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "coordinator.ts"), ...args], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" } });
  running.push(proc);
  const out: string[] = [];
  return new Promise((resolve, reject) => {
    let url = "", token = "";
    const timer = setTimeout(() => reject(new Error(`coordinator did not start: ${out.join("")}`)), 120_000);
    const on = (b: Buffer): void => {
      out.push(b.toString());
      const text = out.join("");
      url = /listening on (\S+)/.exec(text)?.[1] ?? url;
      token = /API token (\S+)/.exec(text)?.[1] ?? token;
      // The export line is printed last; the output may arrive in several chunks.
      if (url && token && /TWOPM_API_TOKEN=\S+\n/.test(text)) { clearTimeout(timer); resolve({ proc, url, token, out }); }
    };
    proc.stdout!.on("data", on);
    proc.stderr!.on("data", on);
    proc.on("exit", (code) => { clearTimeout(timer); if (!url || !token) reject(new Error(`exited ${code}: ${out.join("")}`)); });
  });
}

function stop(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => { proc.once("exit", (code) => resolve(code)); proc.kill("SIGINT"); });
}

afterAll(() => {
  for (const p of running) if (p.exitCode === null) p.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("npm run coordinator", () => {
  it("prints URL and token, keeps state and secrets across a restart", async () => {
    const a = await start(["--dir", dir, "--port", "0"]);
    expect(a.out.join("")).toMatch(/export TWOPM_COORDINATOR=http:\/\/127\.0\.0\.1:\d+ TWOPM_API_TOKEN=/);
    expect(statSync(path.join(dir, "secrets.json")).mode & 0o077).toBe(0);
    const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats-small.json"));
    const posted = await fetch(`${a.url}/v1/jobs`, { method: "POST", headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" }, body: JSON.stringify(spec) });
    expect(posted.status).toBe(201);
    const { job } = (await posted.json()) as { job: { id: string } };
    expect([0, 130]).toContain(await stop(a.proc)); // Miniflare's own SIGINT hook exits 130 after disposing

    const b = await start(["--dir", dir, "--port", "0"]);
    expect(b.token).toBe(a.token);
    expect(b.out.join("")).toMatch(/existing state/);
    const got = await fetch(`${b.url}/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${b.token}` } });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { job: { id: string } }).job.id).toBe(job.id);
    const denied = await fetch(`${b.url}/v1/jobs/${job.id}`, { headers: { authorization: "Bearer wrong-token-wrong-token" } });
    expect(denied.status).toBe(401);
    // 2pm job cancel against it, as a user would.
    const cancel = spawnSync(process.execPath, [path.join(ROOT, "client/cli/bin.mjs"), "job", "cancel", job.id], { cwd: ROOT, encoding: "utf8", env: { ...process.env, TWOPM_COORDINATOR: b.url, TWOPM_API_TOKEN: b.token } });
    expect(cancel.status, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(new RegExp(`job ${job.id}: cancelled`));
    const after = await fetch(`${b.url}/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${b.token}` } });
    expect(((await after.json()) as { job: { status: string } }).job.status).toBe("cancelled");
    expect([0, 130]).toContain(await stop(b.proc));
  }, 240_000);

  it("a bad option is one line on stderr and exit 2", async () => {
    const proc = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "coordinator.ts"), "--port", "http"], { cwd: ROOT });
    let err = "";
    proc.stderr!.on("data", (b: Buffer) => { err += b.toString(); });
    const code = await new Promise<number | null>((r) => proc.on("exit", r));
    expect(code).toBe(2);
    expect(err.trim().split("\n")).toHaveLength(1);
    expect(err).toMatch(/--port must be an integer/);
  });
});
