/**
 * `npm run bench -- mascot-offline [count] [batch] [fields] [Ns]`: MASCOT triple generation
 * (defaults 4096, 1024, "m61,p128", "2,3,5"; p128 runs count/8 triples, N = 2 only), and a 5th
 * argument "parallel" (default) / "serial" for the extra one-worker-thread-per-party rows.
 * in-process (all parties on one thread), N = 2, 3, 5. Reports setup time (base OTs),
 * triples/s after setup, and bytes sent per party per triple.
 */
import { fieldByName } from "../protocol/field/index.ts";
import { OfflineParty, runOfflineInMemory, runOfflineInMemoryAsync } from "../protocol/mascot/offline.ts";
import { cryptoRng } from "../protocol/rng.ts";
import { utf8 } from "../protocol/encoding.ts";
import type { BenchResult } from "./types.ts";
import { Worker } from "node:worker_threads";

/** Runs n parties, one worker thread each; resolves with the wall time in seconds and max bytes sent. */
async function runParallel(field: string, n: number, count: number, batchSize: number): Promise<{ seconds: number; bytes: number }> {
  const sid = utf8(`bench-par-${n}-${count}-${Date.now()}`);
  const workers = [...Array(n).keys()].map((me) => new Worker(new URL("./mascot-offline-worker.ts", import.meta.url), {
    workerData: { field, n, me, count, batchSize, sid }, execArgv: ["--import", "tsx"],
  }));
  const seq = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const done = new Array<boolean>(n).fill(false);
  const bytes = new Array<number>(n).fill(0);
  const t0 = performance.now();
  try {
    await new Promise<void>((resolve, reject) => {
      workers.forEach((w, from) => {
        w.on("error", reject);
        w.on("message", (msg: { kind: string; message?: string; outs?: Array<{ to: number | "all"; phase: string; payload: Uint8Array }>; done?: boolean; bytes?: number }) => {
          if (msg.kind === "error") return reject(new Error(msg.message));
          for (const o of msg.outs ?? []) {
            const tos = o.to === "all" ? [...Array(n).keys()].filter((j) => j !== from) : [o.to];
            for (const to of tos) workers[to]!.postMessage({ kind: "in", m: { from, phase: o.phase, seq: seq[from]![to]!++, payload: o.payload } });
          }
          done[from] = !!msg.done; bytes[from] = msg.bytes ?? 0;
          if (done.every(Boolean)) resolve();
        });
      });
      workers.forEach((w) => w.postMessage({ kind: "start" }));
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return { seconds: (performance.now() - t0) / 1000, bytes: Math.max(...bytes) };
}

export async function run(args: string[]): Promise<BenchResult> {
  const countArg = Number(args[0] ?? 4096);
  const batchSize = Number(args[1] ?? 1024);
  const fields = (args[2] ?? "m61,p128").split(",").map(fieldByName);
  const nsArg = (args[3] ?? "2,3,5").split(",").map(Number);
  const parallel = (args[4] ?? "parallel") === "parallel";
  const rows: BenchResult["rows"] = [];
  for (const field of fields) for (const n of field.name === "p128" ? nsArg.slice(0, 1) : nsArg) {
    const count = field.name === "p128" ? Math.max(8, Math.floor(countArg / 8)) : countArg;
    const mk = (c: number) => [...Array(n).keys()].map((me) => new OfflineParty({ field, parties: n, me, sessionId: utf8(`bench-${n}-${c}`), count: c, batchSize }, cryptoRng));
    let t = performance.now();
    const setupOnly = runOfflineInMemory(mk(0));
    const setupS = (performance.now() - t) / 1000;
    t = performance.now();
    const r = await runOfflineInMemoryAsync(mk(count));
    const totalS = (performance.now() - t) / 1000;
    const tripleS = Math.max(totalS - setupS, 1e-9);
    const bytes = Math.max(...r.bytesSent), setupBytes = Math.max(...setupOnly.bytesSent);
    rows.push({
      field: field.name, N: n, triples: count, batch: batchSize,
      "setup s": Number(setupS.toFixed(2)),
      "triples/s": Math.round(count / tripleS),
      "triples/s incl. setup": Math.round(count / totalS),
      "bytes/party/triple": Math.round((bytes - setupBytes) / count),
      "MB/party": Number((bytes / 1e6).toFixed(1)),
    });
    if (parallel && field.name === "m61") {
      const setup = await runParallel(field.name, n, 0, batchSize);
      const par = await runParallel(field.name, n, count, batchSize);
      rows.push({
        field: `${field.name} (1 thread/party)`, N: n, triples: count, batch: batchSize,
        "setup s": Number(setup.seconds.toFixed(2)),
        "triples/s": Math.round(count / Math.max(par.seconds - setup.seconds, 1e-9)),
        "triples/s incl. setup": Math.round(count / par.seconds),
        "bytes/party/triple": Math.round(par.bytes / count),
        "MB/party": Number((par.bytes / 1e6).toFixed(1)),
      });
    }
  }
  return {
    name: "mascot-offline",
    rows,
    notes: [
      "rows without a suffix: one thread runs all N parties; '(1 thread/party)': a worker thread per party, messages relayed by the main thread (closest to MP-SPDZ's one process per party); 2 cores shared with other work",
      "anchor MP-SPDZ v0.4.2 MASCOT on this machine: N=2 14.7k triples/s (64-bit), 6.2k/s (128-bit); N=3 5.4k/s (64-bit)",
      "triples/s excludes the one-off setup (base OTs), which is measured separately",
    ],
  };
}
