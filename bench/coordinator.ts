/**
 * `npm run bench -- coordinator [--nodes 1000] [--heartbeats 3] [--concurrency 32] [--msg-kib 256] [--msgs 40] [--relay-only]`
 *
 * Starts the local coordinator (scripts/lib/coordinator.ts: the `wrangler deploy --dry-run`
 * bundle served by Miniflare, D1 migrations applied), then measures:
 *  1. signed node registrations + heartbeats from N simulated nodes (req/s, p50/p99 latency);
 *     goals ≥ 2000 req/s and p99 ≤ 50 ms;
 *  2. relay throughput through one RoundDO with 5 and with 10 connected parties, each sending
 *     signed AEAD envelopes to the next: MB/s of envelopes delivered with 256 KiB frames (goal
 *     ≥ 100 MB/s) and msg/s with 4 KiB frames (goal ≥ 10,000 msg/s).
 * Clients sign with node:crypto's native Ed25519 (same bytes as protocol/crypto) so the
 * client side does not dominate the measurement.
 */
import { createPrivateKey, randomBytes, sign as nodeSign } from "node:crypto";
import { generateNodeKeys, nodeIdFromPublicKey, type NodeKeys } from "../protocol/crypto/identity.ts";
import { pairKey, sealAsync } from "../protocol/crypto/envelope.ts";
import { bodyHash, canonicalRequest, signUrl } from "../protocol/crypto/request.ts";
import { fromBase64Url, toBase64Url, toHex } from "../protocol/encoding.ts";
import type { Assignment } from "../protocol/api/schemas.ts";
import type { BenchResult } from "./types.ts";
import { startCoordinator as startLocalCoordinator } from "../scripts/lib/coordinator.ts";

const TOKEN = "bench-token";

function arg(args: string[], name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
}

/**
 * The local coordinator of scripts/lib/coordinator.ts (the deploy bundle on Miniflare,
 * migrations applied): the same one the end-to-end tests use, without wrangler dev's proxy.
 */
async function startCoordinator(): Promise<{ base: string; stop: () => Promise<void>; log: () => string }> {
  const c = await startLocalCoordinator({ apiToken: TOKEN, vars: { LIVENESS_WINDOW_S: "600" } });
  return { base: c.url, stop: c.stop, log: () => c.log.join("\n") };
}

interface SimNode { keys: NodeKeys; id: string; pk: ReturnType<typeof createPrivateKey> }

function simNode(): SimNode {
  const keys = generateNodeKeys();
  const pk = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(keys.identitySecretKey)]), format: "der", type: "pkcs8" });
  return { keys, id: nodeIdFromPublicKey(keys.identityPublicKey), pk };
}

/** A signed request with native Ed25519 (identical bytes to protocol/crypto/request.ts signRequest). */
function signedInit(n: SimNode, method: string, url: string, body: string | null): RequestInit {
  const ts = String(Date.now());
  const nonce = toBase64Url(randomBytes(16));
  const canon = canonicalRequest(method, new URL(url).pathname + new URL(url).search, bodyHash(body), ts, nonce, n.id);
  const sig = toBase64Url(nodeSign(null, Buffer.from(canon), n.pk));
  const headers: Record<string, string> = { "x-2pm-node": n.id, "x-2pm-timestamp": ts, "x-2pm-nonce": nonce, "x-2pm-signature": sig };
  if (body !== null) headers["content-type"] = "application/json";
  return { method, headers, body: body ?? undefined };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function pool<T>(items: T[], concurrency: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (i < items.length) await f(items[i++]!); }));
}

async function registrationBench(base: string, nodes: number, heartbeats: number, concurrency: number) {
  const sims = Array.from({ length: nodes }, simNode);
  const lat: number[] = [];
  let failures = 0;
  let retries = 0;
  const call = async (n: SimNode, method: string, p: string, body: unknown) => {
    const url = base + p;
    const text = JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      try {
        // fresh signature per attempt: a resent request would be a replay
        const r = await fetch(url, signedInit(n, method, url, text));
        await r.arrayBuffer();
        lat.push(performance.now() - t0);
        if (!r.ok) failures++;
        return;
      } catch (e) {
        // the local dev proxy sometimes closes a kept-alive socket under load
        if (attempt >= 3) throw e;
        retries++;
      }
    }
  };
  const reg = (n: SimNode) => call(n, "POST", "/v1/nodes", {
    identityKey: toBase64Url(n.keys.identityPublicKey), kxKey: toBase64Url(n.keys.kxPublicKey),
    capabilities: { cores: 4, memoryMb: 8192, bandwidthMbps: 100 }, datasets: [{ schemaId: "bench/load", rows: 1000, commitment: toHex(randomBytes(32)) }],
  });
  const hb = (n: SimNode) => call(n, "POST", `/v1/nodes/${n.id}/heartbeat`, { load: 0.3, freeMemoryMb: 4000, onBattery: false, online: true });
  // warm-up (isolate start, D1 open) — not measured
  await pool(sims.slice(0, 20), 8, reg);
  lat.length = 0; failures = 0;
  const t0 = performance.now();
  await pool(sims.slice(20), concurrency, reg);
  for (let h = 0; h < heartbeats; h++) await pool(sims, concurrency, hb);
  const secs = (performance.now() - t0) / 1000;
  return { requests: lat.length, failures, retries, rps: lat.length / secs, p50: pct(lat, 50), p99: pct(lat, 99), secs };
}

async function relayBench(base: string, msgKiB: number, msgs: number, size_ = 5) {
  const N = size_;
  const parties = Array.from({ length: N }, simNode);
  const schemaId = `bench/relay/${toHex(randomBytes(4))}`;
  for (const n of parties) {
    const url = `${base}/v1/nodes`;
    const body = JSON.stringify({ identityKey: toBase64Url(n.keys.identityPublicKey), kxKey: toBase64Url(n.keys.kxPublicKey), capabilities: { cores: 4, memoryMb: 8192, bandwidthMbps: 1000 }, datasets: [{ schemaId, rows: 10, commitment: "00".repeat(32) }] });
    const r = await fetch(url, signedInit(n, "POST", url, body));
    if (!r.ok) throw new Error(`register: ${r.status} ${await r.text()}`);
  }
  const job = await fetch(`${base}/v1/jobs`, {
    method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "stats", schemaId, committee: { size: N, min: N }, maxRounds: 1, fixedPoint: { fracBits: 16, bound: 100 }, deadlines: { join: 600, compute: 600, finalize: 60, select: 60 },
      // A minimal valid statistics task (the relay bench never submits a result).
      task: { query: { version: 1, minCount: 0, measures: [{ name: "rows", kind: "count" }], limits: { maxParties: 16, maxRowsPerParty: 1000 } }, schema: { version: 1, name: schemaId, columns: [{ name: "x", type: "numeric" }] } } }),
  });
  if (job.status !== 201) throw new Error(`submit: ${job.status} ${await job.text()}`);
  const jobId = ((await job.json()) as { job: { id: string } }).job.id;
  const assigned: Array<{ n: SimNode; a: Assignment }> = [];
  for (const n of parties) {
    const url = `${base}/v1/nodes/${n.id}/assignment`;
    const r = (await (await fetch(url, signedInit(n, "GET", url, null))).json()) as { assignments: Assignment[] };
    const a = r.assignments.find((x) => x.jobId === jobId);
    if (!a) throw new Error("node not assigned");
    assigned.push({ n, a });
  }
  assigned.sort((x, y) => x.a.index - y.a.index);
  const size = msgKiB * 1024;
  const payload = randomBytes(size);
  // pre-seal every envelope (signing and encryption are the nodes' cost, not the relay's)
  const envelopes = await Promise.all(assigned.map(async ({ n, a }, i) => {
    const to = assigned[(i + 1) % N]!;
    const key = pairKey(n.keys.kxSecretKey, to.n.keys.kxPublicKey, fromBase64Url(a.manifest.sessionId));
    const out: Uint8Array[] = [];
    for (let s = 1; s <= msgs; s++) out.push(await sealAsync({ kind: "direct", jobId, round: 0, attempt: 0, phase: "bench", from: i, to: (i + 1) % N, seq: s }, payload, n.keys.identitySecretKey, key));
    return out;
  }));
  const received = new Array<number>(N).fill(0);
  let bytesDelivered = 0;
  let errors = 0;
  const sockets: WebSocket[] = [];
  let done!: () => void;
  const allDone = new Promise<void>((r) => (done = r));
  await Promise.all(assigned.map(({ n, a }, i) => new Promise<void>((resolve, reject) => {
    const url = signUrl({ url: base + a.wsPath, nodeId: n.id, identitySecretKey: n.keys.identitySecretKey }).replace(/^http/, "ws");
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("websocket error"));
    ws.onmessage = (e) => {
      if (typeof e.data === "string") { if (JSON.parse(e.data).kind === "error") errors++; return; }
      received[i]!++;
      bytesDelivered += (e.data as ArrayBuffer).byteLength - 4;
      if (received.every((r) => r === msgs)) done();
    };
    sockets[i] = ws;
  })));
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  await Promise.all(sockets.map(async (ws, i) => { for (const e of envelopes[i]!) ws.send(e); }));
  await Promise.race([allDone, new Promise((_, rej) => setTimeout(() => rej(new Error(`relay bench timed out: received ${received.join(",")}, errors ${errors}`)), 180_000))]);
  const secs = (performance.now() - t0) / 1000;
  for (const ws of sockets) ws.close();
  return { parties: N, msgs: msgs * N, msgKiB, mb: bytesDelivered / 1e6, secs, mbps: bytesDelivered / 1e6 / secs, errors };
}

export async function run(args: string[]): Promise<BenchResult> {
  const nodes = arg(args, "nodes", 1000);
  const heartbeats = arg(args, "heartbeats", 3);
  const concurrency = arg(args, "concurrency", 32);
  const msgKiB = arg(args, "msg-kib", 256);
  const msgs = arg(args, "msgs", 40);
  const relayOnly = args.includes("--relay-only");
  const { base, stop, log } = await startCoordinator();
  try {
    const rows: BenchResult["rows"] = [];
    if (!relayOnly) {
      const reg = await registrationBench(base, nodes, heartbeats, concurrency);
      rows.push({ case: `signed register+heartbeat, ${nodes} nodes, c=${concurrency}`, requests: reg.requests, failures: reg.failures, retries: reg.retries, "req/s": Math.round(reg.rps), "p50 ms": reg.p50, "p99 ms": reg.p99, goal: "≥2000 req/s, p99 ≤50 ms" });
    }
    for (const n of [5, 10]) {
      const big = await relayBench(base, msgKiB, msgs, n);
      rows.push({ case: `relay ${n} parties, ${big.msgs}×${big.msgKiB} KiB`, requests: big.msgs, failures: big.errors, "MB/s": big.mbps, "msg/s": Math.round(big.msgs / big.secs), MB: big.mb, secs: big.secs, goal: "≥100 MB/s" });
      const small = await relayBench(base, 4, 400, n);
      rows.push({ case: `relay ${n} parties, ${small.msgs}×${small.msgKiB} KiB`, requests: small.msgs, failures: small.errors, "MB/s": small.mbps, "msg/s": Math.round(small.msgs / small.secs), secs: small.secs, goal: "≥10,000 msg/s" });
    }
    return {
      name: "coordinator",
      rows,
      notes: [
        "local Miniflare (workerd, the deploy bundle, local D1/R2/DO SQLite on disk) sharing the 2 cores with the load generator",
        "register: one D1 batch (nonce insert + upsert RETURNING + datasets); heartbeat: one D1 batch (nonce + update), key from the isolate cache",
        "every request is a D1 write transaction; local D1 serialises them on one SQLite file, so req/s tracks local write latency",
        "relay: every envelope signature-verified (WebCrypto Ed25519) and seq-checked, then queued; queued envelopes are written in one SQLite transaction per burst (group commit: ≤ 4 MiB or 256 envelopes) and delivered after it",
      ],
    };
  } catch (e) {
    console.error(`coordinator log tail:\n${log().slice(-3000)}`, e instanceof Error ? e.stack : e, (e as { cause?: unknown }).cause);
    throw e;
  } finally {
    await stop();
  }
}
