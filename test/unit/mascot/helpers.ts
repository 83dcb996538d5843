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

import type { OfflineSource } from "../../../protocol/mascot/online.ts";
import type { InputCopeSeeds } from "../../../protocol/mascot/input.ts";
import { SecureSumParty as Party } from "../../../protocol/mascot/party.ts";

/**
 * TEST-ONLY trusted dealer standing in for the offline phase: every party derives the same
 * α and pre-seeded input COPE from a shared seed and keeps its own shares. Insecure by
 * construction; used to test the online phase and validation independently of offline.ts.
 * `badAlpha`: that party is handed α_i + 1 while its COPE keys follow the true α_i (a MAC-key
 * share inconsistent with its MACs). (`cope` is accepted for older call sites and ignored.)
 */
export function dealer(f: Field, n: number, me: number, seed: string, opts: { badAlpha?: number; cope?: true } = {}): () => OfflineSource {
  return () => {
    const rng = seededRng(`dealer/${seed}`);
    const alphas = f.random(n, rng);
    const mine = f.get(alphas, me);
    const handed = opts.badAlpha === me ? (mine + 1n) % f.p : mine;
    return { start: () => [], receive: () => [], done: true, alpha: () => handed, inputCopeSeeds: () => dealtCopeSeeds(f, seed, me, mine) };
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

export function runWithDealer(opts: { n: number; inputs: FieldVec[]; predicates: Predicate[]; field?: Field; seed?: string; badAlpha?: number; offline?: (me: number) => () => OfflineSource }, hooks?: NetworkHooks) {
  const field = opts.field ?? m61;
  const parties = opts.inputs.map((x, me) => new Party(
    { field, parties: opts.n, me, mode: "validated", length: x.length, predicates: opts.predicates, sessionId: SID },
    x, seededRng(`${opts.seed ?? "s"}/${me}`), {
      offline: opts.offline ? opts.offline(me) : dealer(field, opts.n, me, opts.seed ?? "s", opts.badAlpha !== undefined ? { badAlpha: opts.badAlpha } : {}),
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
