/**
 * `npm run bench -- mascot [--quick] [--d=1000,10000] [--n=2,3] [--no-threads]`: in-process MASCOT secure
 * sums (validated and linear-only) for N ∈ {2,3,5}, d ∈ {1k,10k,100k}, plus authenticated
 * inputs/s and triples/s. Times: `wall` = the whole in-process run (all parties serialised
 * on one thread); `party_cpu` = the largest per-party time spent inside start()/receive(),
 * the comparable figure for parties on separate machines; `parties in threads (cold / warm)`
 * = the validated sum with each party in its own worker thread, all in parallel over
 * MessageChannels, fresh base OTs every run (bench/mascot-threads.ts): the wall time of all
 * parties as MP-SPDZ measures its one-process-per-party runs — cold is the threads' first run
 * (JIT warm-up included), warm the faster of two later runs in the same threads; their
 * party_cpu = the slowest party thread's own CPU in those runs. Bytes: per party, uploaded
 * (a broadcast counts once, as sent to the relay) and delivered (fan-out counted). The
 * PRG streams and the OT extension's fixed-key π run on node:crypto's AES, as in a node's party
 * thread (client/agent/party-aes.ts installNodeAes); `--aes=js` keeps the portable JS AES.
 */
import { m61 } from "../protocol/field/index.ts";
import type { FieldVec } from "../protocol/field/types.ts";
import { cryptoRng } from "../protocol/rng.ts";
import { installNodeAes, uninstallNodeAes } from "../client/agent/party-aes.ts";
import { SecureSumParty, type AggregationMode, type Predicate } from "../protocol/mascot/party.ts";
import { runNetwork, runOfflineInMemory, type MessageParty, type Outbound, type Inbound } from "../protocol/mascot/testing/transport.ts";
import type { BenchResult } from "./types.ts";
import { cpuMs, Timed } from "./timing.ts";
import { loadavg } from "node:os";
import { OfflineParty, type KeptOtStore } from "../protocol/mascot/offline.ts";
import { memoryOtStore } from "../protocol/mascot/testing/memory-ot-store.ts";
import { copeExtendReceiver, copeExtendSender } from "../protocol/mascot/input.ts";
import { optArg as arg } from "./args.ts";
import { secureSumInThreads } from "./mascot-threads.ts";




/**
 * One in-process secure sum. `baseOts` (one store per party): base OTs kept from an earlier
 * session are reused (offline.ts KeptOtStore), as a node does from its second round with
 * the same peers; `tag` separates the session ids of repeated runs.
 */
export function secureSumOnce(n: number, d: number, mode: AggregationMode, predicates: Predicate[] = [], baseOts?: KeptOtStore[], tag = "") {
  const f = m61;
  const inputs: FieldVec[] = Array.from({ length: n }, () => f.fromInts(Array.from({ length: d }, (_, k) => k % 100)));
  const sid = new TextEncoder().encode(`bench/${n}/${d}/${mode}${tag}`);
  const parties = inputs.map((x, me) => new Timed(new SecureSumParty({ field: f, parties: n, me, mode, length: d, predicates, sessionId: sid }, x, cryptoRng, baseOts ? { baseOts: baseOts[me]! } : {})));
  const t0 = performance.now();
  const net = runNetwork(parties);
  const wall = (performance.now() - t0) / 1000;
  const err = net.errors.find((e) => e !== undefined);
  if (err) throw err instanceof Error ? err : new Error(String(err));
  if (!parties.every((p) => p.done)) throw new Error("bench: run did not finish");
  return {
    wall,
    partyCpu: Math.max(...parties.map((p) => p.cpu)) / 1000,
    bytesUp: Math.max(...net.bytesSent),
    bytesDelivered: Math.max(...net.bytesDelivered),
  };
}

/** Triples/s of the real offline phase (OfflineParty, in-process, all parties on one thread): count / wall, and count / (process CPU / n) as the per-party figure. */
export function triplesPerSecond(n: number, count: number): { wall: number; perSecondWall: number; perSecondParty: number; mbPerParty: number } {
  const sid = new TextEncoder().encode(`bench/triples/${n}`);
  const parties = Array.from({ length: n }, (_, me) => new OfflineParty({ field: m61, parties: n, me, sessionId: sid, count }, cryptoRng));
  const t0 = performance.now();
  const c0 = cpuMs();
  const r = runOfflineInMemory(parties);
  const wall = (performance.now() - t0) / 1000;
  const cpu = (cpuMs() - c0) / 1000;
  return { wall, perSecondWall: count / wall, perSecondParty: count / (cpu / n), mbPerParty: Math.max(...r.bytesSent) / 1e6 };
}

/**
 * Authenticated inputs/s (Fig. 7 COPE Extend, the dominant cost of Π_[[·]]): one owner
 * authenticating L values towards n−1 key holders, sender plus receiver work, per party:
 * in a round every party is owner once and key holder n−1 times, so the per-party rate is
 * L / (t_send·(n−1) + t_recv·(n−1)).
 */
export function authInputsPerSecond(n: number, L: number): number {
  const k = m61.bits;
  const seeds = { k0: Array.from({ length: k }, () => cryptoRng.bytes(16)), k1: Array.from({ length: k }, () => cryptoRng.bytes(16)) };
  const x = m61.random(L, cryptoRng);
  let t = cpuMs();
  const { u } = copeExtendSender(m61, seeds, x, "bench");
  const ts = cpuMs() - t;
  t = cpuMs();
  copeExtendReceiver(m61, { delta: 0x123456789abcdefn, kDelta: seeds.k0 }, u, L, "bench", 1);
  const tr = cpuMs() - t;
  return L / (((ts + tr) * (n - 1)) / 1000);
}


export async function run(args: string[]): Promise<BenchResult> {
  const ns = (arg(args, "n") ?? "2,3,5").split(",").map(Number);
  const ds = (arg(args, "d") ?? "1000,10000,100000").split(",").map(Number);
  const budget = Number(arg(args, "budget") ?? 60);
  const rows: BenchResult["rows"] = [];
  const notes: string[] = [];
  const load0 = loadavg()[0]!;
  const skip = new Set((arg(args, "skip") ?? "").split(",").filter(Boolean));
  const aes = arg(args, "aes") ?? "node";
  if (aes !== "node" && aes !== "js") throw new Error(`mascot: --aes must be node or js, got ${aes}`);
  if (aes === "node") installNodeAes();
  notes.push(aes === "node" ? "AES: node:crypto (PRG streams AES-128-CTR, fixed-key π AES-128-ECB), as in a node's party thread" : "AES: the portable JS AES (@noble/ciphers), as without a native one");
  for (const n of ns) {
    for (const d of ds) {
      for (const mode of ["validated", "linear-only"] as const) {
        const key = `${mode}/${n}/${d}`;
        if (skip.has(key)) { notes.push(`skipped ${key} (--skip)`); continue; }
        try {
          const r = secureSumOnce(n, d, mode);
          rows.push({ op: `secure-sum ${mode}`, N: n, d, wall_s: r.wall, party_cpu_s: r.partyCpu, MB_up_per_party: r.bytesUp / 1e6, MB_delivered_per_party: r.bytesDelivered / 1e6 });
          if (r.wall > budget) notes.push(`N=${n} d=${d} ${mode} took ${r.wall.toFixed(1)} s > ${budget} s budget`);
          if (mode === "validated") {
            // A node's second round with the same peers: the offline setup reuses the kept base OTs (no public-key OT).
            const stores = Array.from({ length: n }, () => memoryOtStore());
            secureSumOnce(n, d, mode, [], stores, "/first");
            const q = secureSumOnce(n, d, mode, [], stores, "/reused");
            rows.push({ op: `secure-sum ${mode}, base OTs reused`, N: n, d, wall_s: q.wall, party_cpu_s: q.partyCpu, MB_up_per_party: q.bytesUp / 1e6, MB_delivered_per_party: q.bytesDelivered / 1e6 });
            if (!args.includes("--no-threads")) {
              // Like with like with MP-SPDZ's one process per party: each party in its own thread, all in parallel, fresh base OTs every run.
              const { walls, cpus } = await secureSumInThreads(n, d, mode, 3);
              rows.push({ op: `secure-sum ${mode}, parties in threads (cold / warm)`, N: n, d, wall_s: `${walls[0]!.toFixed(3)} / ${Math.min(...walls.slice(1)).toFixed(3)}`, party_cpu_s: `${cpus[0]!.toFixed(3)} / ${Math.min(...cpus.slice(1)).toFixed(3)}`, MB_up_per_party: r.bytesUp / 1e6, MB_delivered_per_party: r.bytesDelivered / 1e6 });
            }
          }
        } catch (e) {
          notes.push(`N=${n} d=${d} ${mode} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
  }
  // Validation cost example: range [0, 2^8) on d = pred-d (witness bits and the zero-knowledge product proof; the real offline setup, no triples).
  if (!args.includes("--no-predicates")) {
    const d = Number(arg(args, "pred-d") ?? 200);
    for (const n of ns.filter((x) => x <= 3)) {
      const r = secureSumOnce(n, d, "validated", [{ kind: "range", bits: 8 }]);
      rows.push({ op: "secure-sum validated range8 (offline setup, product proof, no triples)", N: n, d, wall_s: r.wall, party_cpu_s: r.partyCpu, MB_up_per_party: r.bytesUp / 1e6, MB_delivered_per_party: r.bytesDelivered / 1e6 });
    }
  }
  for (const n of ns) {
    const count = Number(arg(args, "triples") ?? 2048);
    const t = triplesPerSecond(n, count);
    rows.push({ op: "triples (OfflineParty)", N: n, d: count, wall_s: t.wall, per_s_wall: t.perSecondWall, per_s_party: t.perSecondParty, MB_up_per_party: t.mbPerParty });
    rows.push({ op: "authenticated inputs (COPE, per party)", N: n, d: 100000, per_s_party: authInputsPerSecond(n, 100000) });
  }
  notes.push(`machine load average (1 min) at start/end: ${load0.toFixed(1)} / ${loadavg()[0]!.toFixed(1)} on ${(await import("node:os")).cpus().length} cores (shared with other work: times are upper bounds)`);
  notes.push("time: party_cpu_s = max over parties of process CPU time (user+sys, incl. GC threads) spent in that party's start()/receive() — what one party on its own machine would need; wall_s = all parties serialised on one thread of a shared 2-core machine, except the `parties in threads` rows (all parties in parallel, cold / warm; their party_cpu_s = the slowest party thread's own CPU, /proc/thread-self/schedstat, without V8's helper threads)");
  notes.push("bytes: MB_up = payload bytes uploaded (a broadcast counted once, as sent to the relay); MB_delivered = with broadcast fan-out");
  notes.push("anchor MP-SPDZ MASCOT 64-bit: N=3 d=1k 0.16–0.23 s, d=10k 1.07–2.18 s, d=100k 2.5 s (328 MB all parties); N=5 d=100k 8.3 s; triples N=2 14.7k/s");
  uninstallNodeAes();
  return { name: "mascot", rows, notes };
}
