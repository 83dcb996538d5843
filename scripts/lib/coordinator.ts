/**
 * Starts a real local coordinator: D1 migrations applied with wrangler, then `wrangler dev`
 * (workerd with local D1, R2 and Durable Objects) on a free loopback port. Used by the
 * end-to-end tests, the demo and the benchmarks.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const QUIET_ENV = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" };

export interface LocalCoordinator {
  url: string;
  apiToken: string;
  persistDir: string;
  /** Lines the coordinator printed (for diagnosing a failed test). */
  log: string[];
  stop(): Promise<void>;
}

export interface StartOptions {
  apiToken: string;
  /** Coordinator signing key (hex 32 bytes); a fresh one if omitted. */
  signingKeyHex?: string;
  port?: number;
  persistDir?: string;
  keepState?: boolean;
  /** Extra `--var NAME:value` bindings. */
  vars?: Record<string, string>;
}

/** Finds a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Applies migrations and starts `wrangler dev`; resolves once GET /v1/health answers.
 * Throws with the coordinator's last output lines if it does not come up within 60 s.
 */
export async function startCoordinator(opts: StartOptions): Promise<LocalCoordinator> {
  const persistDir = opts.persistDir ?? mkdtempSync(path.join(os.tmpdir(), "2pm-coord-"));
  const env = { ...process.env, ...QUIET_ENV };
  const mig = spawnSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], { cwd: ROOT, env, encoding: "utf8" });
  if (mig.status !== 0) throw new Error(`D1 migrations failed: ${(mig.stderr || mig.stdout).split("\n").slice(-5).join(" ")}`);
  const port = opts.port ?? (await freePort());
  const vars: Record<string, string> = { API_TOKEN: opts.apiToken, ...(opts.signingKeyHex ? { COORDINATOR_SIGNING_KEY: opts.signingKeyHex } : {}), ...opts.vars };
  const args = [WRANGLER, "dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persistDir, "--show-interactive-dev-session=false", "--inspector-port", "0"];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const log: string[] = [];
  const onData = (b: Buffer) => { for (const l of b.toString().split("\n")) if (l.trim()) { log.push(l); if (log.length > 400) log.shift(); } };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      try { process.kill(-child.pid!, "SIGTERM"); } catch { /* already gone */ }
      await new Promise<void>((r) => { const t = setTimeout(() => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ } r(); }, 3000); child.once("exit", () => { clearTimeout(t); r(); }); });
    }
    if (!opts.keepState && !opts.persistDir) rmSync(persistDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const r = await fetch(`${url}/v1/health`);
      if (r.ok) return { url, apiToken: opts.apiToken, persistDir, log, stop };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`local coordinator did not start: ${log.slice(-8).join(" | ")}`);
}
