/**
 * `npm run bench -- mascot-census [--n=3,10] [--aes=webcrypto,node,node-js-sha] [--rows=2000]`: the
 * validated adult census round (the stats bench's query, layout and range predicates) with N
 * parties in one process, every party on the node agent's path (SecureSumParty.receiveAsync,
 * real base OTs and offline phase), no relay. Reports the CPU each party spends in its own
 * calls (the figure that adds up when N node processes share the machine's cores), the total
 * over all parties, bytes uploaded per party and the WebCrypto calls made. `--aes=node` runs
 * the PRG streams and the fixed-key π on node:crypto's AES as the party thread does (client/agent/
 * party-aes.ts); `webcrypto` is the path without it (browsers, workerd); `node-js-sha` is `node`
 * with the protocol's SHA-256 on @noble/hashes (before issue 13's native SHA-256 hook).
 * Excludes: the agent's envelope sealing/signing/verification, relay and coordinator.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { m61 } from "../protocol/field/index.ts";
import { cryptoRng } from "../protocol/rng.ts";
import { SecureSumParty, type InboundMessage, type OutboundMessage } from "../protocol/mascot/party.ts";
import { jobTypes } from "../protocol/jobs/registry.ts";
import { encodeContribution } from "../protocol/stats/index.ts";
import { parseCsv } from "../client/data/parse.ts";
import { installNodeAes, uninstallNodeAes } from "../client/agent/party-aes.ts";
import { setNativeSha256 } from "../protocol/mascot/hash.ts";
import { cpuMs } from "./timing.ts";
import type { BenchResult } from "./types.ts";
import { strArg as arg } from "./args.ts";

const EX = path.resolve(import.meta.dirname, "..", "examples");


/** Counts crypto.subtle encrypt/decrypt/importKey calls while `f` runs. */
async function countingSubtle<T>(f: () => Promise<T>): Promise<{ value: T; calls: number }> {
  const s = crypto.subtle as unknown as Record<string, (...a: unknown[]) => unknown>;
  const names = ["encrypt", "decrypt", "importKey"], saved = names.map((k) => s[k]!);
  let calls = 0;
  names.forEach((k, i) => { s[k] = (...a: unknown[]) => { calls++; return saved[i]!.apply(crypto.subtle, a); }; });
  try {
    return { value: await f(), calls };
  } finally {
    names.forEach((k, i) => { s[k] = saved[i]!; });
  }
}

/** One validated census round with n parties on the async path; per-party CPU (ms) and bytes up. */
async function censusRound(n: number, rows: number): Promise<{ cpu: number[]; up: number[]; wall: number }> {
  const schemaJson = JSON.parse(readFileSync(path.join(EX, "schemas/adult.json"), "utf8"));
  const queryJson = JSON.parse(readFileSync(path.join(EX, "queries/adult-census.json"), "utf8"));
  const task = jobTypes.stats.parseTask({ query: queryJson, schema: schemaJson });
  const plan = jobTypes.stats.roundPlan(task, { field: "m61", mode: "validated", parties: n, evaluationOnly: false });
  const all = parseCsv(readFileSync(path.join(EX, "data/adult-train.csv"), "utf8"), task.schema, { file: "adult-train.csv" });
  const inputs = Array.from({ length: n }, (_, i) => m61.fromBigInts(encodeContribution(task.query, task.schema, all.slice(i * rows, (i + 1) * rows), { modulus: m61.p }).values));
  const sid = cryptoRng.bytes(32);
  const parties = inputs.map((x, me) => new SecureSumParty({ field: m61, parties: n, me, mode: "validated", length: plan.length, predicates: plan.predicates, sessionId: sid }, x, cryptoRng));
  const cpu = new Array<number>(n).fill(0), up = new Array<number>(n).fill(0);
  const seq = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const queue: Array<{ to: number; m: InboundMessage }> = [];
  const post = (from: number, outs: OutboundMessage[]) => {
    for (const o of outs) {
      up[from]! += o.payload.length;
      for (const to of o.to === "all" ? [...Array(n).keys()].filter((j) => j !== from) : [o.to]) queue.push({ to, m: { from, phase: o.phase, seq: seq[from]![to]!++, payload: o.payload } });
    }
  };
  const t0 = performance.now();
  parties.forEach((p, i) => { const c = cpuMs(); const o = p.start(); cpu[i]! += cpuMs() - c; post(i, o); });
  for (let head = 0; head < queue.length; head++) {
    const { to, m } = queue[head]!;
    const c = cpuMs();
    const o = await parties[to]!.receiveAsync(m);
    cpu[to]! += cpuMs() - c;
    post(to, o);
  }
  if (!parties.every((p) => p.done)) throw new Error("mascot-census: the round did not finish");
  return { cpu, up, wall: (performance.now() - t0) / 1000 };
}

export async function run(args: string[]): Promise<BenchResult> {
  const ns = arg(args, "n", "3,10").split(",").map(Number);
  const aes = arg(args, "aes", "webcrypto,node").split(",");
  const rows = Number(arg(args, "rows", "2000"));
  const out: BenchResult["rows"] = [];
  await censusRound(2, 200); // JIT warm-up, not reported: the first configuration would pay it
  for (const n of ns) {
    for (const a of aes) {
      if (a !== "node" && a !== "webcrypto" && a !== "node-js-sha") throw new Error(`mascot-census: --aes must be webcrypto, node or node-js-sha, got ${a}`);
      if (a !== "webcrypto") installNodeAes();
      if (a === "node-js-sha") setNativeSha256(undefined);
      try {
        const load = os.loadavg()[0]!;
        const { value: r, calls } = await countingSubtle(() => censusRound(n, rows));
        out.push({
          parties: n, aes: a, party_cpu_max_s: Number((Math.max(...r.cpu) / 1000).toFixed(2)), party_cpu_sum_s: Number((r.cpu.reduce((x, y) => x + y, 0) / 1000).toFixed(2)),
          mb_up_per_party: Number((Math.max(...r.up) / 1e6).toFixed(2)), webcrypto_calls_per_party: Math.round(calls / n), wall_in_process_s: Number(r.wall.toFixed(2)), load_1m: `${load.toFixed(1)}→${os.loadavg()[0]!.toFixed(1)}`,
        });
        console.log(JSON.stringify(out[out.length - 1]));
      } finally {
        uninstallNodeAes();
      }
    }
  }
  return {
    name: "mascot-census",
    rows: out,
    notes: [
      "validated adult census round (stats bench query: range predicates, product proof, offline triples), all parties in one process on the receiveAsync path; real base OTs (first round with every peer)",
      "party_cpu: CPU (user + system) inside each party's own calls; sum = what N node processes add up on a shared machine; excludes envelope crypto, relay, coordinator",
      "aes=node: PRG streams on node:crypto AES-128-CTR and the OT extension's fixed-key π on node:crypto AES-128-ECB and the protocol's SHA-256 on node:crypto (the party thread's setting, client/agent/party-aes.ts installNodeAes); aes=node-js-sha: the same with SHA-256 on @noble/hashes; aes=webcrypto: WebCrypto prefetch + JS fallback (browser/workerd path)",
    ],
  };
}
