/**
 * Native CPU profile of the local coordinator's workerd process with Linux `perf` (for
 * bench/coordinator-profile.ts `--perf`): where a request's CPU goes below JavaScript — Ed25519
 * in BoringSSL, SQLite statements and commits (with their fsync), the Durable Object RPC, HTTP,
 * V8's garbage collector and the kernel — which a V8 CPU profile cannot see (it only samples
 * while the isolate runs JavaScript).
 *
 * Each sample's whole stack is matched against {@link BY_STACK} (first match wins: a sample
 * anywhere below `ED25519_verify` is the signature check, wherever it was called from); the
 * remaining samples go to the first frame, from the leaf up, that matches a layer of
 * {@link BY_LAYER}. Needs `perf` on PATH and permission to profile the process (root, or
 * kernel.perf_event_paranoid ≤ 1).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

/** Categories decided by any frame of the stack, in priority order. */
const BY_STACK: Array<[string, RegExp]> = [
  ["Ed25519 verify (BoringSSL)", /ED25519_verify|EdDsaKey::verify|SubtleCrypto::verify/],
  ["other WebCrypto (digest, importKey)", /SubtleCrypto|sha256_block|SHA256/],
  ["SQLite fsync (storage commit)", /\bfsync\b|xSync|do_fsync/],
  ["SQLite commit: WAL write", /vdbeCommit|sqlite3PagerCommitPhaseOne|pagerWalFrames|walWriteOneFrame/],
  ["SQLite statements (prepare, step)", /sqlite3/],
  ["workerd SQL API (SqlStorage, cursors, ActorSqlite)", /SqlStorage|SqliteDatabase|ActorSqlite/],
  ["V8 garbage collection", /Heap::|Scavenger|MarkCompact|ConcurrentMarking|MinorMS|Sweeper|GlobalHandles|HeapTracer|CppHeap|cppgc/],
];

/** Layers decided by the first matching frame from the leaf up. */
const BY_LAYER: Array<[string, RegExp]> = [
  ["kernel (network, timers, locks)", /^\[k\]/],
  ["V8 serializer (RPC arguments, results)", /Serializer|Deserializer/],
  ["JavaScript (JIT code, builtins, V8 runtime)", /^Builtins_|v8::internal|^\[unknown\]|^0x/],
  ["HTTP (kj server, Request/Response objects)", /kj::Http|HttpServer|HttpInputStream|HttpOutputStream|HttpHeaders|WorkerEntrypoint::request|ServiceWorkerGlobalScope::request|api::Request::|api::Response::|Headers::/],
  ["Durable Object RPC (capnp, JsRpc, IoContext)", /capnp|JsRpc|IoContext/],
  ["jsg bindings (API glue)", /jsg::/],
];
const OTHER = "other (kj event loop, malloc, timers)";

/** A running `perf record`; {@link PerfRecording.stop} ends it and returns µs per category. */
export interface PerfRecording { stop(): Promise<Map<string, number>> }

/**
 * Starts `perf record` (call graphs, 2 kHz) on process `pid` into `file`. Resolves once perf
 * had time to attach. Throws if perf cannot be started.
 */
export async function startPerf(pid: number, file: string): Promise<PerfRecording> {
  const p: ChildProcess = spawn("perf", ["record", "-F", "2000", "-g", "-p", String(pid), "-o", file], { stdio: "ignore" });
  await new Promise<void>((resolve, reject) => {
    p.once("error", reject);
    setTimeout(resolve, 500);
  });
  return {
    async stop() {
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGINT");
      await exited;
      return perfCategories(file);
    },
  };
}

/** CPU time (µs) per category of a `perf record -g` file (see the module comment). Throws if `perf script` fails. */
export function perfCategories(file: string): Map<string, number> {
  const r = spawnSync("perf", ["script", "-i", file, "-F", "comm,tid,period,ip,sym,dso"], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`perf script failed: ${r.stderr.trim().split("\n").slice(-2).join(" ")}`);
  const out = new Map<string, number>();
  let period = 0;
  let stack: string[] = [];
  const flush = () => {
    if (period > 0) {
      const c = categorise(stack);
      out.set(c, (out.get(c) ?? 0) + period / 1000); // cpu-clock periods are nanoseconds
    }
    period = 0;
    stack = [];
  };
  for (const line of r.stdout.split("\n")) {
    if (!line.trim()) { flush(); continue; }
    if (!/^\s/.test(line)) { period = Number(/\s(\d+)\s*$/.exec(line)?.[1] ?? 0); continue; } // "comm tid period"
    const m = /^\s*[0-9a-f]+\s+(.*?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)\s*$/.exec(line); // "ip sym+off (dso)"
    if (!m) continue;
    stack.push(m[2]!.includes("kernel") ? `[k] ${m[1]}` : m[1]!);
  }
  flush();
  return out;
}

function categorise(stack: string[]): string {
  const all = stack.join("\n");
  for (const [name, re] of BY_STACK) if (re.test(all)) return name;
  for (const f of stack) for (const [name, re] of BY_LAYER) if (re.test(f)) return name;
  return OTHER;
}
