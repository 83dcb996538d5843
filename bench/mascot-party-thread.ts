/**
 * One MASCOT party in its own worker thread, for `bench/mascot-threads.ts`: the parties of a
 * secure sum run in parallel, connected pairwise by MessageChannels (no relay), the way
 * MP-SPDZ's benchmark runs one process per party on one machine. Messages: the main thread
 * sends `ports` (one per peer, index = peer) once, then `run` per timed run; the thread
 * answers `ready`, then `done` (the first sum entries and this thread's CPU time for the run) or
 * `error` per run.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { m61 } from "../protocol/field/index.ts";
import { SecureSumParty, type AggregationMode } from "../protocol/mascot/party.ts";
import type { OutboundMessage } from "../protocol/mascot/types.ts";
import { cryptoRng } from "../protocol/rng.ts";
import { installNodeAes } from "../client/agent/party-aes.ts";
import { readFileSync } from "node:fs";

const { n, me, d, mode } = workerData as { n: number; me: number; d: number; mode: AggregationMode };
installNodeAes(); // as in a node's party thread
const input = m61.fromInts(Array.from({ length: d }, (_, k) => k % 100));
let ports: Array<MessagePort | undefined> = [];
let party: SecureSumParty | undefined;
let run = -1;
let sent: number[] = [];
let reported = false;
/** This thread's CPU time at the start of the current run (ms; see {@link threadCpuMs}). */
let cpu0 = 0;

/**
 * CPU time of the calling thread in ms (Linux: /proc/thread-self/schedstat, nanoseconds on the
 * CPU), or NaN elsewhere: what this party computed, whatever the other threads and processes
 * on the machine's cores did meanwhile (wall time counts their preemption too).
 */
function threadCpuMs(): number {
  try { return Number(readFileSync("/proc/thread-self/schedstat", "latin1").split(" ")[0]) / 1e6; } catch { return NaN; }
}

interface Wire { run: number; phase: string; payload: Uint8Array; seq: number }

function send(outs: OutboundMessage[]): void {
  for (const m of outs) {
    const to = m.to === "all" ? [...Array(n).keys()].filter((j) => j !== me) : [m.to];
    for (const j of to) ports[j]!.postMessage({ run, phase: m.phase, payload: m.payload, seq: sent[j]!++ } satisfies Wire);
  }
  report();
}

function report(): void {
  if (reported || !party?.result) return;
  reported = true;
  parentPort!.postMessage({ kind: "done", run, cpuMs: threadCpuMs() - cpu0, head: m61.toBigInts(m61.slice(party.result.sum, 0, Math.min(4, d))).map(String), excluded: party.result.excluded });
}

/** Messages of a run this thread has not started yet, in arrival order. */
let early: Array<[number, Wire]> = [];

function deliver(j: number, w: Wire): void {
  guard(() => send(party!.receive({ from: j, phase: w.phase, payload: w.payload, seq: w.seq })));
}

function guard(f: () => void): void {
  try { f(); } catch (e) { reported = true; parentPort!.postMessage({ kind: "error", run, message: e instanceof Error ? e.message : String(e) }); }
}

parentPort!.on("message", (msg: { kind: "ports"; ports: Array<MessagePort | undefined> } | { kind: "run"; run: number }) => {
  if (msg.kind === "ports") {
    ports = msg.ports;
    ports.forEach((p, j) => p?.on("message", (w: Wire) => {
      if (w.run > run) { early.push([j, w]); return; } // a peer started the next run before this thread heard of it
      if (w.run !== run || !party || reported) return; // a late message of an earlier run
      deliver(j, w);
    }));
    parentPort!.postMessage({ kind: "ready" });
    return;
  }
  run = msg.run;
  cpu0 = threadCpuMs();
  sent = new Array<number>(n).fill(0);
  reported = false;
  const sid = new TextEncoder().encode(`bench/mascot-threads/${n}/${d}/${mode}/${run}`);
  guard(() => {
    party = new SecureSumParty({ field: m61, parties: n, me, mode, length: d, predicates: [], sessionId: sid }, input, cryptoRng);
    send(party.start());
  });
  const queued = early.filter(([, w]) => w.run === run);
  early = early.filter(([, w]) => w.run > run);
  for (const [j, w] of queued) if (!reported) deliver(j, w);
});
