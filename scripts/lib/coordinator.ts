/**
 * Starts a real local coordinator: the Worker bundled by wrangler (`wrangler deploy
 * --dry-run`), D1 migrations applied by wrangler, then the bundle served by Miniflare
 * (workerd with local D1, R2 and SQLite-backed Durable Objects) on a free loopback port.
 * Used by the end-to-end tests, the demo and the benchmarks.
 *
 * Why Miniflare and not `wrangler dev`: `wrangler dev` puts its own ProxyWorker in front of
 * the Worker and treats any network error on a proxied request (for example a node closing
 * its relay WebSocket while a frame is in flight) as fatal, and exits. Under 5-party MASCOT
 * relay traffic that happened within seconds. Miniflare serves the same bundle with the same
 * bindings and persistence layout (`<persistDir>/v3`, as `wrangler dev --persist-to`) without
 * that proxy. `npm run dev` still uses `wrangler dev` for interactive work.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { toHex } from "../../protocol/encoding.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const QUIET_ENV = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1", CI: "true" };
const MAX_LOG_LINES = 2000;

export interface LocalCoordinator {
  url: string;
  apiToken: string;
  /** Hex seed of the log-signing key this coordinator was started with. */
  signingKeyHex: string;
  persistDir: string;
  /** Lines the coordinator printed (for diagnosing a failed test). */
  log: string[];
  /**
   * Stops the coordinator as a crash would (the Miniflare instance is disposed without any
   * goodbye to the nodes), then serves the same bundle again on the same port with the same
   * persisted state and signing key; resolves once GET /v1/health answers again. `downMs`:
   * how long the port stays closed in between (refused connections). Throws if it does not
   * come back within 60 s.
   */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  apiToken: string;
  /**
   * Coordinator log-signing key (hex 32 bytes); a fresh random one per start if omitted, so
   * nothing outside `npm run dev` / the workerd tests ever signs with the public development key
   * (the Worker refuses to sign at all without a key: functions/keys.ts).
   */
  signingKeyHex?: string;
  port?: number;
  persistDir?: string;
  keepState?: boolean;
  /** Extra plain-text bindings (override wrangler.toml `[vars]`). */
  vars?: Record<string, string>;
  /** Log each HTTP request (default false: the relay would flood the log). */
  logRequests?: boolean;
  /** Opens workerd's V8 inspector on this loopback port (for CPU profiles of the coordinator; off by default). */
  inspectorPort?: number;
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

function runWrangler(args: string[], what: string): void {
  const r = spawnSync(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env: { ...process.env, ...QUIET_ENV }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${what} failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join(" ")}`);
}

/** Captures Miniflare's own log lines into a bounded array instead of the console. */
class CapturingLog extends Log {
  constructor(private readonly lines: string[]) { super(LogLevel.INFO); }
  protected override log(message: string): void { push(this.lines, message); }
}

function push(lines: string[], text: string): void {
  for (const l of text.split("\n")) {
    if (!l.trim()) continue;
    lines.push(l);
    if (lines.length > MAX_LOG_LINES) lines.shift();
  }
}

/**
 * Bundles the Worker, applies migrations and starts Miniflare; resolves once GET /v1/health
 * answers. Throws with the coordinator's last output lines if it does not come up within 60 s.
 */
export async function startCoordinator(opts: StartOptions): Promise<LocalCoordinator> {
  const persistDir = opts.persistDir ?? mkdtempSync(path.join(os.tmpdir(), "2pm-coord-"));
  const bundleDir = mkdtempSync(path.join(os.tmpdir(), "2pm-bundle-"));
  // wrangler.toml → Miniflare worker options (bindings, DO classes with SQLite, D1, R2, vars), as vitest-pool-workers does.
  const workerOptions = unstable_getMiniflareWorkerOptions(path.join(ROOT, "wrangler.toml")).workerOptions as unknown as V4WorkerOptions;
  runWrangler(["deploy", "--dry-run", "--outdir", bundleDir], "bundling the Worker");
  runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], "D1 migrations");
  const wasm = readdirSync(bundleDir).filter((f) => f.endsWith(".wasm"));
  // Clients reach the Worker on a direct workerd socket, as on Cloudflare: Miniflare's own
  // entry worker (on `entryPort`, unused by clients) would otherwise sit in front of it and
  // negotiate permessage-deflate on every relay WebSocket despite the Worker's
  // `no_web_socket_compression` flag, compressing ciphertext at the nodes' and the
  // coordinator's expense (measured: 0.85 → 0.50 s of coordinator CPU per wdbc round).
  const port = opts.port || (await freePort()); // 0 = any free port (the direct socket needs a known one)
  const entryPort = await freePort();
  const log: string[] = [];
  const signingKeyHex = opts.signingKeyHex ?? toHex(crypto.getRandomValues(new Uint8Array(32)));
  const bindings: Record<string, string> = { ...(workerOptions.bindings as Record<string, string>), API_TOKEN: opts.apiToken, ...opts.vars, COORDINATOR_SIGNING_KEY: signingKeyHex };
  delete bindings.DEV_INSECURE_SIGNING_KEY; // never the public development key here
  // Miniflare 5 takes a new config shape; the v4 shape (what wrangler builds) is converted.
  const options = convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: entryPort,
    log: new CapturingLog(log),
    logRequests: opts.logRequests ?? false,
    ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort, inspectorHost: "127.0.0.1" } : {}),
    handleStructuredLogs: ({ level, message }) => push(log, `[${level}] ${message}`),
    resourcePersistencePath: path.join(persistDir, "v3"),
    workers: [{
      ...workerOptions,
      name: "twopm-coordinator",
      modulesRoot: bundleDir,
      modules: [
        { type: "ESModule", path: path.join(bundleDir, "index.js") },
        ...wasm.map((f) => ({ type: "CompiledWasm" as const, path: path.join(bundleDir, f) })),
      ],
      bindings,
      unsafeDirectSockets: [{ host: "127.0.0.1", port }],
    }],
  });
  let mf = new Miniflare(options);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try { await mf.dispose(); } catch (e) { push(log, `dispose: ${(e as Error).message}`); }
    rmSync(bundleDir, { recursive: true, force: true });
    if (!opts.keepState && !opts.persistDir) rmSync(persistDir, { recursive: true, force: true });
  };
  const healthy = async (url: string): Promise<boolean> => {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        const r = await fetch(`${url}/v1/health`);
        if (r.ok) return true;
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  };
  try {
    await mf.ready;
    const url = `http://127.0.0.1:${port}`;
    const restart = async (downMs = 0): Promise<void> => {
      if (stopped) throw new Error("the coordinator was stopped");
      await mf.dispose();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      mf = new Miniflare(options);
      await mf.ready;
      if (!(await healthy(url))) throw new Error(`local coordinator did not come back: ${log.slice(-8).join(" | ")}`);
    };
    if (await healthy(url)) return { url, apiToken: opts.apiToken, signingKeyHex, persistDir, log, restart, stop };
  } catch (e) {
    push(log, (e as Error).message);
  }
  await stop();
  throw new Error(`local coordinator did not start: ${log.slice(-8).join(" | ")}`);
}
