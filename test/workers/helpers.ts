/** Shared helpers for the workerd tests: simulated nodes speaking the real signed API. */
import { runInDurableObject, SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { generateNodeKeys, nodeIdFromPublicKey, type NodeKeys } from "../../protocol/crypto/identity.ts";
import { signRequest, signUrl } from "../../protocol/crypto/request.ts";
import { toBase64Url, toHex, utf8 } from "../../protocol/encoding.ts";
import { seededRng, type Rng } from "../../protocol/rng.ts";
import type { Assignment, JobSpecInput, NodeRegistration } from "../../protocol/api/schemas.ts";
import type { RelayLimits, RoundDO } from "../../durable-objects/round-do.ts";
import { pairKey } from "../../protocol/crypto/envelope.ts";
import { fromBase64Url } from "../../protocol/encoding.ts";
import { jobObjectName, roundObjectName } from "../../protocol/names.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { m61 } from "../../protocol/field/index.ts";
import { compileQuery, parseStatsQuery } from "../../protocol/stats/index.ts";
import { parseDatasetSchema } from "../../protocol/stats/schema.ts";

export const BASE = "https://coordinator.test";
export const TOKEN = "test-api-token";

export interface TestNode extends NodeKeys {
  id: string;
  rng: Rng;
}

let counter = 0;
/** A fresh node identity (deterministic per seed). */
export function makeNode(seed = `node-${counter++}-${crypto.randomUUID()}`): TestNode {
  const rng = seededRng(seed);
  const k = generateNodeKeys(rng);
  return { ...k, id: nodeIdFromPublicKey(k.identityPublicKey), rng };
}

/** Signed fetch as `node` (path relative to BASE). */
export async function signedFetch(node: TestNode, method: string, path: string, body?: unknown, opts: { now?: number; asNode?: TestNode; headers?: Record<string, string> } = {}): Promise<Response> {
  const url = BASE + path;
  const text = body === undefined ? null : JSON.stringify(body);
  const signer = opts.asNode ?? node;
  const headers: Record<string, string> = {
    ...signRequest({ method, url, body: text, nodeId: signer.id, identitySecretKey: signer.identitySecretKey, now: opts.now }),
    ...(text !== null ? { "content-type": "application/json" } : {}),
    ...opts.headers,
  };
  return SELF.fetch(url, { method, headers, body: text ?? undefined });
}

export function registration(node: TestNode, o: { schemaId?: string; rows?: number; cores?: number; memoryMb?: number; bandwidthMbps?: number } = {}): NodeRegistration {
  return {
    identityKey: toBase64Url(node.identityPublicKey),
    kxKey: toBase64Url(node.kxPublicKey),
    capabilities: { cores: o.cores ?? 4, memoryMb: o.memoryMb ?? 8192, bandwidthMbps: o.bandwidthMbps ?? 100 },
    datasets: [{ schemaId: o.schemaId ?? "test/schema", rows: o.rows ?? 100, commitment: toHex(sha256(utf8(node.id))) }],
  };
}

export async function register(node: TestNode, o: Parameters<typeof registration>[1] = {}): Promise<Response> {
  return signedFetch(node, "POST", "/v1/nodes", registration(node, o));
}

export async function heartbeat(node: TestNode): Promise<Response> {
  return signedFetch(node, "POST", `/v1/nodes/${node.id}/heartbeat`, { load: 0.1, freeMemoryMb: 4096, onBattery: false, online: true });
}

export function tokenFetch(method: string, path: string, body?: unknown, token = TOKEN): Promise<Response> {
  return SELF.fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** A minimal valid statistics task (row count over a one-column schema named `schemaId`). */
export function statsTask(schemaId: string): Record<string, unknown> {
  return {
    query: { version: 1, minCount: 0, measures: [{ name: "rows", kind: "count" }], limits: { maxParties: 16, maxRowsPerParty: 1000 } },
    schema: { version: 1, name: schemaId, columns: [{ name: "x", type: "numeric" }] },
  };
}

/** A well-formed opened aggregate for {@link statsTask}'s query: `rows` counted, slack entries 0. */
export function statsAggregate(schemaId: string, rows: number): Uint8Array {
  const t = statsTask(schemaId);
  const layout = compileQuery(parseStatsQuery(t.query), parseDatasetSchema(t.schema));
  const v = new Array<number>(layout.length).fill(0);
  v[0] = rows;
  return m61.encode(m61.fromInts(v));
}

export function spec(o: Partial<JobSpecInput> = {}): JobSpecInput {
  const schemaId = o.schemaId ?? "test/schema";
  return {
    type: "stats", schemaId, committee: { size: 3, min: 2 }, maxRounds: 1,
    fixedPoint: { fracBits: 16, bound: 1000 }, task: statsTask(schemaId), ...o,
  };
}

export async function submitJob(o: Partial<JobSpecInput> = {}): Promise<{ id: string; status: string }> {
  const r = await tokenFetch("POST", "/v1/jobs", spec(o));
  if (r.status !== 201) throw new Error(`submit failed: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { job: { id: string; status: string } }).job;
}

export async function assignments(node: TestNode): Promise<Assignment[]> {
  const r = await signedFetch(node, "GET", `/v1/nodes/${node.id}/assignment`);
  if (r.status !== 200) throw new Error(`assignment failed: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { assignments: Assignment[] }).assignments;
}

export const jobStub = (id: string) => env.JOB_DO.get(env.JOB_DO.idFromName(jobObjectName(id)));
export const roundStub = (id: string, round: number, attempt: number) => env.ROUND_DO.get(env.ROUND_DO.idFromName(roundObjectName(id, round, attempt)));

/** A connected party: the socket, and everything it received. */
export interface Conn {
  ws: WebSocket;
  texts: Array<Record<string, unknown>>;
  binaries: Uint8Array[];
  closed: boolean;
}

/** Opens the round WebSocket as `node` (auth in the query string, like a browser). */
export async function connect(node: TestNode, wsPath: string): Promise<Conn> {
  const url = signUrl({ url: BASE + wsPath, nodeId: node.id, identitySecretKey: node.identitySecretKey });
  const res = await SELF.fetch(url, { headers: { upgrade: "websocket" } });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
  const ws = res.webSocket;
  const conn: Conn = { ws, texts: [], binaries: [], closed: false };
  ws.accept();
  (ws as unknown as { binaryType: string }).binaryType = "arraybuffer"; // the compat date defaults to Blob
  ws.addEventListener("message", (e) => {
    if (typeof e.data === "string") conn.texts.push(JSON.parse(e.data) as Record<string, unknown>);
    else conn.binaries.push(new Uint8Array(e.data as ArrayBuffer));
  });
  ws.addEventListener("close", () => { conn.closed = true; });
  return conn;
}

/** Waits until `pred` holds (polling), or throws after `ms`. */
export async function until(pred: () => boolean | Promise<boolean>, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The job's excluded node ids, read from the JobDO's durable state. */
export async function jobExcluded(id: string): Promise<string[]> {
  const { runInDurableObject } = await import("cloudflare:test");
  return runInDurableObject(jobStub(id), async (_instance, state) => (await state.storage.get<{ excluded?: string[] }>("state"))?.excluded ?? []);
}

/** A node's reliability score as the registry reports it. */
export async function reliability(nodeId: string): Promise<number> {
  const r = await tokenFetch("GET", `/v1/nodes/${nodeId}`);
  if (r.status !== 200) throw new Error(`node lookup failed: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { node: { reliability: number } }).node.reliability;
}

/** A member of a {@link relayRound}: its node, assignment, relay connection and next seq. */
export interface RelayParty { node: TestNode; a: Assignment; conn: Conn; seq: number }

/**
 * A running round 0 of a fresh job with `n` registered nodes (schema `<prefix>/<uuid>`), every
 * member connected to the relay in index order, the progress timeout off (these parties ping
 * only when a test says so). `o` adds to the job spec. Throws if the round does not start in 5 s.
 */
export async function relayRound(prefix: string, n: number, o: Partial<JobSpecInput> = {}): Promise<{ jobId: string; schemaId: string; ps: RelayParty[] }> {
  const schemaId = `${prefix}/${crypto.randomUUID()}`;
  const nodes = Array.from({ length: n }, () => makeNode());
  for (const node of nodes) {
    const r = await register(node, { schemaId });
    if (r.status !== 201) throw new Error(`relayRound: registration answered ${r.status}`);
  }
  const job = await submitJob({ schemaId, committee: { size: n, min: n }, ...o });
  const ps: RelayParty[] = [];
  for (const node of nodes) {
    const a = (await assignments(node)).find((x) => x.jobId === job.id)!;
    ps.push({ node, a, seq: 0, conn: undefined as unknown as Conn });
  }
  ps.sort((x, y) => x.a.index - y.a.index);
  for (const p of ps) p.conn = await connect(p.node, p.a.wsPath);
  await until(async () => (await roundStub(job.id, 0, 0).status())?.phase === "running", 5000, "running");
  await setProgressTimeout(job.id, 0);
  return { jobId: job.id, schemaId, ps };
}

/** Sets round 0's progress timeout in its RoundDO (0: off). */
export const setProgressTimeout = (jobId: string, ms: number) => runInDurableObject(roundStub(jobId, 0, 0), async (instance, state) => {
  const st = { ...(await state.storage.get<Record<string, unknown>>("state"))!, progressMs: ms };
  await state.storage.put("state", st);
  (instance as unknown as { state: unknown }).state = st;
});

/** Overrides round 0's relay limits (memory, window, pause, spill) in its RoundDO. */
export const setRelayLimits = (jobId: string, l: Partial<RelayLimits>) => runInDurableObject(roundStub(jobId, 0, 0), (instance: RoundDO) => { instance.limits = { ...instance.limits, ...l }; });

/** The pair key of `p` with `peer` for this round's session. */
export const relayPairKey = (p: RelayParty, peer: RelayParty) => pairKey(p.node.kxSecretKey, peer.node.kxPublicKey, fromBase64Url(p.a.manifest.sessionId));
