/**
 * `npm run bench -- mascot-offline [count] [batch] [fields] [Ns]`: MASCOT triple generation
 * (defaults 4096, 1024, "m61,p128", "2,3,5"; p128 runs count/8 triples, N = 2 only)
 * in-process (all parties on one thread), N = 2, 3, 5. Reports setup time (base OTs),
 * triples/s after setup, and bytes sent per party per triple.
 */
import { fieldByName } from "../protocol/field/index.ts";
import { OfflineParty, runOfflineInMemory, runOfflineInMemoryAsync } from "../protocol/mascot/offline.ts";
import { cryptoRng } from "../protocol/rng.ts";
import { utf8 } from "../protocol/encoding.ts";
import type { BenchResult } from "./types.ts";

export async function run(args: string[]): Promise<BenchResult> {
  const countArg = Number(args[0] ?? 4096);
  const batchSize = Number(args[1] ?? 1024);
  const fields = (args[2] ?? "m61,p128").split(",").map(fieldByName);
  const nsArg = (args[3] ?? "2,3,5").split(",").map(Number);
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
  }
  return {
    name: "mascot-offline",
    rows,
    notes: [
      "in-process, one thread runs all N parties (per-party compute is N× less); 2 shared cores",
      "anchor MP-SPDZ v0.4.2 MASCOT on this machine: N=2 14.7k triples/s (64-bit), 6.2k/s (128-bit); N=3 5.4k/s (64-bit)",
      "triples/s excludes the one-off setup (base OTs), which is measured separately",
    ],
  };
}
