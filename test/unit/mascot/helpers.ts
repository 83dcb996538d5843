import { m61 } from "../../../protocol/field/index.ts";
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { SecureSumParty, type AggregationMode, type Predicate } from "../../../protocol/mascot/party.ts";
import { runNetwork, type NetworkHooks } from "../../../protocol/mascot/transport.ts";

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
