import { m61 } from "../../../protocol/field/index.ts";
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { SecureSumParty, type AggregationMode, type OutboundMessage, type Predicate } from "../../../protocol/mascot/party.ts";
import { runNetwork, type NetworkHooks } from "../../../protocol/mascot/testing/transport.ts";

export const SID = new TextEncoder().encode("job-1/round-0/attempt-0");

export function makeParties(opts: { n: number; inputs: FieldVec[]; mode: AggregationMode; predicates?: Predicate[]; field?: Field; seed?: string }): SecureSumParty[] {
  const field = opts.field ?? m61;
  return opts.inputs.map((x, me) => new SecureSumParty(
    { field, parties: opts.n, me, mode: opts.mode, length: x.length, predicates: opts.predicates ?? [], sessionId: SID },
    x, seededRng(`${opts.seed ?? "s"}/${me}`)));
}

export function run(opts: { n: number; inputs: FieldVec[]; mode: AggregationMode; predicates?: Predicate[]; field?: Field; seed?: string }, hooks?: NetworkHooks) {
  const parties = makeParties(opts);
  const net = runNetwork(parties, hooks);
  return { parties, net };
}

export function plainSum(f: Field, xs: FieldVec[], skip: number[] = []): bigint[] {
  const acc = f.zeros(xs[0]!.length);
  xs.forEach((x, i) => { if (!skip.includes(i)) f.addInPlace(acc, x); });
  return f.toBigInts(acc);
}

export function randInputs(f: Field, n: number, d: number, seed: string, max = 1000): FieldVec[] {
  const rng = seededRng(seed);
  return Array.from({ length: n }, () => {
    const b = rng.bytes(4 * d);
    const xs = new Array<number>(d);
    for (let k = 0; k < d; k++) xs[k] = (b[4 * k]! | (b[4 * k + 1]! << 8)) % max;
    return f.fromInts(xs);
  });
}

import type { OfflineSource, Triples } from "../../../protocol/mascot/online.ts";
import type { InputCopeSeeds } from "../../../protocol/mascot/input.ts";
import { SecureSumParty as Party } from "../../../protocol/mascot/party.ts";

/**
 * TEST-ONLY trusted dealer standing in for the offline phase: every party derives the same
 * α, triples and pre-seeded input COPE from a shared seed and keeps its own shares.
 * Insecure by construction; used to test the online phase and validation independently of
 * offline.ts. (`cope` is accepted for older call sites and ignored: COPE is always dealt,
 * as every validated run now takes its input COPE seeds from the offline phase.)
 */
export function dealer(f: Field, n: number, me: number, seed: string, opts: { badTriple?: { party: number; index: number }; badMac?: { party: number; index: number }; cope?: true } = {}): (count: number) => OfflineSource {
  const { badTriple, badMac } = opts;
  return (count: number) => {
    const rng = seededRng(`dealer/${seed}`);
    const alphas = f.random(n, rng);
    const alpha = f.sum(alphas);
    const share = (x: FieldVec) => {
      const vs: FieldVec[] = [], ms: FieldVec[] = [];
      let accV = f.zeros(x.length), accM = f.zeros(x.length);
      const mac = f.scale(x, alpha);
      for (let i = 0; i < n - 1; i++) { const v = f.random(x.length, rng), m = f.random(x.length, rng); vs.push(v); ms.push(m); f.addInPlace(accV, v); f.addInPlace(accM, m); }
      vs.push(f.sub(x, accV)); ms.push(f.sub(mac, accM));
      return { value: vs[me]!, mac: ms[me]! };
    };
    const a = f.random(count, rng), b = f.random(count, rng);
    const c = f.mul(a, b);
    if (badTriple) f.set(c, badTriple.index, (f.get(c, badTriple.index) + 1n) % f.p);
    const t: Triples = { a: share(a), b: share(b), c: share(c) };
    if (badMac && badMac.party === me) f.set(t.a.mac, badMac.index, (f.get(t.a.mac, badMac.index) + 1n) % f.p);
    const mine = f.get(alphas, me);
    return { start: () => [], receive: () => [], done: true, alpha: () => mine, triples: () => t, inputCopeSeeds: () => dealtCopeSeeds(f, seed, me, mine) };
  };
}

/**
 * TEST-ONLY pre-seeded COPE for the online input (what offline.ts derives from its COPE
 * Initialize OTs): both base-OT keys per ordered pair from a shared seed; as the key holder,
 * the ones α's bits choose.
 */
function dealtCopeSeeds(f: Field, seed: string, me: number, alpha: bigint): InputCopeSeeds {
  const keys = (owner: number, holder: number) => {
    const rng = seededRng(`cope-dealer/${seed}/${owner}/${holder}`);
    return { k0: Array.from({ length: f.bits }, () => rng.bytes(16)), k1: Array.from({ length: f.bits }, () => rng.bytes(16)) };
  };
  return {
    sender: (j) => keys(me, j),
    receiver: (i) => {
      const { k0, k1 } = keys(i, me);
      return { delta: alpha, kDelta: Array.from({ length: f.bits }, (_, l) => (((alpha >> BigInt(l)) & 1n) === 1n ? k1[l]! : k0[l]!)) };
    },
  };
}

export function runWithDealer(opts: { n: number; inputs: FieldVec[]; predicates: Predicate[]; field?: Field; seed?: string; badTriple?: { party: number; index: number }; badMac?: { party: number; index: number }; offline?: (me: number) => (count: number) => OfflineSource }, hooks?: NetworkHooks) {
  const field = opts.field ?? m61;
  const parties = opts.inputs.map((x, me) => new Party(
    { field, parties: opts.n, me, mode: "validated", length: x.length, predicates: opts.predicates, sessionId: SID },
    x, seededRng(`${opts.seed ?? "s"}/${me}`), {
      offline: opts.offline ? opts.offline(me) : dealer(field, opts.n, me, opts.seed ?? "s", { ...(opts.badTriple ? { badTriple: opts.badTriple } : {}), ...(opts.badMac ? { badMac: opts.badMac } : {}) }),
    }));
  const net = runNetwork(parties, hooks);
  return { parties, net };
}

/** What {@link deliverAsync} drives: a SecureSumParty, or one in the agent's party thread (start may be async). */
export interface AsyncParty {
  start(): OutboundMessage[] | Promise<OutboundMessage[]>;
  receiveAsync(m: { from: number; phase: string; seq: number; payload: Uint8Array }): Promise<OutboundMessage[]>;
}

/**
 * Delivers messages one at a time in FIFO order, awaiting each receiveAsync (the node agent's
 * path); `tamper` may rewrite any message before delivery. Returns each party's error, if any.
 */
export async function deliverAsync(parties: AsyncParty[], tamper?: (from: number, m: OutboundMessage) => OutboundMessage): Promise<unknown[]> {
  const n = parties.length;
  const seq = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const queue: Array<{ to: number; from: number; m: OutboundMessage }> = [];
  const errors: unknown[] = new Array(n).fill(undefined);
  const post = (from: number, out: OutboundMessage[]) => {
    for (const raw of out) {
      const m = tamper ? tamper(from, raw) : raw;
      const to = m.to === "all" ? [...Array(n).keys()].filter((j) => j !== from) : [m.to];
      for (const t of to) queue.push({ to: t, from, m });
    }
  };
  for (const [i, p] of parties.entries()) post(i, await p.start());
  while (queue.length) {
    const { to, from, m } = queue.shift()!;
    if (errors[to] !== undefined) continue;
    try {
      post(to, await parties[to]!.receiveAsync({ from, phase: m.phase, payload: m.payload, seq: seq[to]![from]!++ }));
    } catch (e) {
      errors[to] = e;
    }
  }
  return errors;
}
