/**
 * The load generator of `npm run bench -- coordinator`, run in its own process (forked by
 * bench/coordinator.ts) so that the coordinator under test and the simulated nodes do not
 * share an event loop, as with real nodes. It takes one task on the IPC channel, runs it
 * against the coordinator's URL and sends back one result message, then exits.
 *
 *  - `registry`: N simulated nodes register once (signed), then send `heartbeats` rounds of
 *    signed heartbeats, `concurrency` requests in flight; latency per request, per phase.
 *  - `health`: unsigned GET /v1/health for `seconds` at `concurrency`: the HTTP ceiling of this
 *    coordinator on this machine (no signature, no storage), to read the other figures against.
 *  - `relay`: `parties` registered nodes form one round's committee and each sends `msgs`
 *    sealed envelopes of `msgKiB` to the next over the RoundDO's WebSocket.
 *
 * Clients sign with node:crypto's native Ed25519 (the same bytes as protocol/crypto) so the
 * client side does not dominate the measurement.
 */
import { generateKeyPairSync, randomBytes, sign as nodeSign, type KeyObject } from "node:crypto";
import os from "node:os";
import { nodeIdFromPublicKey } from "../protocol/crypto/identity.ts";
import { pairKey, sealAsync } from "../protocol/crypto/envelope.ts";
import { bodyHash, canonicalRequest, signUrl } from "../protocol/crypto/request.ts";
import { fromBase64Url, toBase64Url, toHex } from "../protocol/encoding.ts";
import type { Assignment } from "../protocol/api/schemas.ts";

/** A task for this process. */
export type LoadTask =
  | { kind: "registry"; base: string; nodes: number; heartbeats: number; concurrency: number }
  | { kind: "relay"; base: string; token: string; parties: number; msgKiB: number; msgs: number }
  | { kind: "health"; base: string; concurrency: number; seconds: number };

/** Latency summary of one phase. */
export interface PhaseResult { requests: number; failures: number; retries: number; secs: number; rps: number; p50: number; p99: number; max: number }

/** What the `registry` task reports: registrations, heartbeats, and both together. */
export interface RegistryResult { kind: "registry"; nodes: number; concurrency: number; register: PhaseResult; heartbeat: PhaseResult; total: PhaseResult; failureSamples: string[]; loadavg: number[] }

/** What the `relay` task reports. */
export interface RelayResult { kind: "relay"; parties: number; msgs: number; msgKiB: number; mb: number; secs: number; mbps: number; msgps: number; errors: number; loadavg: number[] }

/** What the `health` task reports. */
export interface HealthResult { kind: "health"; concurrency: number; phase: PhaseResult; loadavg: number[] }

/** The one message sent back to the parent. */
export type LoadMessage = { ok: true; result: RegistryResult | RelayResult | HealthResult } | { ok: false; error: string };

interface SimNode { id: string; identityKey: string; kxKey: string; kxSecret: Uint8Array; identitySecret: Uint8Array; pk: KeyObject }

/** A node identity made with node:crypto (fast enough for 10,000 nodes). */
function simNode(): SimNode {
  const id = generateKeyPairSync("ed25519");
  const kx = generateKeyPairSync("x25519");
  const rawPub = new Uint8Array(id.publicKey.export({ format: "der", type: "spki" }).subarray(12));
  const rawKx = new Uint8Array(kx.publicKey.export({ format: "der", type: "spki" }).subarray(12));
  const kxSecret = new Uint8Array(kx.privateKey.export({ format: "der", type: "pkcs8" }).subarray(16));
  const identitySecret = new Uint8Array(id.privateKey.export({ format: "der", type: "pkcs8" }).subarray(16));
  return { id: nodeIdFromPublicKey(rawPub), identityKey: toBase64Url(rawPub), kxKey: toBase64Url(rawKx), kxSecret, identitySecret, pk: id.privateKey };
}

/** A signed request with native Ed25519 (identical bytes to protocol/crypto/request.ts signRequest). */
function signedInit(n: SimNode, method: string, url: string, body: string | null): RequestInit {
  const ts = String(Date.now());
  const nonce = toBase64Url(randomBytes(16));
  const u = new URL(url);
  const canon = canonicalRequest(method, u.pathname + u.search, bodyHash(body), ts, nonce, n.id);
  const sig = toBase64Url(nodeSign(null, Buffer.from(canon), n.pk));
  const headers: Record<string, string> = { "x-2pm-node": n.id, "x-2pm-timestamp": ts, "x-2pm-nonce": nonce, "x-2pm-signature": sig };
  if (body !== null) headers["content-type"] = "application/json";
  return { method, headers, body: body ?? undefined };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function pool<T>(items: T[], concurrency: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => { while (i < items.length) await f(items[i++]!); }));
}

class Phase {
  lat: number[] = [];
  failures = 0;
  retries = 0;
  t0 = performance.now();
  t1 = 0;
  end(): this { this.t1 = performance.now(); return this; }
  summary(): PhaseResult {
    const s = [...this.lat].sort((a, b) => a - b);
    const secs = (this.t1 - this.t0) / 1000;
    return { requests: s.length, failures: this.failures, retries: this.retries, secs, rps: s.length / secs, p50: pct(s, 50), p99: pct(s, 99), max: s[s.length - 1] ?? 0 };
  }
}

async function registry(t: Extract<LoadTask, { kind: "registry" }>): Promise<RegistryResult> {
  const sims = Array.from({ length: t.nodes }, simNode);
  const samples: string[] = [];
  const call = async (ph: Phase, n: SimNode, method: string, p: string, body: unknown) => {
    const url = t.base + p;
    const text = JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      try {
        // a fresh signature per attempt: a resent request would be a replay
        const r = await fetch(url, signedInit(n, method, url, text));
        const out = await r.text();
        ph.lat.push(performance.now() - t0);
        if (!r.ok) {
          ph.failures++;
          if (samples.length < 5) samples.push(`${r.status} ${out.slice(0, 200)}`);
        }
        return;
      } catch (e) {
        if (attempt >= 3) {
          ph.failures++;
          if (samples.length < 5) samples.push(`network: ${(e as Error).message}`);
          return;
        }
        ph.retries++;
      }
    }
  };
  const reg = (ph: Phase) => (n: SimNode) => call(ph, n, "POST", "/v1/nodes", {
    identityKey: n.identityKey, kxKey: n.kxKey,
    capabilities: { cores: 4, memoryMb: 8192, bandwidthMbps: 100 }, datasets: [{ schemaId: "bench/load", rows: 1000, commitment: toHex(randomBytes(32)) }],
  });
  const hb = (ph: Phase) => (n: SimNode) => call(ph, n, "POST", `/v1/nodes/${n.id}/heartbeat`, { load: 0.3, freeMemoryMb: 4000, onBattery: false, online: true });
  // warm-up (isolate start, D1 and shard objects opened): not measured
  const warm = new Phase();
  await pool(sims.slice(0, 20), 8, reg(warm));
  const reqs = new Phase();
  await pool(sims.slice(20), t.concurrency, reg(reqs));
  reqs.end();
  const beats = new Phase();
  for (let h = 0; h < t.heartbeats; h++) await pool(sims, t.concurrency, hb(beats));
  beats.end();
  const total = new Phase();
  total.t0 = reqs.t0;
  total.t1 = beats.t1;
  total.lat = [...reqs.lat, ...beats.lat];
  total.failures = reqs.failures + beats.failures + warm.failures;
  total.retries = reqs.retries + beats.retries;
  return { kind: "registry", nodes: t.nodes, concurrency: t.concurrency, register: reqs.summary(), heartbeat: beats.summary(), total: total.summary(), failureSamples: samples, loadavg: os.loadavg() };
}

async function relay(t: Extract<LoadTask, { kind: "relay" }>): Promise<RelayResult> {
  const { base, parties: N, msgKiB, msgs } = t;
  const parties = Array.from({ length: N }, simNode);
  const schemaId = `bench/relay/${toHex(randomBytes(4))}`;
  for (const n of parties) {
    const url = `${base}/v1/nodes`;
    const body = JSON.stringify({ identityKey: n.identityKey, kxKey: n.kxKey, capabilities: { cores: 4, memoryMb: 8192, bandwidthMbps: 1000 }, datasets: [{ schemaId, rows: 10, commitment: "00".repeat(32) }] });
    const r = await fetch(url, signedInit(n, "POST", url, body));
    if (!r.ok) throw new Error(`register: ${r.status} ${await r.text()}`);
  }
  const job = await fetch(`${base}/v1/jobs`, {
    method: "POST", headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json" },
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
  const payload = randomBytes(msgKiB * 1024);
  // pre-seal every envelope (signing and encryption are the nodes' cost, not the relay's)
  const envelopes = await Promise.all(assigned.map(async ({ n, a }, i) => {
    const to = assigned[(i + 1) % N]!;
    const key = pairKey(n.kxSecret, fromBase64Url(to.n.kxKey), fromBase64Url(a.manifest.sessionId));
    const out: Uint8Array[] = [];
    for (let s = 1; s <= msgs; s++) out.push(await sealAsync({ kind: "direct", jobId, round: 0, attempt: 0, phase: "bench", from: i, to: (i + 1) % N, seq: s }, payload, n.identitySecret, key));
    return out;
  }));
  const received = new Array<number>(N).fill(0);
  let bytesDelivered = 0;
  let errors = 0;
  let firstError = "";
  const sockets: WebSocket[] = [];
  let done!: () => void;
  const allDone = new Promise<void>((r) => (done = r));
  await Promise.all(assigned.map(({ n, a }, i) => new Promise<void>((resolve, reject) => {
    const url = signUrl({ url: base + a.wsPath, nodeId: n.id, identitySecretKey: n.identitySecret }).replace(/^http/, "ws");
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("websocket error"));
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        if ((JSON.parse(e.data) as { kind?: string }).kind === "error") { errors++; firstError ||= e.data.slice(0, 300); }
        return;
      }
      received[i]!++;
      bytesDelivered += (e.data as ArrayBuffer).byteLength - 4;
      if (received.every((r) => r === msgs)) done();
    };
    sockets[i] = ws;
  })));
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  await Promise.all(sockets.map(async (ws, i) => { for (const e of envelopes[i]!) ws.send(e); }));
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([allDone, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`relay bench timed out: received ${received.join(",")}, errors ${errors}${firstError ? `, first: ${firstError}` : ""}`)), 180_000); })]);
  clearTimeout(timer);
  const secs = (performance.now() - t0) / 1000;
  for (const ws of sockets) ws.close();
  return { kind: "relay", parties: N, msgs: msgs * N, msgKiB, mb: bytesDelivered / 1e6, secs, mbps: bytesDelivered / 1e6 / secs, msgps: (msgs * N) / secs, errors, loadavg: os.loadavg() };
}

async function health(t: Extract<LoadTask, { kind: "health" }>): Promise<HealthResult> {
  const ph = new Phase();
  const end = ph.t0 + t.seconds * 1000;
  await Promise.all(Array.from({ length: t.concurrency }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await fetch(`${t.base}/v1/health`);
        await r.arrayBuffer();
        ph.lat.push(performance.now() - t0);
        if (!r.ok) ph.failures++;
      } catch {
        ph.failures++;
      }
    }
  }));
  return { kind: "health", concurrency: t.concurrency, phase: ph.end().summary(), loadavg: os.loadavg() };
}

/** Runs one task. Throws TypeError for an unknown task kind. */
export async function runLoad(t: LoadTask): Promise<RegistryResult | RelayResult | HealthResult> {
  if (t.kind === "health") return health(t);
  if (t.kind === "registry") return registry(t);
  if (t.kind === "relay") return relay(t);
  throw new TypeError(`unknown load task ${JSON.stringify((t as { kind?: unknown }).kind)}`);
}

// As a forked child: one task in, one result out.
if (process.send) {
  process.once("message", (t: LoadTask) => {
    runLoad(t).then(
      (result) => process.send!({ ok: true, result } satisfies LoadMessage, () => process.exit(0)),
      (e: unknown) => process.send!({ ok: false, error: e instanceof Error ? e.stack ?? e.message : String(e) } satisfies LoadMessage, () => process.exit(1)),
    );
  });
}
