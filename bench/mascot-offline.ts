/**
 * `npm run bench -- mascot-offline [count] [batch] [fields] [Ns] [parallel|serial] [otes]`:
 *
 * 1. OT extension alone, one ordered pair in process (both sides, WebCrypto paths), for each
 *    SoftSpokenOT k in `otes` (default "ss2,ss3,ss4,ss5,ss6,ss8"; ssK = SoftSpokenOT with that k;
 *    KOS15 rows were dropped when KOS was removed, issue 13 — docs/mascot.md keeps its figures):
 *    bytes sent per OT (extend messages, excluding the one-off base OTs / GGM setup) and
 *    OT/s for batches of the Gilboa size of one m61 batch (61·τ·batch OTs).
 * 2. Triples at N = 2 (m61) for every k in `otes`, in one thread.
 * 3. COPE (digit-cope.ts, the Authenticate step's COPE and the online input's) alone, one
 *    ordered pair, node:crypto AES as in a node's party thread: Extend of one m61 batch
 *    (5·batch + 1 elements) for digit widths w = 1..6 — sender and receiver ms (fastest of 5),
 *    bytes per element; the protocol uses w = DIGIT_COPE_WIDTH (Fig. 4's bit-wise COPE sends
 *    61 elements per element, w digits ⌈61/w⌉).
 * 4. MASCOT triple generation with the default SoftSpokenOT k: (defaults 4096, 1024,
 *    "m61,p128", "2,3,5"; p128 runs count/8 triples, N = 2 only), and "parallel" (default) /
 *    "serial" for the extra one-worker-thread-per-party rows; in-process (all parties on one
 *    thread). Reports setup time (base OTs; a one-triple run, see below), triples/s after setup, bytes sent per party per triple.
 */
import { fieldByName } from "../protocol/field/index.ts";
import { OfflineParty, type OfflineConfig } from "../protocol/mascot/offline.ts";
import { runOfflineInMemoryAsync } from "../protocol/mascot/testing/transport.ts";
import { baseOtPairInProcess } from "../protocol/mascot/ot-extension.ts";
import { ssReceiverExtendAsync, ssReceiverSetup, ssSenderExtendAsync, ssSenderSetup, ssSetupMessageLength } from "../protocol/mascot/softspoken.ts";
import { combineTau } from "../protocol/mascot/triples.ts";
import { m61 } from "../protocol/field/index.ts";
import { cryptoRng } from "../protocol/rng.ts";
import { utf8 } from "../protocol/encoding.ts";
import type { BenchResult } from "./types.ts";
import { DIGIT_COPE_WIDTH, digitCopeReceiverExtend, digitCopeReceiverFromOts, digitCopeSenderExtend, digitCopeSenderFromOts, digitCopeSetupLength } from "../protocol/mascot/digit-cope.ts";
import { setNativeAesCtr } from "../protocol/mascot/prg.ts";
import { nodeAesCtr } from "../client/agent/party-aes.ts";
import { loadavg } from "node:os";
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

/** "ssK" → the OfflineConfig field. */
function oteConfig(name: string): Pick<OfflineConfig, "softspokenK"> {
  const k = Number(name.slice(2));
  if (!name.startsWith("ss") || !Number.isInteger(k)) throw new RangeError(`bench: unknown OT extension ${name} (expected ssK, SoftSpokenOT with k = K)`);
  return { softspokenK: k };
}

/** One ordered pair: setup, then `reps` extends of m OTs (both sides, async). */
async function otBench(name: string, m: number, reps: number): Promise<Record<string, string | number>> {
  const sid = utf8(`bench-ot-${name}-${Date.now()}`);
  const bases = baseOtPairInProcess(sid, cryptoRng);
  const x = new Uint8Array(m).map((_, i) => (cryptoRng.bytes(1)[0]! >> (i & 7)) & 1);
  let bytes = 0;
  let t0 = performance.now();
  const k = oteConfig(name).softspokenK!;
  const R = ssReceiverSetup(sid, bases.receiver, k, cryptoRng);
  const S = ssSenderSetup(sid, bases.sender, k, R.message, 1);
  const setupBytes = ssSetupMessageLength(k);
  const ext = async () => {
    const e = await ssReceiverExtendAsync(R.state, x, cryptoRng, 1);
    await ssSenderExtendAsync(S, m, e.message, 1, 1);
    bytes += e.message.length;
  };
  const setupMs = performance.now() - t0;
  await ext(); // warm-up (key imports, JIT)
  bytes = 0;
  t0 = performance.now();
  for (let i = 0; i < reps; i++) await ext();
  const sec = (performance.now() - t0) / 1000;
  return {
    field: `OT ext ${name}`, N: 2, triples: "-", batch: m,
    "bytes/OT": Number((bytes / (reps * m)).toFixed(2)),
    "OT/s": Math.round((reps * m) / sec),
    "setup ms (excl. base OTs)": Number(setupMs.toFixed(1)),
    "setup bytes (excl. base OTs)": setupBytes,
  };
}

/** COPE Extend of L elements at digit width w, one ordered pair (node:crypto AES): fastest of `reps` sender / receiver times. */
function copeBench(w: number, L: number, reps: number): Record<string, string | number> {
  const F = m61, delta = F.get(F.random(1, cryptoRng), 0);
  const k0 = cryptoRng.bytes(16 * F.bits), k1 = cryptoRng.bytes(16 * F.bits), chosen = new Uint8Array(16 * F.bits);
  for (let i = 0; i < F.bits; i++) chosen.set(((delta >> BigInt(i)) & 1n) === 1n ? k1.subarray(16 * i, 16 * i + 16) : k0.subarray(16 * i, 16 * i + 16), 16 * i);
  setNativeAesCtr(nodeAesCtr);
  try {
    let t = performance.now();
    const { state: S, setup } = digitCopeSenderFromOts(F, w, k0, k1);
    const R = digitCopeReceiverFromOts(F, w, delta, chosen, setup, 0);
    const setupMs = performance.now() - t;
    const x = F.random(L, cryptoRng), msgs: Uint8Array[] = [], ts: number[] = [], tr: number[] = [];
    for (let r = 0; r <= reps; r++) { t = performance.now(); msgs.push(digitCopeSenderExtend(S, x).message.slice()); if (r) ts.push(performance.now() - t); }
    for (let r = 0; r <= reps; r++) { t = performance.now(); digitCopeReceiverExtend(R, L, msgs[r]!, 0); if (r) tr.push(performance.now() - t); }
    return {
      field: `COPE w=${w}${w === DIGIT_COPE_WIDTH ? " (protocol)" : ""}`, N: 2, triples: "-", batch: L,
      "bytes/element": msgs[0]!.length / L, "sender ms": Number(Math.min(...ts).toFixed(1)), "receiver ms": Number(Math.min(...tr).toFixed(1)),
      "setup ms (GGM, both sides)": Number(setupMs.toFixed(1)), "setup bytes": digitCopeSetupLength(F), load: Number(loadavg()[0]!.toFixed(2)),
    };
  } finally {
    setNativeAesCtr(undefined);
  }
}

export async function run(args: string[]): Promise<BenchResult> {
  const countArg = Number(args[0] ?? 4096);
  const batchSize = Number(args[1] ?? 1024);
  const fields = (args[2] ?? "m61,p128").split(",").map(fieldByName);
  const nsArg = (args[3] ?? "2,3,5").split(",").map(Number);
  const parallel = (args[4] ?? "parallel") === "parallel";
  const otes = (args[5] ?? "ss2,ss3,ss4,ss5,ss6,ss8").split(",");
  const rows: BenchResult["rows"] = [];
  // 1. OT extension alone (one Gilboa batch of m61 per extend).
  const mOt = m61.bits * combineTau(m61) * batchSize;
  for (const name of otes) rows.push(await otBench(name, mOt, 3));
  const load0 = loadavg();
  // COPE alone at widths 1..6 (one Authenticate batch of m61).
  for (const w of [1, 2, 3, 4, 5, 6]) rows.push(copeBench(w, 5 * batchSize + 1, 5));
  // 2. triples at N = 2, m61, per OT extension (one thread).
  for (const name of otes) {
    const field = m61, n = 2, count = countArg;
    const mk = (c: number) => [...Array(n).keys()].map((me) => new OfflineParty({ field, parties: n, me, sessionId: utf8(`bench-ote-${name}-${c}`), count: c, batchSize, ...oteConfig(name) }, cryptoRng));
    // "Setup" = a one-triple run: with count ≥ 1 the setup derives one direction's base OTs per
    // pair from the other's extension (offline.ts derivedBaseOts), which a count-0 run cannot.
    let t = performance.now();
    const setupOnly = await runOfflineInMemoryAsync(mk(1));
    const setupS = (performance.now() - t) / 1000;
    t = performance.now();
    const parties = mk(count);
    const r = await runOfflineInMemoryAsync(parties);
    const totalS = (performance.now() - t) / 1000;
    const bytes = Math.max(...r.bytesSent), setupBytes = Math.max(...setupOnly.bytesSent);
    rows.push({
      field: `m61 ${name}`, N: n, triples: count, batch: batchSize,
      "setup s": Number(setupS.toFixed(2)),
      "triples/s": Math.round((count - 1) / Math.max(totalS - setupS, 1e-9)),
      "triples/s incl. setup": Math.round(count / totalS),
      "bytes/party/triple": Math.round((bytes - setupBytes) / (count - 1)),
      "OT-ext bytes/OT": Number((Math.max(...parties.map((p) => p.bytesByStep.kos ?? 0)) / (count * m61.bits * combineTau(m61))).toFixed(2)),
      "OT-ext bytes/triple": Math.round(Math.max(...parties.map((p) => p.bytesByStep.kos ?? 0)) / count),
      "COPE bytes/triple": Math.round(Math.max(...parties.map((p) => p.bytesByStep.cope ?? 0)) / count),
      "MB/party": Number((bytes / 1e6).toFixed(1)),
    });
  }
  for (const field of fields) for (const n of field.name === "p128" ? nsArg.slice(0, 1) : nsArg) {
    const count = field.name === "p128" ? Math.max(8, Math.floor(countArg / 8)) : countArg;
    const mk = (c: number) => [...Array(n).keys()].map((me) => new OfflineParty({ field, parties: n, me, sessionId: utf8(`bench-${n}-${c}`), count: c, batchSize }, cryptoRng));
    let t = performance.now();
    const setupOnly = await runOfflineInMemoryAsync(mk(1)); // one triple: see above
    const setupS = (performance.now() - t) / 1000;
    t = performance.now();
    const r = await runOfflineInMemoryAsync(mk(count));
    const totalS = (performance.now() - t) / 1000;
    const tripleS = Math.max(totalS - setupS, 1e-9);
    const bytes = Math.max(...r.bytesSent), setupBytes = Math.max(...setupOnly.bytesSent);
    rows.push({
      field: field.name, N: n, triples: count, batch: batchSize,
      "setup s": Number(setupS.toFixed(2)),
      "triples/s": Math.round((count - 1) / tripleS),
      "triples/s incl. setup": Math.round(count / totalS),
      "bytes/party/triple": Math.round((bytes - setupBytes) / (count - 1)),
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
      "'OT ext' rows: one ordered pair, both sides in one thread, async (WebCrypto) paths, extends of 61·τ·batch OTs (one m61 Gilboa batch); bytes/OT = extend message bytes / OTs (SoftSpokenOT: ⌈128/k⌉ bits + padding); setup = GGM trees + PPRF check, after the shared base OTs",
      `COPE rows: digit COPE (digit-cope.ts) at width w, one ordered pair in one thread, node:crypto AES-128-CTR for the leaf streams; bytes/element = ⌈61/w⌉·8 (Fig. 4's bit-wise COPE: 61·8 = 488); the protocol uses w = ${DIGIT_COPE_WIDTH}; COPE bytes/triple includes the one 1952-byte GGM setup per pair`,
      `load average at start ${load0.map((x) => x.toFixed(2)).join(" / ")}, at end ${loadavg().map((x) => x.toFixed(2)).join(" / ")} (1/5/15 min) on 2 cores`,
      "'m61 <ote>' rows: N = 2 in one thread with that OT extension; OT-ext bytes/OT and /triple = the batches' extend messages (phase <b>.kos) per Gilboa OT (61·τ per triple) and per triple; the rest of bytes/party/triple (Gilboa corrections, COPE, broadcasts) does not depend on the OT extension",
    ],
  };
}
