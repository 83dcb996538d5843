/**
 * Secure sums with every party in its own worker thread (bench/mascot-party-thread.ts),
 * connected pairwise by MessageChannels: the wall time of all parties computing in parallel,
 * like with like with MP-SPDZ's one-process-per-party runs on the same machine (the
 * in-process `wall_s` of bench/mascot.ts serialises all parties on one thread). Each party
 * makes fresh base OTs in every run (no base-OT store), as MP-SPDZ does.
 */
import { MessageChannel, type MessagePort, type Worker } from "node:worker_threads";
import { startThread } from "../client/threads.ts";
import type { AggregationMode } from "../protocol/mascot/party.ts";

type Answer = { kind: "ready" } | { kind: "done"; run: number; cpuMs: number; head: string[]; excluded: number[] } | { kind: "error"; run: number; message: string };

/** The next answer of each worker that satisfies `pred`; rejects on an `error` answer or a thread failure. */
function collect(workers: Worker[], pred: (a: Answer) => boolean): Promise<Answer[]> {
  return Promise.all(workers.map((w, i) => new Promise<Answer>((resolve, reject) => {
    const onMsg = (a: Answer) => {
      if (a.kind === "error") { off(); reject(new Error(`party ${i}: ${a.message}`)); return; }
      if (pred(a)) { off(); resolve(a); }
    };
    const onErr = (e: Error) => { off(); reject(e); };
    const off = () => { w.off("message", onMsg); w.off("error", onErr); };
    w.on("message", onMsg);
    w.on("error", onErr);
  })));
}

/**
 * Runs `runs` secure sums of d entries among n parties in n threads, one after the other in the
 * same threads (run 0 includes the threads' JIT warm-up); returns each run's wall time in
 * seconds, from the go signal to the last party's result, and the largest CPU time of one
 * party thread in that run (seconds; NaN where the platform does not report thread CPU),
 * which the machine's other load inflates far less than the wall time. Throws if a party
 * fails, a party is excluded, or the parties' sums differ from Σ inputs.
 */
export async function secureSumInThreads(n: number, d: number, mode: AggregationMode, runs = 2): Promise<{ walls: number[]; cpus: number[] }> {
  const workers = Array.from({ length: n }, (_, me) => startThread(import.meta.url, "mascot-party-thread", { workerData: { n, me, d, mode } }));
  try {
    const ports: Array<Array<MessagePort | undefined>> = Array.from({ length: n }, () => new Array<MessagePort | undefined>(n));
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      const ch = new MessageChannel();
      ports[i]![j] = ch.port1;
      ports[j]![i] = ch.port2;
    }
    const ready = collect(workers, (a) => a.kind === "ready");
    workers.forEach((w, i) => w.postMessage({ kind: "ports", ports: ports[i] }, ports[i]!.filter((p): p is MessagePort => p !== undefined)));
    await ready;
    const walls: number[] = [], cpus: number[] = [];
    for (let run = 0; run < runs; run++) {
      const done = collect(workers, (a) => a.kind === "done" && a.run === run);
      const t0 = performance.now();
      for (const w of workers) w.postMessage({ kind: "run", run });
      const answers = (await done) as Array<Extract<Answer, { kind: "done" }>>;
      walls.push((performance.now() - t0) / 1000);
      cpus.push(Math.max(...answers.map((a) => a.cpuMs)) / 1000);
      const want = Array.from({ length: Math.min(4, d) }, (_, k) => String(n * (k % 100)));
      for (const [i, a] of answers.entries()) {
        if (a.excluded.length) throw new Error(`party ${i}: honest parties excluded: ${a.excluded.join(",")}`);
        if (a.head.join() !== want.join()) throw new Error(`party ${i}: sum ${a.head.join()} ≠ ${want.join()}`);
      }
    }
    return { walls, cpus };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
