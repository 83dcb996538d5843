/**
 * `npm run bench -- steady-rounds [--d=31] [--n=5] [--rounds=8] [--norm=range|pine]`: what a
 * validated round costs a node that has been running for a while, in process. The same
 * validated secure sum of a synthetic learning update (the plan a learning job of d
 * parameters gets: per-entry ranges + exact L2 by default, or PINE) runs `rounds` times in a
 * row, each party keeping its base OTs from the first round (as nodes that met before,
 * client/agent/base-ot-cache.ts). Reported: the process CPU of a round divided by N (all
 * parties run on this one thread; V8's compiler and GC threads included, as in a node), for
 * the first round and as the median and maximum of rounds 3..R. Code that V8 has to rebuild
 * every round (docs/mascot.md, "Kernels that keep their optimised code") shows up here as a
 * steady figure above what the same code costs once compiled.
 */
import { m61 } from "../protocol/field/index.ts";
import { SecureSumParty, type Predicate } from "../protocol/mascot/party.ts";
import { runNetwork } from "../protocol/mascot/testing/transport.ts";
import { cryptoRng } from "../protocol/rng.ts";
import { installNodeAes } from "../client/agent/party-aes.ts";
import { BaseOtCache } from "../client/agent/base-ot-cache.ts";
import { loadNote, type BenchResult } from "./types.ts";
import { median } from "./timing.ts";
import { updates } from "./validated-scale.ts";
import { optArg as arg } from "./args.ts";

export async function run(args: string[]): Promise<BenchResult> {
  const d = Number(arg(args, "d") ?? 31), n = Number(arg(args, "n") ?? 5), rounds = Number(arg(args, "rounds") ?? 8);
  const norm = arg(args, "norm") ?? "range";
  if (norm !== "range" && norm !== "pine") throw new Error(`steady-rounds: --norm must be range or pine, got ${norm}`);
  if (!(Number.isInteger(rounds) && rounds >= 3)) throw new Error("steady-rounds: --rounds must be an integer ≥ 3");
  installNodeAes(); // the party thread's native AES-CTR streams and fixed-key π
  const { plan, inputs } = updates(n, d, norm);
  const preds: Predicate[] = norm === "pine"
    ? [{ kind: "l2-norm", bound: plan.l2Bound, method: "pine" }]
    : [{ kind: "range", bits: plan.rangeBits, indices: [0, d], offset: BigInt(plan.intBound) }, { kind: "l2-norm", bound: plan.l2Bound }];
  const load0 = loadNote("at start");
  const rows: BenchResult["rows"] = [];
  {
    const caches = inputs.map(() => new BaseOtCache());
    const cpu: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const sid = new TextEncoder().encode(`bench/steady-rounds/${r}`);
      const parties = inputs.map((x, me) => new SecureSumParty({ field: m61, parties: n, me, mode: "validated", length: x.length, predicates: preds, sessionId: sid }, x, cryptoRng,
        { baseOts: caches[me]!.forSession(inputs.map((_, j) => `node-${j}`)) }));
      const c0 = process.cpuUsage();
      const net = runNetwork(parties);
      const c = process.cpuUsage(c0);
      const err = net.errors.find((e) => e !== undefined);
      if (err) throw err instanceof Error ? err : new Error(String(err));
      if (parties[0]!.result!.excluded.length) throw new Error(`steady-rounds: honest parties excluded: ${parties[0]!.result!.excluded.join(",")}`);
      cpu.push((c.user + c.system) / 1e6 / n);
    }
    rows.push({ d, N: n, norm, rounds, first_round_cpu_s_per_party: cpu[0]!, steady_cpu_s_per_party: median(cpu.slice(2)), max_steady_cpu_s_per_party: Math.max(...cpu.slice(2)) });
  }
  return {
    name: "steady-rounds",
    rows,
    notes: [
      "CPU = process CPU of a round (all N parties on this thread, V8 compiler and GC threads included) / N; steady = median of rounds 3..R",
      "base OTs kept from the first round (a node meeting the same peers again); includes the offline phase, authenticated inputs, the product proof and MAC checks; excludes the relay",
      load0,
      loadNote("at end"),
    ],
  };
}
