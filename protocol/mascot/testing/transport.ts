/**
 * An in-memory transport that runs n message-driven parties in one process, for tests and
 * benchmarks. It plays the relay's role: numbers each recipient's inbound stream from each
 * sender (seq = 0, 1, 2, … counting point-to-point and broadcast messages alike), fans a
 * broadcast out to every other party with identical bytes, and counts traffic. Hooks let a
 * test tamper with, drop, duplicate (replay) or reorder messages in flight; a seeded Rng
 * gives a random but per-channel-FIFO interleaving (what a real relay may do). Also the
 * offline phase's own in-memory runners ({@link runOfflineInMemory}). Testing module: no
 * production path imports it.
 */
import type { Rng } from "../../rng.ts";
import { randomBelow } from "../../rng.ts";
import type { OfflineInbound, OfflineOutbound, OfflineParty } from "../offline.ts";
import type { TripleShares } from "../triples.ts";
import type { InboundMessage as Inbound, OutboundMessage as Outbound } from "../types.ts";

/** A message produced by a party, and one delivered to a party (types.ts). */
export type { OutboundMessage as Outbound, InboundMessage as Inbound } from "../types.ts";

/** The minimal party interface the transport drives. */
export interface MessageParty {
  start(): Outbound[];
  receive(m: Inbound): Outbound[];
  readonly done: boolean;
}

/** One message in flight from `from` to `to`. */
export interface Envelope {
  from: number;
  to: number;
  phase: string;
  seq: number;
  payload: Uint8Array;
  /** True if the sender addressed it to "all". */
  broadcast: boolean;
  /**
   * Message round (set by the transport): 1 + the largest round of any message the sender
   * had received when it sent this one (1 for a party's first messages). Along the critical
   * path this is the number of sequential relay trips (see {@link NetworkRun.rounds}).
   */
  round?: number;
}

/** Test hooks: tamper/drop/replay/reorder envelopes, random interleaving, a delivery cap. */
export interface NetworkHooks {
  /**
   * Sees every envelope as it is queued. Return it (possibly modified), several (e.g. a
   * replayed copy), or null to drop it.
   */
  tamper?(e: Envelope): Envelope | Envelope[] | null;
  /** Random interleaving across channels (per-channel FIFO kept). Default: global FIFO. */
  schedule?: Rng;
  /** Stop after this many deliveries (guards against loops in tests). Default 1e6. */
  maxDeliveries?: number;
}

/** What a run produced: per-party errors, completion and traffic counters. */
export interface NetworkRun {
  /** Per party: the error it threw (usually a ProtocolAbort), or undefined. */
  errors: Array<unknown>;
  /** Per party: true if it finished. */
  done: boolean[];
  /** Per party: payload bytes uploaded (a broadcast counts once, as sent to a relay). */
  bytesSent: number[];
  /** Per party: payload bytes delivered to others (a broadcast counts once per recipient). */
  bytesDelivered: number[];
  /** Per party: messages sent (a broadcast counts once). */
  messagesSent: number[];
  /** Number of deliveries made. */
  deliveries: number;
  /**
   * Sequential message rounds (relay round trips on the critical path): the largest
   * {@link Envelope.round} delivered. A party's state after a receive() depends on every
   * message it has received, so a message's round is 1 + the largest round its sender had
   * received (a Lamport clock); with a per-hop relay latency L a run needs ≥ rounds·L.
   */
  rounds: number;
  /** Per phase: [first, last] round in which a message of that phase was delivered. */
  phaseRounds: Record<string, [number, number]>;
}

/**
 * Runs the parties to completion (or until every queue is empty). A party that throws is
 * stopped: its error is recorded and nothing more is delivered to it. Throws only for our
 * bugs (a non-integer or out-of-range destination).
 */
export function runNetwork(parties: readonly MessageParty[], hooks: NetworkHooks = {}): NetworkRun {
  const n = parties.length;
  const errors: unknown[] = new Array<unknown>(n).fill(undefined);
  const stopped = new Array<boolean>(n).fill(false);
  const bytesSent = new Array<number>(n).fill(0);
  const bytesDelivered = new Array<number>(n).fill(0);
  const messagesSent = new Array<number>(n).fill(0);
  const seq: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  // One FIFO per (from, to) channel.
  const channels: Envelope[][][] = Array.from({ length: n }, () => Array.from({ length: n }, () => []));
  const globalOrder: Array<[number, number]> = [];
  // Lamport clock per party: the largest round among the messages it has received.
  const clock = new Array<number>(n).fill(0);
  let rounds = 0;
  const phaseRounds: Record<string, [number, number]> = {};

  const enqueue = (e: Envelope): void => {
    const out = hooks.tamper ? hooks.tamper(e) : e;
    if (out === null) return;
    for (const x of Array.isArray(out) ? out : [out]) {
      channels[x.from]![x.to]!.push(x);
      globalOrder.push([x.from, x.to]);
      bytesDelivered[x.from]! += x.payload.length;
    }
  };
  const send = (from: number, msgs: readonly Outbound[]): void => {
    for (const m of msgs) {
      messagesSent[from]!++;
      bytesSent[from]! += m.payload.length;
      const targets = m.to === "all" ? [...Array(n).keys()].filter((j) => j !== from) : [m.to];
      for (const to of targets) {
        if (!Number.isInteger(to) || to < 0 || to >= n || to === from) throw new RangeError(`runNetwork: party ${from} sent to bad destination ${String(to)}`);
        enqueue({ from, to, phase: m.phase, seq: seq[from]![to]!++, payload: m.payload, broadcast: m.to === "all", round: clock[from]! + 1 });
      }
    }
  };
  const call = (i: number, f: () => Outbound[]): void => {
    if (stopped[i]) return;
    let out: Outbound[];
    try {
      out = f();
    } catch (e) {
      errors[i] = e;
      stopped[i] = true;
      return;
    }
    send(i, out);
  };

  for (let i = 0; i < n; i++) call(i, () => parties[i]!.start());
  const max = hooks.maxDeliveries ?? 1_000_000;
  let deliveries = 0;
  while (deliveries < max) {
    let e: Envelope | undefined;
    if (hooks.schedule) {
      const live: Array<[number, number]> = [];
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (channels[a]![b]!.length > 0) live.push([a, b]);
      if (live.length === 0) break;
      const [a, b] = live[randomBelow(hooks.schedule, live.length)]!;
      e = channels[a]![b]!.shift();
    } else {
      const next = globalOrder.shift();
      if (!next) break;
      e = channels[next[0]]![next[1]]!.shift();
    }
    if (!e) break;
    deliveries++;
    const r = e.round ?? clock[e.from]! + 1;
    if (r > clock[e.to]!) clock[e.to] = r;
    if (r > rounds) rounds = r;
    const pr = phaseRounds[e.phase];
    if (!pr) phaseRounds[e.phase] = [r, r];
    else { if (r < pr[0]) pr[0] = r; if (r > pr[1]) pr[1] = r; }
    const msg: Inbound = { from: e.from, phase: e.phase, seq: e.seq, payload: e.payload };
    call(e.to, () => parties[e.to]!.receive(msg));
  }
  return { errors, done: parties.map((p) => p.done), bytesSent, bytesDelivered, messagesSent, deliveries, rounds, phaseRounds };
}

// ---- the offline phase alone (offline.ts), in one process: tests and benchmarks ----

type OfflineRun = { alphas: bigint[]; triples: TripleShares[]; bytesSent: number[]; messages: number };

/**
 * The offline runners' loop, shared by the sync and async runner: FIFO delivery with per
 * (sender, recipient) seq numbers and broadcasts fanned out. Yields each delivery; the
 * caller sends back what the recipient returned.
 */
function* offlineDeliveries(parties: OfflineParty[], name: string): Generator<{ to: number; m: OfflineInbound }, OfflineRun, OfflineOutbound[]> {
  const n = parties.length;
  const queue: Array<{ to: number; m: OfflineInbound }> = [];
  const seq = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const post = (from: number, outs: OfflineOutbound[]) => {
    for (const o of outs) {
      const tos = o.to === "all" ? [...Array(n).keys()].filter((j) => j !== from) : [o.to];
      for (const to of tos) queue.push({ to, m: { from, phase: o.phase, seq: seq[from]![to]!++, payload: o.payload } });
    }
  };
  let messages = 0, head = 0;
  parties.forEach((p, i) => post(i, p.start()));
  while (head < queue.length) {
    const d = queue[head++]!;
    messages++;
    post(d.to, yield d);
    if (head > 4096) { queue.splice(0, head); head = 0; }
  }
  if (!parties.every((p) => p.done)) throw new Error(`${name}: parties stalled`);
  return { alphas: parties.map((p) => p.alpha()), triples: parties.map((p) => p.triples()), bytesSent: parties.map((p) => p.bytesSent), messages };
}

/**
 * Runs n offline parties in one process with FIFO delivery (tests, benchmarks). Returns
 * every party's α_i and triples, and the bytes each party sent. Throws the first ProtocolAbort.
 */
export function runOfflineInMemory(parties: OfflineParty[]): OfflineRun {
  const it = offlineDeliveries(parties, "runOfflineInMemory");
  let r = it.next([]);
  while (!r.done) r = it.next(parties[r.value.to]!.receive(r.value.m));
  return r.value;
}

/** {@link runOfflineInMemory} with {@link OfflineParty.receiveAsync} (WebCrypto prefetch). */
export async function runOfflineInMemoryAsync(parties: OfflineParty[]): Promise<OfflineRun> {
  const it = offlineDeliveries(parties, "runOfflineInMemoryAsync");
  let r = it.next([]);
  while (!r.done) r = it.next(await parties[r.value.to]!.receiveAsync(r.value.m));
  return r.value;
}
