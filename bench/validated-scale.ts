/**
 * `npm run bench -- validated-scale [--d=2410,10000,100000] [--n=5] [--modes=pine,none,linear,range]`:
 * one secure-sum round of a synthetic learning update at model scale, in process (all parties
 * on one thread), N = 5 by default:
 *  - `validated+pine`: validated MASCOT with the job's L2 bound checked by PINE (an `l2-norm`
 *    predicate with method "pine", no per-entry bits) — including the real offline phase
 *    (base OTs, SoftSpokenOT, the triples the product proof needs), authenticated inputs,
 *    the late inputs, the proof, MAC checks;
 *  - `validated (no predicates)`: the same without validation (the authenticated-sum floor);
 *  - `linear-only`: no validation;
 *  - `validated+range` (d ≤ 2500 only): the check PINE replaces, per-entry signed
 *    ranges + the exact L2 check (the range plan's own fracBits; the same input, whose
 *    entries are within both plans' bounds since they are quantised at the smaller f).
 * The update is a random direction at the clip norm, weighted by the largest sample count
 * and quantised with the fixed-point plan a learning job of that size gets (planUpdateEncoding
 * with clipNorm 8, maxSamplesPerNode 1024, PINE): [n·Δ ‖ n], d + 1 entries (d = parameters).
 * Time: wall_s = all N parties serialised on one thread (an upper bound of a round's
 * compute); party_cpu_s = the slowest party's CPU inside start()/receive() (what a party on
 * its own machine spends; a round's compute with parties in parallel, relay latency
 * excluded). Bytes per party: uploaded (a broadcast once) and delivered (fan-out counted).
 * `--latency=5,20` (`--reps=k`: the fastest of k runs) adds, per case and latency L (ms per relay hop), `sim_s`: the round's time
 * with every party on its own machine and each message delivered L ms after it was sent
 * (a discrete-event run: a party's clock advances by the CPU time of each of its handlers,
 * a message arrives at its sender's clock + L), and `rounds`, the sequential relay trips.
 * `--phases` adds, per case, one row per message phase (offline batch numbers folded): the CPU
 * of all parties in the handlers of that phase's inbound messages (what receiving it
 * triggers), the bytes uploaded in it and the message count, from a second run of the
 * case (the first warms the JIT) with the base OTs kept from the first run, as nodes that
 * met before do (client/agent/base-ot-cache.ts).
 * `--aes=node` (default) runs the PRG streams and the OT extension's fixed-key π on node:crypto's
 * AES, as a node's party thread does (client/agent/party-aes.ts installNodeAes); `--aes=js` on the sync JS AES (before issue 13's change).
 */
import { loadavg } from "node:os";
import { m61 } from "../protocol/field/index.ts";
import type { FieldVec } from "../protocol/field/types.ts";
import { planUpdateEncoding, quantize } from "../protocol/learning/bounds.ts";
import { weightedContribution } from "../protocol/learning/aggregate.ts";
import { SecureSumParty, type AggregationMode, type Predicate } from "../protocol/mascot/party.ts";
import { runNetwork, type Inbound, type MessageParty, type Outbound } from "../protocol/mascot/testing/transport.ts";
import { ValidationPlan } from "../protocol/mascot/validation.ts";
import { cryptoRng } from "../protocol/rng.ts";
import type { BenchResult } from "./types.ts";
import { cpuMs, Timed } from "./timing.ts";
import { installNodeAes, uninstallNodeAes } from "../client/agent/party-aes.ts";
import { BaseOtCache } from "../client/agent/base-ot-cache.ts";
import { optArg as arg } from "./args.ts";




/**
 * N synthetic quantised updates [n·Δ ‖ n] of d parameters at the clip norm (a random
 * direction), and the plan a learning job of that size gets with this norm check (also used
 * by bench/steady-rounds.ts).
 */
export function updates(n: number, d: number, normCheck: "pine" | "range" = "pine") {
  const plan = planUpdateEncoding({ p: m61.p, parties: n, dim: d, clipNorm: 8, maxSamples: 1024, normCheck });
  const inputs: FieldVec[] = [];
  for (let i = 0; i < n; i++) {
    const b = cryptoRng.bytes(4 * d);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const raw = Array.from({ length: d }, (_, k) => dv.getUint32(4 * k, true) / 2 ** 32 - 0.5);
    const norm = Math.sqrt(raw.reduce((a, v) => a + v * v, 0));
    const q = quantize(weightedContribution(raw.map((v) => (v / norm) * 8), 1024), plan.fracBits, plan.bound);
    inputs.push(m61.fromInts(q));
  }
  return { plan, inputs };
}

function once(n: number, inputs: FieldVec[], mode: AggregationMode, predicates: Predicate[]) {
  const sid = new TextEncoder().encode(`bench/validated-scale/${n}/${inputs[0]!.length}/${mode}/${predicates.length}`);
  const parties = inputs.map((x, me) => new Timed(new SecureSumParty({ field: m61, parties: n, me, mode, length: x.length, predicates, sessionId: sid }, x, cryptoRng)));
  const t0 = performance.now();
  const net = runNetwork(parties);
  const wall = (performance.now() - t0) / 1000;
  const err = net.errors.find((e) => e !== undefined);
  if (err) throw err instanceof Error ? err : new Error(String(err));
  const excluded = parties[0]!.p.result!.excluded;
  if (excluded.length) throw new Error(`honest parties excluded: ${excluded.join(",")}`);
  return { wall, partyCpu: Math.max(...parties.map((p) => p.cpu)) / 1000, up: Math.max(...net.bytesSent) / 1e6, delivered: Math.max(...net.bytesDelivered) / 1e6 };
}

/** A message phase without its offline batch number ("offline.0.cope" → "offline.cope"). */
function phaseKey(phase: string): string {
  return phase.replace(/^offline\.\d+\./, "offline.");
}

/**
 * Per-phase CPU (all parties, in the handlers of that phase's inbound messages), uploaded bytes
 * and messages of one run, after a warm-up run whose base OTs every party keeps (BaseOtCache).
 * Throws the first party error.
 */
function phases(n: number, inputs: FieldVec[], mode: AggregationMode, predicates: Predicate[]): Array<{ phase: string; cpuMs: number; kbUp: number; msgs: number }> {
  const caches = inputs.map(() => new BaseOtCache());
  const stats = new Map<string, { cpuMs: number; bytes: number; msgs: number }>();
  const at = (k: string) => { let e = stats.get(k); if (!e) stats.set(k, (e = { cpuMs: 0, bytes: 0, msgs: 0 })); return e; };
  class PhaseTimed implements MessageParty {
    constructor(readonly p: SecureSumParty, readonly count: boolean) {}
    get done(): boolean { return this.p.done; }
    private run(phase: string, f: () => Outbound[]): Outbound[] {
      const t = cpuMs();
      const out = f();
      if (!this.count) return out;
      at(phase).cpuMs += cpuMs() - t;
      for (const o of out) { const e = at(phaseKey(o.phase)); e.bytes += o.payload.length; e.msgs++; }
      return out;
    }
    start(): Outbound[] { return this.run("(start)", () => this.p.start()); }
    receive(m: Inbound): Outbound[] { return this.run(phaseKey(m.phase), () => this.p.receive(m)); }
  }
  for (const count of [false, true]) {
    const sid = new TextEncoder().encode(`bench/validated-scale/phases/${n}/${inputs[0]!.length}/${mode}/${predicates.length}/${count}`);
    const parties = inputs.map((x, me) => new PhaseTimed(new SecureSumParty({ field: m61, parties: n, me, mode, length: x.length, predicates, sessionId: sid }, x, cryptoRng,
      { baseOts: caches[me]!.forSession(inputs.map((_, j) => `node-${j}`)) }), count));
    const net = runNetwork(parties);
    const err = net.errors.find((e) => e !== undefined);
    if (err) throw err instanceof Error ? err : new Error(String(err));
  }
  return [...stats].map(([phase, e]) => ({ phase, cpuMs: e.cpuMs, kbUp: e.bytes / 1e3, msgs: e.msgs })).sort((a, b) => b.cpuMs - a.cpuMs);
}

/**
 * Discrete-event run with a per-hop relay latency: every party has its own clock (its own
 * machine); a handler starts at max(party clock, message arrival) and advances the clock by
 * its measured CPU time; every message arrives `latencyMs` after its sender's clock. Returns
 * the simulated makespan (s) and the sequential message rounds. Throws the first party error.
 */
export function simulateLatency(parties: MessageParty[], latencyMs: number): { sim: number; rounds: number } {
  const n = parties.length;
  const clock = new Array<number>(n).fill(0); // ms
  const depth = new Array<number>(n).fill(0);
  const seq = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  type Ev = { at: number; order: number; to: number; round: number; m: Inbound };
  const queue: Ev[] = [];
  let order = 0, rounds = 0;
  const post = (from: number, outs: Outbound[]) => {
    for (const o of outs) {
      const tos = o.to === "all" ? [...Array(n).keys()].filter((j) => j !== from) : [o.to];
      for (const to of tos) queue.push({ at: clock[from]! + latencyMs, order: order++, to, round: depth[from]! + 1, m: { from, phase: o.phase, seq: seq[from]![to]!++, payload: o.payload } });
    }
  };
  const timed = (i: number, f: () => Outbound[]) => {
    const t = cpuMs();
    const out = f();
    clock[i]! += cpuMs() - t;
    post(i, out);
  };
  parties.forEach((p, i) => timed(i, () => p.start()));
  while (queue.length) {
    let k = 0;
    for (let j = 1; j < queue.length; j++) if (queue[j]!.at < queue[k]!.at || (queue[j]!.at === queue[k]!.at && queue[j]!.order < queue[k]!.order)) k = j;
    const e = queue.splice(k, 1)[0]!;
    clock[e.to] = Math.max(clock[e.to]!, e.at);
    depth[e.to] = Math.max(depth[e.to]!, e.round);
    rounds = Math.max(rounds, e.round);
    timed(e.to, () => parties[e.to]!.receive(e.m));
  }
  if (!parties.every((p) => p.done)) throw new Error("simulateLatency: parties stalled");
  return { sim: Math.max(...clock) / 1000, rounds };
}

function simulated(n: number, inputs: FieldVec[], mode: AggregationMode, predicates: Predicate[], latencyMs: number) {
  const sid = new TextEncoder().encode(`bench/validated-scale/sim/${n}/${inputs[0]!.length}/${mode}/${predicates.length}/${latencyMs}`);
  const parties = inputs.map((x, me) => new SecureSumParty({ field: m61, parties: n, me, mode, length: x.length, predicates, sessionId: sid }, x, cryptoRng));
  return simulateLatency(parties, latencyMs);
}

export async function run(args: string[]): Promise<BenchResult> {
  const ds = (arg(args, "d") ?? "2410,10000,100000").split(",").map(Number);
  const n = Number(arg(args, "n") ?? 5);
  const modes = (arg(args, "modes") ?? "pine,range,none,linear").split(",");
  const latencies = arg(args, "latency")?.split(",").map(Number) ?? [];
  const reps = Number(arg(args, "reps") ?? 1);
  const aes = arg(args, "aes") ?? "node";
  const byPhase = args.includes("--phases");
  if (aes !== "node" && aes !== "js") throw new Error(`validated-scale: --aes must be node or js, got ${aes}`);
  if (aes === "node") installNodeAes(); // the party thread's native AES-CTR streams and fixed-key π
  const rows: BenchResult["rows"] = [];
  const notes: string[] = [];
  const load0 = loadavg()[0]!;
  for (const d of ds) {
    const { plan, inputs } = updates(n, d);
    const pine: Predicate[] = [{ kind: "l2-norm", bound: plan.l2Bound, method: "pine" }];
    const cases: Array<[string, AggregationMode, Predicate[]]> = [];
    if (modes.includes("pine")) cases.push(["validated+pine", "validated", pine]);
    if (modes.includes("range") && d <= 2500) { // ≈ 23 witness bits per entry: 100+ MB per party already at 2410
      // Before PINE: per-entry signed ranges + the exact L2 check, at the range plan's own fracBits.
      const rp = planUpdateEncoding({ p: m61.p, parties: n, dim: d, clipNorm: 8, maxSamples: 1024, normCheck: "range" });
      cases.push([`validated+range (before, f = ${rp.fracBits})`, "validated", [
        { kind: "range", bits: rp.rangeBits, indices: [0, d], offset: BigInt(rp.intBound) },
        { kind: "l2-norm", bound: rp.l2Bound },
      ]]);
    }
    if (modes.includes("none")) cases.push(["validated (no predicates)", "validated", []]);
    if (modes.includes("linear")) cases.push(["linear-only", "linear-only", []]);
    for (const [name, mode, preds] of cases) {
      try {
        const vp = new ValidationPlan(m61, plan.length, preds);
        const r = once(n, inputs, mode, preds);
        rows.push({
          mode: name, N: n, params: d, entries: plan.length, fracBits: plan.fracBits,
          witness: preds.length ? vp.auxLength + vp.lateMaskLength : 0, proof_late: preds.length ? vp.maskLength - vp.lateMaskLength : 0,
          wall_s: r.wall, party_cpu_s: r.partyCpu, MB_up_per_party: r.up, MB_delivered_per_party: r.delivered,
        });
        console.error(`validated-scale: ${name} d=${d}: wall ${r.wall.toFixed(1)} s, party cpu ${r.partyCpu.toFixed(1)} s, up ${r.up.toFixed(1)} MB`);
        if (byPhase) {
          for (const r of phases(n, inputs, mode, preds)) rows.push({ mode: name, N: n, params: d, phase: r.phase, cpu_ms_all_parties: r.cpuMs, kB_up_all_parties: r.kbUp, messages: r.msgs, load_1min: loadavg()[0]! });
        }
        for (const L of latencies) {
          // min over reps: the least disturbed run on a shared machine
          const sims = Array.from({ length: reps }, () => simulated(n, inputs, mode, preds, L));
          const s = sims.reduce((a, b) => (b.sim < a.sim ? b : a));
          rows.push({ mode: name, N: n, params: d, latency_ms_per_hop: L, rounds: s.rounds, sim_s: s.sim, load_1min: loadavg()[0]! });
          console.error(`validated-scale: ${name} d=${d} latency ${L} ms/hop: ${s.rounds} rounds, simulated ${s.sim.toFixed(2)} s (load ${loadavg()[0]!.toFixed(1)})`);
        }
      } catch (e) {
        notes.push(`${name} d=${d} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  notes.push(`synthetic update: random direction at clipNorm 8, n = 1024 samples, quantised with the plan planUpdateEncoding gives a PINE job of that size (fracBits in the table); the PINE bound is that plan's l2Bound; every party honest`);
  notes.push("includes: base OTs (those offline.ts runs, no reuse across runs), the offline phase (SoftSpokenOT, triples for the product proof), authenticated inputs (COPE), late inputs, product proof, MAC checks; excludes: relay latency and the coordinator");
  notes.push("time: party_cpu_s = slowest party's process CPU inside start()/receive() (parties on separate machines); wall_s = all N parties serialised on one thread of a shared 2-core machine");
  notes.push("bytes: MB_up = payload bytes a party uploads (a broadcast counted once, as sent to the relay); MB_delivered = with broadcast fan-out; a node's relay traffic per round ≈ up + what it receives");
  if (byPhase) notes.push("phase rows (--phases): a second run with the base OTs kept from the first; cpu_ms_all_parties = CPU of all N parties in the handlers of that phase's inbound messages (what receiving it triggers; \"(start)\" = start()), kB_up_all_parties and messages = what all parties sent in that phase (a broadcast once); offline batch numbers folded");
  if (latencies.length) notes.push(`sim_s (--latency): a discrete-event run, every party on its own machine (its clock advances by the process CPU of each handler), each message delivered latency_ms_per_hop after its sender's clock; fastest of ${reps} run(s); rounds = sequential message rounds of that run (a Lamport clock, so it can exceed the schedule's depth when an unrelated later message arrives first)`);
  notes.push(`PRG streams: ${aes === "node" ? "node:crypto AES-128-CTR (the party thread's setting)" : "sync JS AES (@noble/ciphers)"}`);
  uninstallNodeAes();
  notes.push(`witness = exact-norm slack bits + PINE success/window bits (late inputs); proof_late = product-proof values; machine load (1 min) at start ${load0.toFixed(1)}`);
  return { name: "validated-scale", rows, notes };
}
