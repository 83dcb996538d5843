/**
 * `npm run bench -- coordinator [--nodes 1000,10000] [--heartbeats 3] [--concurrency 32] [--msg-kib 256] [--msgs 40] [--small-msgs 4000] [--relay-only] [--registry-only] [--registry-shards 16]`
 *
 * Measures the coordinator as users run it: the local coordinator (scripts/lib/coordinator.ts:
 * the `wrangler deploy --dry-run` bundle served by Miniflare, D1 migrations applied) in this
 * process, and the load generator (bench/coordinator-load.ts) in a forked child process that
 * sends its results back over IPC:
 *  1. signed registrations + heartbeats from N simulated nodes, for each N of `--nodes`
 *     (req/s, p50/p99 latency, failures); goals at 1000 nodes ≥ 2000 req/s, p99 ≤ 50 ms, 0 failures;
 *  2. relay throughput through one RoundDO with 5 and with 10 connected parties, each sending
 *     signed AEAD envelopes to the next (paced and acknowledged as relay-session.ts does): MB/s
 *     with 256 KiB frames (goal ≥ 100 MB/s) and msg/s with 4 KiB frames (goal ≥ 10,000 msg/s, over
 *     `--small-msgs` envelopes per party so the rate is a steady one, not a burst's),
 *     with the generator's own CPU use so its ceiling is visible.
 */
import { fork } from "node:child_process";
import os from "node:os";
import path from "node:path";
import type { BenchResult } from "./types.ts";
import type { HealthResult, LoadMessage, LoadTask, PhaseResult, RegistryResult, RelayResult } from "./coordinator-load.ts";
import { startCoordinator as startLocalCoordinator } from "../scripts/lib/coordinator.ts";
import { strArg as arg } from "./args.ts";

const TOKEN = "bench-token";


function num(args: string[], name: string, def: number): number {
  const v = Number(arg(args, name, String(def)));
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`--${name} must be a positive integer`);
  return v;
}

/** Runs one load task in a forked child process (same tsx loader) and returns its result. */
function inChild<R extends RegistryResult | RelayResult | HealthResult>(task: LoadTask): Promise<R> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(import.meta.dirname, "coordinator-load.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let settled = false;
    child.once("message", (m: LoadMessage) => {
      settled = true;
      if (m.ok) resolve(m.result as R);
      else reject(new Error(`load generator: ${m.error}`));
    });
    child.once("error", (e) => { if (!settled) { settled = true; reject(e); } });
    child.once("exit", (code) => { if (!settled) { settled = true; reject(new Error(`load generator exited with ${code} before reporting`)); } });
    child.send(task);
  });
}

const load = (l: number[]) => l.map((x) => x.toFixed(2)).join("/");
/** The CPU columns of a request phase: coordinator (workerd) and generator µs per request. */
const cpu = (p: PhaseResult) => ({ "coord µs/req": p.coordUs === null ? "—" : Math.round(p.coordUs), "gen µs/req": Math.round(p.genUs) });

export async function run(args: string[]): Promise<BenchResult> {
  const nodeCounts = arg(args, "nodes", "1000,10000").split(",").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 21) throw new RangeError("--nodes must be a comma-separated list of integers ≥ 21");
    return n;
  });
  const heartbeats = num(args, "heartbeats", 3);
  const concurrency = num(args, "concurrency", 32);
  const msgKiB = num(args, "msg-kib", 256);
  const msgs = num(args, "msgs", 40);
  const smallMsgs = num(args, "small-msgs", 4000); // 4 KiB envelopes per party: a run of seconds (a 0.2 s burst varied 2× with the machine's load)
  const relayOnly = args.includes("--relay-only");
  const registryOnly = args.includes("--registry-only");
  const startLoad = os.loadavg();
  const shards = arg(args, "registry-shards", "");
  const c = await startLocalCoordinator({ apiToken: TOKEN, vars: { LIVENESS_WINDOW_S: "600", ...(shards ? { REGISTRY_SHARDS: shards } : {}) } });
  try {
    const rows: BenchResult["rows"] = [];
    const failureNotes: string[] = [];
    if (!relayOnly) {
      const h = await inChild<HealthResult>({ kind: "health", base: c.url, concurrency, seconds: 3 });
      rows.push({
        case: `HTTP ceiling: unsigned GET /v1/health, c=${concurrency}`, requests: h.phase.requests, failures: h.phase.failures, retries: 0,
        "req/s": Math.round(h.phase.rps), "p50 ms": h.phase.p50, "p99 ms": h.phase.p99, "max ms": h.phase.max, ...cpu(h.phase), load: load(h.loadavg), goal: "(reference)",
      });
      for (const nodes of nodeCounts) {
        const r = await inChild<RegistryResult>({ kind: "registry", base: c.url, nodes, heartbeats, concurrency });
        const goal = nodes === 1000 ? "≥2000 req/s, p99 ≤50 ms, 0 failures" : "report; no failure";
        for (const [what, p] of [["register", r.register], [`heartbeat ×${heartbeats}`, r.heartbeat], ["register+heartbeat", r.total]] as const) {
          rows.push({
            case: `signed ${what}, ${nodes} nodes, c=${concurrency}`, requests: p.requests, failures: p.failures, retries: p.retries,
            "req/s": Math.round(p.rps), "p50 ms": p.p50, "p99 ms": p.p99, "max ms": p.max, ...cpu(p), load: load(r.loadavg), goal: what === "register+heartbeat" ? goal : "",
          });
        }
        if (r.failureSamples.length) failureNotes.push(`${nodes} nodes, failures: ${r.failureSamples.join(" | ")}`);
      }
    }
    if (!registryOnly) {
      for (const parties of [5, 10]) {
        for (const [kib, count, goal] of [[msgKiB, msgs, "≥100 MB/s"], [4, smallMsgs, "≥10,000 msg/s"]] as const) {
          const name = `relay ${parties} parties, ${parties * count}×${kib} KiB`;
          try {
            const r = await inChild<RelayResult>({ kind: "relay", base: c.url, token: TOKEN, parties, msgKiB: kib, msgs: count });
            rows.push({ case: name, requests: r.msgs, failures: r.errors, "MB/s": r.mbps, "msg/s": Math.round(r.msgps), MB: r.mb, secs: r.secs, pauses: r.pauses, "gen cores": r.genCpu.toFixed(2), "coord µs/msg": r.coordCpuUs === null ? "—" : Math.round(r.coordCpuUs), load: load(r.loadavg), goal });
          } catch (e) {
            // a failed case is reported, and the other cases still run
            rows.push({ case: name, failures: "run failed", goal });
            failureNotes.push(`${name}: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}`);
          }
        }
      }
    }
    return {
      name: "coordinator",
      rows,
      notes: [
        "local Miniflare (workerd, the deploy bundle, local D1/R2/DO SQLite on disk) in the bench process; the load generator (bench/coordinator-load.ts) in a forked process; both share the machine's cores",
        "register: nonce consumed and node marked seen in its registry shard (RegistryShardDO, 16 shards by node id), then one D1 batch (upsert RETURNING + datasets)",
        "heartbeat: one SQLite transaction in the node's registry shard (nonce + liveness), no D1 write; identity key from the isolate cache (filled at registration, re-confirmed by each heartbeat the shard accepts, ≤ 4 min past the D1 read)",
        "before (issue 15, every request a D1 write transaction incl. the nonce): 468–630 req/s, p99 134–158 ms with 1000 nodes",
        "relay: sender authenticated by its connection, header and seq checked per envelope, signatures checked by the recipients (a bad one is disputed and settled on the relay's copy: docs/coordinator.md \"Relay: sender authentication and disputes\"); seqs, mailbox indices and (sender, seq) per entry group-committed before delivery; payloads held in memory until acknowledged, windowed per recipient, senders paused past the memory/backlog marks (\"Relay: throughput and back-pressure\")",
        "coord µs/msg: CPU time of the coordinator's workerd processes over the timed section per relayed message (Linux /proc, 10 ms resolution): less distorted by a loaded machine than the rates",
        "relay load generator: RFC 6455 over node:net (zero masking key), ≤ 1 MiB queued per simulated node, honours pause/resume, acknowledges every 16 entries or 1 MiB; `gen cores` = its own CPU over the timed section; `pauses` = pause frames the nodes received",
        "HTTP ceiling row: the same generator against a route with no signature and no storage: what this machine's workerd can serve at all",
        "registry/health generator: keep-alive HTTP/1.1 over node:net, one connection per concurrent client (Node's fetch cost ≈ 460 µs of CPU per request, more than the coordinator's health route, and was the old ceiling); clients sign with native Ed25519",
        "coord µs/req: CPU of the coordinator's workerd processes per request over the phase (/proc, 10 ms resolution); gen µs/req: the generator's (signing included). Locally the Worker and its DOs share one workerd isolate thread, so 1e6 / coord µs/req bounds req/s per core the coordinator gets",
        "load column: os.loadavg() 1/5/15 min measured in the load generator when the case ended",
        `load average at start ${startLoad.map((l) => l.toFixed(2)).join(" / ")}, at end ${os.loadavg().map((l) => l.toFixed(2)).join(" / ")} (1/5/15 min) on ${os.availableParallelism()} cores`,
        ...failureNotes,
      ],
    };
  } catch (e) {
    console.error(`coordinator log tail:\n${c.log.join("\n").slice(-3000)}`);
    throw e;
  } finally {
    await c.stop();
  }
}
