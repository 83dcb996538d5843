/**
 * `npm run bench -- base-ot [--reps=5] [--n=3,5,10] [--d=100] [--bits=16] [--round-reps=3] [--workerd]`:
 *
 * 1. One batch of 128 base OTs (one ordered pair, the offline setup's size):
 *    McQuoid–Rosulek–Roy POPF-OT on X25519 (base-ot-mrr.ts) with each backend — noble's JS
 *    ladder (the sync path), node:crypto and native WebCrypto X25519 (receiveAsync, what nodes run).
 *    The Chou–Orlandi "before" row (ristretto255 in JS, 266 ms pair CPU) was measured before
 *    Chou–Orlandi was removed with KOS15 (issue 13); the docs keep that number, this bench
 *    no longer runs it (bench/results/base-ot.json from before the removal still holds it).
 *    Median over `reps` of: sender = start + finish, receiver = receive; milliseconds.
 *    `--workerd` first checks WebCrypto X25519 inside workerd (miniflare; see workerdCheck).
 * 2. The base-OT share of a first validated round with new peers: N parties in process
 *    (one thread; native X25519 and AES work on the libuv pool), validated secure sum of d
 *    entries with a `range` predicate of `bits` bits (so the offline phase runs), every
 *    party on SecureSumParty.receiveAsync. Round 1 runs with empty base-OT caches (every
 *    pair fresh: the first round with new peers), round 2 with the caches round 1 filled
 *    (every pair reuses: no public-key operation), once with one public-key direction per pair
 *    (offline.ts derivedBaseOts, the default) and once with both. base-OT phase = round 1 − round 2 (same
 *    work otherwise); share = that / round 1; medians of `round-reps` such pairs after a
 *    warm-up pair.
 */
import { m61 } from "../protocol/field/index.ts";
import type { FieldVec } from "../protocol/field/types.ts";
import { cryptoRng } from "../protocol/rng.ts";
import { fromHex, toHex, utf8 } from "../protocol/encoding.ts";
import { SecureSumParty, type OutboundMessage } from "../protocol/mascot/party.ts";
import { OfflineParty } from "../protocol/mascot/offline.ts";
import { mrrPrepareAsync, mrrReceiveAsync, mrrSenderFinishAsync, mrrSenderStartAsync, type MrrPrepared } from "../protocol/mascot/base-ot-mrr.ts";
import { forceX25519BackendForTests, nativeX25519, x25519AsyncBackend, x25519Sync } from "../protocol/crypto/x25519.ts";
import { BaseOtCache } from "../client/agent/base-ot-cache.ts";
import type { BenchResult } from "./types.ts";
import { cpuMs, median } from "./timing.ts";
import { strArg as arg } from "./args.ts";

const M = 128;




/** Last measured process CPU (main thread + libuv pool, where WebCrypto runs) of {@link timeIt}, ms. */
let lastCpu = 0;
async function timeIt(f: () => unknown): Promise<number> {
  const t = performance.now(), c = cpuMs();
  await f();
  lastCpu = cpuMs() - c;
  return performance.now() - t;
}

type Times = { sender: number; receiver: number; senderCpu: number; receiverCpu: number; prepareCpu?: number };
type Impl = { name: string; backend: string; once: () => Promise<Times> };

function choices(): Uint8Array {
  return cryptoRng.bytes(M).map((b) => b & 1);
}

const IMPLS: Impl[] = [
  ...(["noble", "node-crypto", "webcrypto"] as const).map((backend): Impl => ({
    name: "MRR21 POPF-OT (X25519 + twist)",
    backend: { noble: "JS (noble ladder): sync path without node:crypto", "node-crypto": "native node:crypto X25519: Node, sync and async paths", webcrypto: "native WebCrypto X25519: async path in workerd/browsers" }[backend],
    async once() {
      forceX25519BackendForTests(backend);
      try {
        const sid = utf8(`bench/mrr/${backend}`), c = choices();
        let st: Awaited<ReturnType<typeof mrrSenderStartAsync>> | undefined, r: Awaited<ReturnType<typeof mrrReceiveAsync>> | undefined;
        const s1 = await timeIt(async () => { st = await mrrSenderStartAsync(sid, cryptoRng); }), c1 = lastCpu;
        const receiver = await timeIt(async () => { r = await mrrReceiveAsync(sid, c, st!.message, cryptoRng, 0); }), cr = lastCpu;
        const s2 = await timeIt(() => mrrSenderFinishAsync(st!.state, r!.message, M, 1));
        return { sender: s1 + s2, receiver, senderCpu: c1 + lastCpu, receiverCpu: cr };
      } finally {
        forceX25519BackendForTests(undefined);
      }
    },
  })),
  {
    name: "MRR21 POPF-OT, receiver halves prepared while idle",
    backend: "native node:crypto X25519; receiver = in-round part only (POPF program + one X25519 per OT)",
    async once() {
      const sid = utf8("bench/mrr/prepared"), c = choices();
      let pre: MrrPrepared[] = [], st: Awaited<ReturnType<typeof mrrSenderStartAsync>> | undefined, r: Awaited<ReturnType<typeof mrrReceiveAsync>> | undefined;
      await timeIt(async () => { pre = await mrrPrepareAsync(M, cryptoRng); });
      const cp = lastCpu;
      const s1 = await timeIt(async () => { st = await mrrSenderStartAsync(sid, cryptoRng); }), c1 = lastCpu;
      const receiver = await timeIt(async () => { r = await mrrReceiveAsync(sid, c, st!.message, cryptoRng, 0, pre); }), cr = lastCpu;
      const s2 = await timeIt(() => mrrSenderFinishAsync(st!.state, r!.message, M, 1));
      return { sender: s1 + s2, receiver, senderCpu: c1 + lastCpu, receiverCpu: cr, prepareCpu: cp };
    },
  },
];

/** FIFO in-process delivery through receiveAsync (the node agent's path). Returns wall ms and process CPU ms. */
async function runRound(parties: SecureSumParty[]): Promise<{ wall: number; cpu: number }> {
  const n = parties.length;
  const seq = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const queue: Array<{ to: number; from: number; m: OutboundMessage }> = [];
  let head = 0;
  const post = (from: number, out: OutboundMessage[]) => {
    for (const m of out) for (const t of m.to === "all" ? [...Array(n).keys()].filter((j) => j !== from) : [m.to]) queue.push({ to: t, from, m });
  };
  const t0 = performance.now(), c0 = cpuMs();
  parties.forEach((p, i) => post(i, p.start()));
  while (head < queue.length) {
    const { to, from, m } = queue[head++]!;
    post(to, await parties[to]!.receiveAsync({ from, phase: m.phase, payload: m.payload, seq: seq[to]![from]!++ }));
  }
  if (!parties.every((p) => p.done)) throw new Error("base-ot bench: round did not finish");
  return { wall: performance.now() - t0, cpu: cpuMs() - c0 };
}

type Round = { wall: number; cpu: number };

/** One fresh round (empty caches: every pair runs base OTs) then one round reusing every pair's bases. */
async function freshThenReuse(n: number, d: number, bits: number, tag: string, derived: boolean, prepared: boolean): Promise<{ fresh: Round; reuse: Round; reused: boolean }> {
  const ids = [...Array(n).keys()].map((i) => `node-${tag}-${i}`);
  const caches = ids.map(() => new BaseOtCache({ preparedTarget: prepared ? 128 * (n - 1) : 0 }));
  // As nodes that were idle before the round: receiver halves prepared outside the timed rounds.
  if (prepared) for (const c of caches) await c.prepare();
  const inputs: FieldVec[] = Array.from({ length: n }, () => m61.fromInts(Array.from({ length: d }, (_, k) => k % 200)));
  const mk = (r: number) => inputs.map((x, me) => {
    const sessionId = utf8(`bench/base-ot/${n}/${tag}/${r}`), baseOts = caches[me]!.forSession(ids);
    return new SecureSumParty(
      { field: m61, parties: n, me, mode: "validated", length: d, predicates: [{ kind: "range", bits }], sessionId },
      x, cryptoRng, { baseOts, offline: () => new OfflineParty({ field: m61, parties: n, me, sessionId, count: 0, derivedBaseOts: derived }, cryptoRng, { baseOts }) });
  });
  const fresh = await runRound(mk(1));
  const reuse = await runRound(mk(2));
  return { fresh, reuse, reused: caches.every((c) => c.size === n - 1) };
}

/** A warm-up pair (JIT, tables), then `reps` measured pairs; the medians. */
async function firstRoundShare(n: number, d: number, bits: number, reps: number, derived: boolean, prepared: boolean): Promise<{ fresh: Round; reuse: Round; reused: boolean }> {
  await freshThenReuse(n, d, bits, `warm-${Date.now()}`, derived, prepared);
  const xs: Array<{ fresh: Round; reuse: Round; reused: boolean }> = [];
  for (let r = 0; r < reps; r++) xs.push(await freshThenReuse(n, d, bits, `${Date.now()}-${r}`, derived, prepared));
  const med = (f: (x: { fresh: Round; reuse: Round }) => number) => median(xs.map(f));
  return {
    fresh: { wall: med((x) => x.fresh.wall), cpu: med((x) => x.fresh.cpu) },
    reuse: { wall: med((x) => x.reuse.wall), cpu: med((x) => x.reuse.cpu) },
    reused: xs.every((x) => x.reused),
  };
}

/**
 * WebCrypto X25519 inside workerd (miniflare): RFC 7748 §5.2's vector, a twist point (must
 * match noble), a low-order point (must be refused), and ms per import + import + deriveBits.
 */
async function workerdCheck(): Promise<Record<string, string | number>> {
  const { Miniflare, convertV4MiniflareOptions } = await import("miniflare");
  const script = `
const hex = (s) => Uint8Array.from(s.match(/../g).map((h) => parseInt(h, 16)));
const toHex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
const PRE = hex("302e020100300506032b656e04220420");
async function mul(k, u) {
  const der = new Uint8Array(48); der.set(PRE); der.set(k, 16);
  const priv = await crypto.subtle.importKey("pkcs8", der, { name: "X25519" }, false, ["deriveBits"]);
  const pub = await crypto.subtle.importKey("raw", u, { name: "X25519" }, false, []);
  try { return toHex(await crypto.subtle.deriveBits({ name: "X25519", public: pub }, priv, 256)); } catch (e) { return "refused: " + e.name; }
}
export default { async fetch() {
  const k = hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  const u2 = new Uint8Array(32); u2[0] = 2;
  const out = { kat: await mul(k, hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")), twist: await mul(k, u2), lowOrder: await mul(k, new Uint8Array(32)) };
  const t0 = Date.now(); for (let i = 0; i < 200; i++) await mul(crypto.getRandomValues(new Uint8Array(32)), u2);
  out.ms_per_op = (Date.now() - t0) / 200;
  return new Response(JSON.stringify(out));
} };`;
  const mf = new Miniflare(convertV4MiniflareOptions({ modules: true, script, compatibilityDate: "2025-06-01" }));
  try {
    const got = (await (await mf.dispatchFetch("http://localhost/")).json()) as Record<string, string | number>;
    const k = fromHex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"), u2 = new Uint8Array(32);
    u2[0] = 2;
    return {
      part: "workerd (miniflare) WebCrypto X25519", protocol: "checks", backend: "workerd",
      rfc7748: String(got.kat === "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
      twist_matches_noble: String(got.twist === toHex(x25519Sync(k, u2)!)), low_order_refused: String(String(got.lowOrder).startsWith("refused")),
      ms_per_op: got.ms_per_op!,
    };
  } finally {
    await mf.dispose();
  }
}

export async function run(args: string[]): Promise<BenchResult> {
  const reps = Number(arg(args, "reps", "5"));
  const ns = arg(args, "n", "3,5,10").split(",").filter(Boolean).map(Number);
  const d = Number(arg(args, "d", "100")), bits = Number(arg(args, "bits", "16"));
  const roundReps = Number(arg(args, "round-reps", "3"));
  const native = (await nativeX25519()) !== null;
  const rows: BenchResult["rows"] = [];
  if (args.includes("--workerd")) rows.push(await workerdCheck());
  const perBatch: Times[] = [];
  for (const impl of IMPLS) {
    await impl.once(); // warm-up (JIT, tables, WebCrypto probe)
    const xs: Times[] = [];
    for (let r = 0; r < reps; r++) xs.push(await impl.once());
    const med = (k: keyof Times) => median(xs.map((x) => x[k] ?? 0));
    const t: Times = { sender: med("sender"), receiver: med("receiver"), senderCpu: med("senderCpu"), receiverCpu: med("receiverCpu"), ...(xs[0]!.prepareCpu !== undefined ? { prepareCpu: med("prepareCpu") } : {}) };
    perBatch.push(t);
    rows.push({
      part: "batch of 128 OTs", protocol: impl.name, backend: impl.backend, sender_ms: t.sender, receiver_ms: t.receiver, pair_ms: t.sender + t.receiver,
      sender_cpu_ms: t.senderCpu, receiver_cpu_ms: t.receiverCpu, pair_cpu_ms: t.senderCpu + t.receiverCpu,
      ...(t.prepareCpu !== undefined ? { prepare_cpu_ms_idle: t.prepareCpu } : {}),
    });
  }
  const nat = perBatch[1]!, web = perBatch[2]!, pre = perBatch[3]!;
  const configs = [
    { derived: true, prepared: true, protocol: "MRR21 native, one public-key direction per pair, receiver halves prepared while idle (now)" },
    { derived: true, prepared: false, protocol: "MRR21 native, one public-key direction per pair, nothing prepared" },
    { derived: false, prepared: false, protocol: "MRR21 native, both directions public-key, nothing prepared" },
  ];
  for (const n of ns) {
    const reps = n >= 10 ? Math.min(roundReps, 2) : n >= 5 ? Math.max(1, roundReps - 2) : roundReps;
    for (const { derived, prepared, protocol } of configs) {
      const r = await firstRoundShare(n, d, bits, reps, derived, prepared);
      const baseNew = r.fresh.wall - r.reuse.wall, baseNewCpu = r.fresh.cpu - r.reuse.cpu;
      // Public-key batches × the per-batch CPU of part 1 (robust), next to the round-difference figures (noisy at small N).
      // The sender's work is the same either way: its CPU from the unprepared row, so that the two configurations differ only in the receiver's.
      const batches = (derived ? 1 : 2) * (n * (n - 1)) / 2, est = batches * (nat.senderCpu + (prepared ? pre : nat).receiverCpu);
      rows.push({
        part: `first validated round, N = ${n}`,
        protocol,
        backend: `d = ${d}, range ${bits} bits, in process`,
        round1_s: r.fresh.wall / 1000, round2_reuse_s: r.reuse.wall / 1000, base_ot_s: baseNew / 1000, base_ot_share: baseNew / r.fresh.wall,
        round1_cpu_s: r.fresh.cpu / 1000, base_ot_cpu_s: baseNewCpu / 1000, base_ot_cpu_share: baseNewCpu / r.fresh.cpu,
        pk_batches: batches, base_ot_cpu_est_s: est / 1000, base_ot_cpu_share_est: est / r.fresh.cpu, all_pairs_reused: String(r.reused),
      });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
  }
  return {
    name: "base-ot",
    rows,
    notes: [
      `WebCrypto X25519 available: ${native}; the rounds ran on the "${await x25519AsyncBackend()}" backend; per-batch figures are medians of ${reps} runs after a warm-up; pair = sender + receiver of one ordered pair; cpu = process CPU (main thread + libuv pool), robust to other load`,
      `per pair, CPU: node:crypto ${(nat.senderCpu + nat.receiverCpu).toFixed(1)} ms, WebCrypto ${(web.senderCpu + web.receiverCpu).toFixed(1)} ms, node:crypto with the receiver's halves prepared while idle ${(pre.senderCpu + pre.receiverCpu).toFixed(1)} ms in the round (+ ${(pre.prepareCpu ?? 0).toFixed(1)} ms beforehand); Chou–Orlandi JS (removed with KOS15, measured before): 265.7 ms`,
      "prepared: each node's BaseOtCache holds 128·(N−1) receiver halves before round 1 (BaseOtCache.prepare, run before the timed rounds, as a node's party thread does while no round runs); a node whose pool is empty computes them in the round (the 'nothing prepared' rows)",
      "rounds: every party in one process on one JS thread (wall = all parties serialised, native work overlapping on the libuv pool); base-OT phase = round 1 (fresh caches) − round 2 (every pair reused)",
      "public-key base-OT batches per party: N−1 with one public-key direction per pair (as sender towards lower, receiver towards higher indices), 2(N−1) with both; on separate machines the share per party is about the in-process ratio",
      "medians over measured pairs of rounds (after a warm-up pair): N = 10: min(2, --round-reps), N = 5: --round-reps − 2, N = 3: --round-reps; base_ot_cpu_est = public-key batches × the node:crypto per-batch CPU above (robust; for the prepared configuration the sender's CPU from the node:crypto row and the prepared row's in-round receiver CPU), base_ot_cpu = round 1 − round 2 (noisy on a shared machine)",
    ],
  };
}
