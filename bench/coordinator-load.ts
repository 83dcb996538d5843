/**
 * The load generator of `npm run bench -- coordinator`, run in its own process (forked by
 * bench/coordinator.ts) so that the coordinator under test and the simulated nodes do not
 * share an event loop, as with real nodes. It takes one task on the IPC channel, runs it
 * against the coordinator's URL and sends back one result message, then exits.
 *
 *  - `registry`: N simulated nodes register once (signed), then send `heartbeats` rounds of
 *    signed heartbeats, `concurrency` requests in flight, each client on its own keep-alive
 *    connection ({@link RawHttp}); latency, coordinator and generator CPU per request, per phase.
 *  - `health`: unsigned GET /v1/health for `seconds` at `concurrency`: the HTTP ceiling of this
 *    coordinator on this machine (no signature, no storage), to read the other figures against.
 *  - `relay`: `parties` registered nodes form one round's committee and each sends `msgs`
 *    sealed envelopes of `msgKiB` to the next over the RoundDO's WebSocket, as a node's relay
 *    session does: at most 1 MiB waiting in its socket, nothing between `pause` and `resume`,
 *    an `ack` every 16 deliveries or 1 MiB. Sockets are a minimal RFC 6455 client over
 *    node:net ({@link rawWebSocket}); the generator's CPU time is reported with the figures.
 *
 * Clients sign with node:crypto's native Ed25519 (the same bytes as protocol/crypto) and
 * speak HTTP/1.1 over node:net, so the client side does not dominate the measurement.
 */
import { generateKeyPairSync, randomBytes, sign as nodeSign, type KeyObject } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
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

/**
 * Latency summary of one phase. `coordUs`: CPU time (µs) of the coordinator's workerd processes
 * per request over the phase (null without /proc); `genUs`: this generator's CPU per request.
 */
export interface PhaseResult { requests: number; failures: number; retries: number; secs: number; rps: number; p50: number; p99: number; max: number; coordUs: number | null; genUs: number }

/** What the `registry` task reports: registrations, heartbeats, and both together. */
export interface RegistryResult { kind: "registry"; nodes: number; concurrency: number; register: PhaseResult; heartbeat: PhaseResult; total: PhaseResult; failureSamples: string[]; loadavg: number[] }

/**
 * What the `relay` task reports. `pauses`: `pause` frames the simulated nodes received.
 * `genCpu`: this generator's CPU time over the timed section, in cores (1 = one core busy
 * throughout). `coordCpuUs`: CPU time (µs) the coordinator's workerd processes used per relayed
 * message over the timed section — a figure a loaded machine distorts far less than wall-clock
 * rates (null where /proc is not available).
 */
export interface RelayResult { kind: "relay"; parties: number; msgs: number; msgKiB: number; mb: number; secs: number; mbps: number; msgps: number; errors: number; pauses: number; genCpu: number; coordCpuUs: number | null; loadavg: number[] }

/**
 * CPU seconds (user + system) used so far by the workerd processes below the bench process
 * (this generator's parent), from Linux /proc (USER_HZ = 100, so 10 ms resolution); null when
 * none is found or /proc is not readable.
 */
function workerdCpuSecs(): number | null {
  try {
    const procs: Array<{ pid: number; ppid: number; comm: string; ticks: number }> = [];
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      let stat: string;
      try { stat = readFileSync(`/proc/${d}/stat`, "utf8"); } catch { continue; }
      const close = stat.lastIndexOf(")");
      const f = stat.slice(close + 2).split(" "); // state ppid … utime(11) stime(12)
      procs.push({ pid: Number(d), ppid: Number(f[1]), comm: stat.slice(stat.indexOf("(") + 1, close), ticks: Number(f[11]) + Number(f[12]) });
    }
    const below = new Set([process.ppid]);
    for (let grew = true; grew;) {
      grew = false;
      for (const p of procs) if (!below.has(p.pid) && below.has(p.ppid)) { below.add(p.pid); grew = true; }
    }
    const w = procs.filter((p) => below.has(p.pid) && p.comm.startsWith("workerd"));
    return w.length ? w.reduce((a, p) => a + p.ticks, 0) / 100 : null;
  } catch {
    return null;
  }
}

/** What the `health` task reports. */
export interface HealthResult { kind: "health"; concurrency: number; phase: PhaseResult; loadavg: number[] }

/** The one message sent back to the parent. */
export type LoadMessage = { ok: true; result: RegistryResult | RelayResult | HealthResult } | { ok: false; error: string };

export interface SimNode { id: string; identityKey: string; kxKey: string; kxSecret: Uint8Array; identitySecret: Uint8Array; pk: KeyObject }

/** A node identity made with node:crypto (fast enough for 10,000 nodes). */
export function simNode(): SimNode {
  const id = generateKeyPairSync("ed25519");
  const kx = generateKeyPairSync("x25519");
  const rawPub = new Uint8Array(id.publicKey.export({ format: "der", type: "spki" }).subarray(12));
  const rawKx = new Uint8Array(kx.publicKey.export({ format: "der", type: "spki" }).subarray(12));
  const kxSecret = new Uint8Array(kx.privateKey.export({ format: "der", type: "pkcs8" }).subarray(16));
  const identitySecret = new Uint8Array(id.privateKey.export({ format: "der", type: "pkcs8" }).subarray(16));
  return { id: nodeIdFromPublicKey(rawPub), identityKey: toBase64Url(rawPub), kxKey: toBase64Url(rawKx), kxSecret, identitySecret, pk: id.privateKey };
}

/** The four x-2pm-* headers of a signed request, with native Ed25519 (identical bytes to protocol/crypto/request.ts signRequest). */
export function signedHeaders(n: SimNode, method: string, target: string, body: string | null): Record<string, string> {
  const ts = String(Date.now());
  const nonce = toBase64Url(randomBytes(16));
  const canon = canonicalRequest(method, target, bodyHash(body), ts, nonce, n.id);
  const sig = toBase64Url(nodeSign(null, Buffer.from(canon), n.pk));
  return { "x-2pm-node": n.id, "x-2pm-timestamp": ts, "x-2pm-nonce": nonce, "x-2pm-signature": sig };
}

/** A signed request for fetch (the relay task's setup). */
function signedInit(n: SimNode, method: string, url: string, body: string | null): RequestInit {
  const u = new URL(url);
  const headers = signedHeaders(n, method, u.pathname + u.search, body);
  if (body !== null) headers["content-type"] = "application/json";
  return { method, headers, body: body ?? undefined };
}

const latin1 = new TextDecoder("latin1");
const utf8Text = new TextDecoder();

/** One HTTP/1.1 answer: status and body text. */
interface RawResponse { status: number; body: string }

/**
 * A minimal keep-alive HTTP/1.1 client connection over node:net, one request in flight, for the
 * `registry` and `health` tasks. Node's fetch (undici) cost ≈ 460 µs of CPU per request here,
 * more than the coordinator's own ≈ 100 µs for GET /v1/health, so the generator, not the
 * coordinator, set the "HTTP ceiling" on 2 cores; this client writes one buffer per request and
 * parses the answer's head and `content-length` (or chunked) body. Rejects a request when the
 * connection fails or closes before the whole answer; the caller reconnects.
 */
export class RawHttp {
  private sock: net.Socket | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve(r: RawResponse): void; reject(e: Error): void } | null = null;
  constructor(private readonly host: string, private readonly port: number) {}

  private connect(): net.Socket {
    const sock = net.connect({ host: this.host, port: this.port });
    sock.setNoDelay(true);
    sock.on("data", (chunk: Buffer) => { this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk; this.parse(); });
    const fail = (e: Error) => {
      if (this.sock === sock) this.sock = null;
      this.buf = Buffer.alloc(0);
      const w = this.waiting;
      this.waiting = null;
      w?.reject(e);
    };
    sock.on("error", fail);
    sock.on("close", () => fail(new Error("connection closed")));
    return sock;
  }

  private parse(): void {
    const w = this.waiting;
    if (!w) return;
    const end = headEnd(this.buf);
    if (end < 0) return;
    const head = latin1.decode(this.buf.subarray(0, end));
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? NaN);
    const len = /\r\ncontent-length: *(\d+)/i.exec(head);
    let body: string;
    let rest: Buffer;
    if (len) {
      const n = Number(len[1]);
      if (this.buf.length < end + 4 + n) return;
      body = utf8Text.decode(this.buf.subarray(end + 4, end + 4 + n));
      rest = this.buf.subarray(end + 4 + n);
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const parts: Buffer[] = [];
      let o = end + 4;
      for (;;) {
        let eol = o;
        while (eol + 1 < this.buf.length && !(this.buf[eol] === 13 && this.buf[eol + 1] === 10)) eol++;
        if (eol + 1 >= this.buf.length) return;
        const size = parseInt(latin1.decode(this.buf.subarray(o, eol)), 16);
        if (this.buf.length < eol + 2 + size + 2) return;
        if (size === 0) { o = eol + 4; break; }
        parts.push(this.buf.subarray(eol + 2, eol + 2 + size));
        o = eol + 2 + size + 2;
      }
      body = utf8Text.decode(Buffer.concat(parts));
      rest = this.buf.subarray(o);
    } else {
      body = "";
      rest = this.buf.subarray(end + 4);
    }
    this.buf = rest;
    this.waiting = null;
    if (/\r\nconnection: *close/i.test(head)) { this.sock?.destroy(); this.sock = null; }
    w.resolve({ status, body });
  }

  /** Sends one request and resolves with its answer. Rejects on a connection error (the caller may retry with a new signature). */
  request(method: string, target: string, headers: Record<string, string>, body: string | null): Promise<RawResponse> {
    if (this.waiting) throw new Error("RawHttp: one request at a time");
    this.sock ??= this.connect();
    const b = body === null ? null : Buffer.from(body);
    let h = `${method} ${target} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\n`;
    for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
    if (b) h += `content-type: application/json\r\ncontent-length: ${b.length}\r\n`;
    const out = Buffer.from(h + "\r\n");
    return new Promise<RawResponse>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.sock!.write(b ? Buffer.concat([out, b]) : out);
    });
  }

  close(): void { this.sock?.destroy(); this.sock = null; }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Runs `f` over `items` with `concurrency` workers, each with its own keep-alive {@link RawHttp} connection to `base`. */
export async function pool<T>(base: string, items: T[], concurrency: number, f: (x: T, http: RawHttp) => Promise<void>): Promise<void> {
  const u = new URL(base);
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    const http = new RawHttp(u.hostname, Number(u.port));
    try { while (i < items.length) await f(items[i++]!, http); } finally { http.close(); }
  }));
}

class Phase {
  lat: number[] = [];
  failures = 0;
  retries = 0;
  t0 = performance.now();
  t1 = 0;
  coord0 = workerdCpuSecs();
  coordSecs: number | null = null;
  cpu0 = process.cpuUsage();
  genSecs = 0;
  end(): this {
    this.t1 = performance.now();
    const c1 = workerdCpuSecs();
    this.coordSecs = c1 !== null && this.coord0 !== null ? c1 - this.coord0 : null;
    const g = process.cpuUsage(this.cpu0);
    this.genSecs = (g.user + g.system) / 1e6;
    return this;
  }
  summary(): PhaseResult {
    const s = [...this.lat].sort((a, b) => a - b);
    const secs = (this.t1 - this.t0) / 1000;
    const per = (x: number) => (s.length ? (x * 1e6) / s.length : 0);
    return {
      requests: s.length, failures: this.failures, retries: this.retries, secs, rps: s.length / secs, p50: pct(s, 50), p99: pct(s, 99), max: s[s.length - 1] ?? 0,
      coordUs: this.coordSecs === null ? null : per(this.coordSecs), genUs: per(this.genSecs),
    };
  }
}

async function registry(t: Extract<LoadTask, { kind: "registry" }>): Promise<RegistryResult> {
  const sims = Array.from({ length: t.nodes }, simNode);
  const samples: string[] = [];
  const call = async (ph: Phase, http: RawHttp, n: SimNode, method: string, p: string, body: unknown) => {
    const text = JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      try {
        // a fresh signature per attempt: a resent request would be a replay
        const r = await http.request(method, p, signedHeaders(n, method, p, text), text);
        ph.lat.push(performance.now() - t0);
        if (r.status < 200 || r.status > 299) {
          ph.failures++;
          if (samples.length < 5) samples.push(`${r.status} ${r.body.slice(0, 200)}`);
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
  const reg = (ph: Phase) => (n: SimNode, http: RawHttp) => call(ph, http, n, "POST", "/v1/nodes", {
    identityKey: n.identityKey, kxKey: n.kxKey,
    capabilities: { cores: 4, memoryMb: 8192, bandwidthMbps: 100 }, datasets: [{ schemaId: "bench/load", rows: 1000, commitment: toHex(randomBytes(32)) }],
  });
  const hb = (ph: Phase) => (n: SimNode, http: RawHttp) => call(ph, http, n, "POST", `/v1/nodes/${n.id}/heartbeat`, { load: 0.3, freeMemoryMb: 4000, onBattery: false, online: true });
  // warm-up (isolate start, D1 and shard objects opened): not measured
  const warm = new Phase();
  await pool(t.base, sims.slice(0, 20), 8, reg(warm));
  const reqs = new Phase();
  await pool(t.base, sims.slice(20), t.concurrency, reg(reqs));
  reqs.end();
  const beats = new Phase();
  for (let h = 0; h < t.heartbeats; h++) await pool(t.base, sims, t.concurrency, hb(beats));
  beats.end();
  const total = new Phase();
  total.t0 = reqs.t0;
  total.t1 = beats.t1;
  total.coordSecs = reqs.coordSecs !== null && beats.coordSecs !== null ? reqs.coordSecs + beats.coordSecs : null;
  total.genSecs = reqs.genSecs + beats.genSecs;
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
  let done!: () => void;
  const allDone = new Promise<void>((r) => (done = r));
  const sockets: RawSocket[] = [];
  // Each simulated node sends like client/agent/relay-session.ts: at most MAX_IN_FLIGHT bytes
  // waiting in its socket, and nothing while the relay says `pause`.
  const MAX_IN_FLIGHT = 1 << 20;
  const next = new Array<number>(N).fill(0);
  const paused = new Array<boolean>(N).fill(false);
  let pauses = 0;
  const ACK_BYTES = 1 << 20;
  const unacked = new Array<number>(N).fill(0);
  let started = false;
  const pump = (i: number) => {
    const ws = sockets[i]!;
    const list = envelopes[i]!;
    while (started && !paused[i] && next[i]! < list.length && ws.buffered() < MAX_IN_FLIGHT) ws.send(list[next[i]!++]!);
  };
  sockets.push(...await Promise.all(assigned.map(({ n, a }, i) => rawWebSocket(signUrl({ url: base + a.wsPath, nodeId: n.id, identitySecretKey: n.identitySecret }), {
    text: (text) => {
      const kind = (JSON.parse(text) as { kind?: string }).kind;
      if (kind === "error") { errors++; firstError ||= text.slice(0, 300); }
      else if (kind === "pause") { paused[i] = true; pauses++; }
      else if (kind === "resume") { paused[i] = false; pump(i); }
    },
    drain: () => pump(i),
    binary: (len, index) => {
      // acknowledge like a node (client/agent/relay-session.ts): the relay drops what is acknowledged
      unacked[i]! += len;
      if (++received[i]! % 16 === 0 || unacked[i]! >= ACK_BYTES || received[i] === msgs) { unacked[i] = 0; sockets[i]!.sendText(JSON.stringify({ v: 1, kind: "ack", cursor: index })); }
      bytesDelivered += len - 4;
      if (received.every((r) => r === msgs)) done();
    },
  }))));
  await new Promise((r) => setTimeout(r, 200));
  const cpu0 = process.cpuUsage();
  const coord0 = workerdCpuSecs();
  const t0 = performance.now();
  started = true;
  for (let i = 0; i < N; i++) pump(i);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([allDone, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`relay bench timed out: received ${received.join(",")}, errors ${errors}${firstError ? `, first: ${firstError}` : ""}`)), 180_000); })]);
  clearTimeout(timer);
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const coord1 = workerdCpuSecs();
  const coordCpuUs = coord0 !== null && coord1 !== null ? ((coord1 - coord0) * 1e6) / (msgs * N) : null;
  for (const ws of sockets) ws.close();
  return { kind: "relay", parties: N, msgs: msgs * N, msgKiB, mb: bytesDelivered / 1e6, secs, mbps: bytesDelivered / 1e6 / secs, msgps: (msgs * N) / secs, errors, pauses, genCpu: (cpu.user + cpu.system) / 1e6 / secs, coordCpuUs, loadavg: os.loadavg() };
}

/** Index of the blank line ending an HTTP head, or -1. */
function headEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  return -1;
}

/** A minimal RFC 6455 client socket for the relay task. */
interface RawSocket { send(data: Uint8Array): void; sendText(text: string): void; close(): void; buffered(): number }

/**
 * Opens a WebSocket with a minimal RFC 6455 client over node:net, so the generator's own cost
 * per frame is a header and a `write` (the built-in WebSocket frames, masks and reassembles in
 * JavaScript and was the ceiling of this bench: one core busy at ≈ 30 MB/s). Client frames use
 * the all-zero masking key, which RFC 6455 §5.3 allows (the key exists to defeat proxy cache
 * poisoning, irrelevant on loopback), so the payload is written unchanged. Server frames are
 * parsed without copying except across TCP chunk boundaries. Resolves once the upgrade is
 * answered with 101; rejects otherwise.
 */
function rawWebSocket(url: string, on: { text(s: string): void; binary(len: number, index: number): void; drain(): void }): Promise<RawSocket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port) });
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let open = false;
    const parse = () => {
      while (buf.length >= 2) {
        const op = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let o = 2;
        if (len === 126) { if (buf.length < 4) return; len = (buf[2]! << 8) | buf[3]!; o = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(new DataView(buf.buffer, buf.byteOffset, 10).getBigUint64(2)); o = 10; }
        if (buf.length < o + len) { need = o + len; parts = [buf]; have = buf.length; buf = Buffer.alloc(0); return; }
        const body = buf.subarray(o, o + len);
        buf = buf.subarray(o + len);
        if (op === 1) on.text(new TextDecoder().decode(body));
        else if (op === 2) on.binary(len, len >= 4 ? ((body[0]! << 24) | (body[1]! << 16) | (body[2]! << 8) | body[3]!) >>> 0 : 0);
      }
    };
    // Chunks of an incomplete frame are only joined once the whole frame is in (`need` bytes).
    let parts: Buffer[] = [];
    let have = 0;
    let need = 0;
    sock.on("data", (chunk: Buffer) => {
      if (open && need > 0) {
        parts.push(chunk);
        have += chunk.length;
        if (have < need) return;
        buf = Buffer.concat(parts, have);
        parts = [];
        have = 0;
        need = 0;
        return parse();
      }
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!open) {
        const end = headEnd(buf);
        if (end < 0) return;
        const head = new TextDecoder("latin1").decode(buf.subarray(0, end));
        buf = buf.subarray(end + 4);
        if (!/^HTTP\/1\.1 101/.test(head)) { sock.destroy(); return reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`)); }
        open = true;
        const frame = (data: Uint8Array, opcode: number) => {
          const n = data.length;
          const h = Buffer.alloc(n < 126 ? 6 : n < 65536 ? 8 : 14); // FIN|opcode, MASK bit, length, zero key
          h[0] = 0x80 | opcode;
          if (n < 126) h[1] = 0x80 | n;
          else if (n < 65536) { h[1] = 0x80 | 126; h.writeUInt16BE(n, 2); }
          else { h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(n), 2); }
          sock.cork(); sock.write(h); sock.write(data); sock.uncork();
        };
        resolve({
          send: (data: Uint8Array) => frame(data, 0x2),
          sendText: (text: string) => frame(new TextEncoder().encode(text), 0x1),
          close() { sock.end(Buffer.from([0x88, 0x80, 0, 0, 0, 0])); },
          buffered: () => sock.writableLength,
        });
      }
      parse();
    });
    sock.on("error", (e) => { if (!open) reject(e); });
    sock.on("drain", () => on.drain());
    sock.on("connect", () => {
      sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${btoa(String.fromCharCode(...randomBytes(16)))}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
  });
}

async function health(t: Extract<LoadTask, { kind: "health" }>): Promise<HealthResult> {
  const ph = new Phase();
  const end = ph.t0 + t.seconds * 1000;
  const u = new URL(t.base);
  await Promise.all(Array.from({ length: t.concurrency }, async () => {
    const http = new RawHttp(u.hostname, Number(u.port));
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await http.request("GET", "/v1/health", {}, null);
        ph.lat.push(performance.now() - t0);
        if (r.status !== 200) ph.failures++;
      } catch {
        ph.failures++;
      }
    }
    http.close();
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
