/**
 * `npx tsx bench/coordinator-profile.ts [--nodes 1000] [--heartbeats 3] [--concurrency 32] [--top 40] [--out DIR] [--perf]`
 *
 * Where the local coordinator's CPU goes per signed registration and per signed heartbeat: starts
 * the coordinator (scripts/lib/coordinator.ts) with workerd's V8 inspector open, and takes one
 * CPU profile of the Worker's isolate (which also runs its Durable Objects) over the Chrome
 * DevTools Protocol (`Profiler.enable/start/stop`) for each phase of the registry load of
 * `bench -- coordinator` (bench/coordinator-load.ts: N registrations, then N × heartbeats). Prints
 * per phase the workerd CPU per request (/proc), the top functions by self time and the inclusive
 * time of named steps (signature check, body parsing, shard call, …) per request; writes the raw
 * `.cpuprofile` files (Chrome DevTools can open them) to `--out` if given.
 *
 * `--perf`: instead of the V8 profile, a native one of the whole workerd process with Linux
 * `perf` (bench/coordinator-perf.ts): CPU per request by category (Ed25519, SQLite statements,
 * commit and fsync, DO RPC, HTTP, GC, JavaScript, kernel), which the V8 profile cannot separate.
 *
 * The load generator runs in this process (a profile is of workerd only; its CPU is not counted).
 * Self time of a native call (WebCrypto, SQLite) is the JS function that made it; time outside
 * JavaScript (HTTP parsing, the DO RPC transport, the storage commit) is `(program)`/`(idle)`.
 */
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { toHex } from "../protocol/encoding.ts";
import { randomBytes } from "node:crypto";
import { startCoordinator, freePort } from "../scripts/lib/coordinator.ts";
import { pool, signedHeaders, simNode, type RawHttp, type SimNode } from "./coordinator-load.ts";
import { readdirSync, readFileSync } from "node:fs";
import { workerdPids } from "./proc.ts";
import { strArg as arg } from "./args.ts";
import { startPerf } from "./coordinator-perf.ts";
import os from "node:os";

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/** A minimal CDP client over the inspector WebSocket: `send` resolves with the method's result, rejects with its error. */
async function cdp(wsUrl: string): Promise<{ send(method: string, params?: object): Promise<any>; close(): void }> {
  const ws = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => { ws.onopen = () => resolve(); ws.onerror = () => reject(new Error(`inspector: cannot connect to ${wsUrl}`)); });
  let next = 1;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  ws.onmessage = (ev) => {
    const m = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const w = m.id !== undefined ? waiting.get(m.id) : undefined;
    if (!w) return;
    waiting.delete(m.id!);
    if (m.error) w.reject(new Error(m.error.message)); else w.resolve(m.result);
  };
  return {
    send: (method, params = {}) => new Promise((resolve, reject) => { const id = next++; waiting.set(id, { resolve, reject }); ws.send(JSON.stringify({ id, method, params })); }),
    close: () => ws.close(),
  };
}

/** CPU seconds of the given processes: user, system, and per thread name (`comm`), from /proc/<pid>/task. */
function threadCpu(pids: number[]): { total: number; user: number; sys: number; threads: Map<string, number> } {
  let user = 0, sys = 0;
  const threads = new Map<string, number>();
  for (const pid of pids) {
    let tids: string[] = [];
    try { tids = readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) {
      try {
        const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const name = st.slice(st.indexOf("(") + 1, st.lastIndexOf(")"));
        const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
        const u = Number(f[11]) / 100, s = Number(f[12]) / 100;
        user += u; sys += s;
        const key = `${name}#${tid}`;
        threads.set(key, (threads.get(key) ?? 0) + u + s);
      } catch { /* thread exited */ }
    }
  }
  return { total: user + sys, user, sys, threads };
}

/** Named steps: inclusive time of any frame whose function name matches (counted once per sample). */
const STEPS: Array<[string, RegExp]> = [
  ["signature check (verifyNodeDeferred)", /^verifyNodeDeferred$/],
  ["  verifyRequestAuth (canonical + Ed25519)", /^verifyRequestAuth$/],
  ["  crypto.subtle.verify", /^verify$/],
  ["  crypto.subtle.importKey", /^importKey$/],
  ["  bodyHash (SHA-256, noble)", /^bodyHash$/],
  ["  signedTarget (URL parse)", /^signedTarget$/],
  ["body: rawBody + parseBody (strict JSON + zod)", /^(rawBody|parseBody|readJson)$/],
  ["  zod safeParse", /^(safeParse|_parse|parse)$/],
  ["  parseJsonStrict", /^parseJsonStrict$/],
  ["shard DO: heartbeat/register/consume methods", /^(heartbeat|register|consume|consumeUnlessRemoved)$/],
  ["  SQL exec (DO SQLite)", /^exec$/],
  ["  transactionSync (DO commit)", /^transactionSync$/],
  ["D1 batch/prepare/bind", /^(batch|prepare|bind|first|all|run)$/],
  ["c.json / Response", /^(json|newResponse|Response)$/],
  ["hono dispatch (fetch/dispatch/compose)", /^(dispatch|compose)$/],
];

/** Longest time between two samples still counted as the first sample's (the sampling interval is 100 µs; V8 ticks every ≈ 170 here). */
const GAP_US = 400;

function analyse(p: Profile, requests: number, top: number): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  const incl = new Map<string, number>();
  let total = 0, idle = 0, gap = 0;
  for (let i = 0; i < p.samples.length; i++) {
    // The time until the next sample belongs to this one, up to GAP_US: a longer gap is time the
    // thread spent outside this isolate (idle, other isolates such as Miniflare's D1, native I/O).
    const raw = p.timeDeltas[i + 1] ?? 0;
    const dt = Math.min(raw, GAP_US);
    gap += raw - dt;
    const id = p.samples[i]!;
    const fn = byId.get(id)!.callFrame.functionName;
    total += dt;
    if (fn === "(idle)") { idle += dt; continue; }
    self.set(id, (self.get(id) ?? 0) + dt);
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const name = byId.get(x)!.callFrame.functionName;
      for (const [label, re] of STEPS) if (re.test(name) && !seen.has(label)) { seen.add(label); incl.set(label, (incl.get(label) ?? 0) + dt); }
    }
  }
  const fnSelf = new Map<string, number>();
  for (const [id, t] of self) {
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || "(anonymous)"} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : ""}`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + t);
  }
  const us = (t: number) => (t / requests).toFixed(0).padStart(6);
  const busy = total - idle;
  const lines = [`profiled ${((total + gap) / 1e6).toFixed(2)} s: in this isolate's JS ${(busy / 1e6).toFixed(2)} s = ${us(busy)} µs/req over ${requests} requests; outside it (gaps > ${GAP_US} µs between samples) ${us(gap)} µs/req`, "", "inclusive µs/req of named steps:"];
  for (const [label] of STEPS) lines.push(`  ${us(incl.get(label) ?? 0)}  ${label}`);
  lines.push("", `top ${top} functions by self time (µs/req, % of busy):`);
  for (const [k, t] of [...fnSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${us(t)}  ${((100 * t) / busy).toFixed(1).padStart(5)}%  ${k}`);
  return lines.join("\n");
}

/** Connects to the coordinator isolate's inspector target and enables the profiler (100 µs sampling). */
async function inspector(port: number): Promise<Awaited<ReturnType<typeof cdp>>> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ id: string; title?: string; webSocketDebuggerUrl?: string }>;
  const t = targets.find((x) => (x.id + (x.title ?? "")).includes("twopm-coordinator")) ?? targets[0];
  if (!t) throw new Error("no inspector target");
  const insp = await cdp(t.webSocketDebuggerUrl ?? `ws://127.0.0.1:${port}/${t.id}`);
  await insp.send("Profiler.enable");
  await insp.send("Profiler.setSamplingInterval", { interval: 100 });
  return insp;
}

async function main(args: string[]): Promise<void> {
  const nodes = Number(arg(args, "nodes", "1000"));
  const heartbeats = Number(arg(args, "heartbeats", "3"));
  const concurrency = Number(arg(args, "concurrency", "32"));
  const top = Number(arg(args, "top", "40"));
  const out = arg(args, "out", "");
  const perf = args.includes("--perf");
  const inspectorPort = perf ? undefined : await freePort();
  const c = await startCoordinator({ apiToken: "bench-token", ...(inspectorPort ? { inspectorPort } : {}), vars: { LIVENESS_WINDOW_S: "600" } });
  try {
    const insp = inspectorPort ? await inspector(inspectorPort) : null;
    const sims: SimNode[] = Array.from({ length: nodes }, simNode);
    let failures = 0;
    const call = async (http: RawHttp, n: SimNode, p: string, body: unknown) => {
      const text = JSON.stringify(body);
      const r = await http.request("POST", p, signedHeaders(n, "POST", p, text), text);
      if (r.status < 200 || r.status > 299) failures++;
    };
    const reg = (n: SimNode, http: RawHttp) => call(http, n, "/v1/nodes", {
      identityKey: n.identityKey, kxKey: n.kxKey,
      capabilities: { cores: 4, memoryMb: 8192, bandwidthMbps: 100 }, datasets: [{ schemaId: "bench/load", rows: 1000, commitment: toHex(randomBytes(32)) }],
    });
    const hb = (n: SimNode, http: RawHttp) => call(http, n, `/v1/nodes/${n.id}/heartbeat`, { load: 0.3, freeMemoryMb: 4000, onBattery: false, online: true });
    await pool(c.url, sims.slice(0, 20), 8, reg); // warm-up, not profiled
    const cpu = () => threadCpu(workerdPids());
    const phase = async (name: string, requests: number, run: () => Promise<void>) => {
      const perfFile = path.join(out || os.tmpdir(), `coordinator-${name}.perf.data`);
      if (out) mkdirSync(out, { recursive: true });
      const rec = perf ? await startPerf(workerdPids()[0]!, perfFile) : null;
      await insp?.send("Profiler.start");
      const c0 = cpu(), t0 = performance.now();
      await run();
      const secs = (performance.now() - t0) / 1000, c1 = cpu();
      const coord = c1.total - c0.total;
      const profile = insp ? ((await insp.send("Profiler.stop")) as { profile: Profile }).profile : null;
      if (out && profile) writeFileSync(path.join(out, `${name}.cpuprofile`), JSON.stringify(profile));
      console.log(`\n== ${name}: ${requests} requests, ${(requests / secs).toFixed(0)} req/s, workerd CPU ${((coord * 1e6) / requests).toFixed(0)} µs/req (/proc), failures so far ${failures}`);
      const per = (x: number) => ((x * 1e6) / requests).toFixed(0);
      console.log(`workerd user ${per(c1.user - c0.user)} + sys ${per(c1.sys - c0.sys)} µs/req; by thread: ${[...c1.threads].map(([k, v]) => [k, v - (c0.threads.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${per(v)}`).join(", ")}`);
      if (profile) console.log(analyse(profile, requests, top));
      if (rec) {
        const cats = [...(await rec.stop())].sort((a, b) => b[1] - a[1]);
        const sum = cats.reduce((x, [, v]) => x + v, 0);
        console.log(`perf (${perfFile}): ${(sum / requests).toFixed(0)} µs/req of workerd CPU sampled`);
        for (const [k, v] of cats) console.log(`  ${(v / requests).toFixed(0).padStart(6)}  ${((100 * v) / sum).toFixed(1).padStart(5)}%  ${k}`);
      }
    };
    await phase("register", nodes - 20, () => pool(c.url, sims.slice(20), concurrency, reg));
    await phase("heartbeat", nodes * heartbeats, async () => { for (let h = 0; h < heartbeats; h++) await pool(c.url, sims, concurrency, hb); });
    insp?.close();
  } finally {
    await c.stop();
  }
}

await main(process.argv.slice(2));
