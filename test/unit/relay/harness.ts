/**
 * A real relay for the attacker tests: the local coordinator (scripts/lib/coordinator.ts:
 * the bundled Worker on Miniflare with D1, R2 and the real JobDO/RoundDO), nodes this test
 * creates itself (fresh identity and kx keys, signed registration), jobs submitted through
 * the HTTP API, and real SecureSumParty instances driven by runRelaySession. Nothing is mocked.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { NodeClient } from "../../../client/agent/node-client.ts";
import { runRelaySession, type RelaySessionOptions, type RoundContext } from "../../../client/agent/relay-session.ts";
import type { Assignment, RoundInfo } from "../../../protocol/api/schemas.ts";
import { generateNodeKeys, type NodeKeys } from "../../../protocol/crypto/identity.ts";
import { fromBase64Url, toHex, utf8 } from "../../../protocol/encoding.ts";
import { fieldByName } from "../../../protocol/field/index.ts";
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import { SecureSumParty, type AggregationMode, type OutboundMessage, type SecureSumResult } from "../../../protocol/mascot/party.ts";
import { cryptoRng, seededRng } from "../../../protocol/rng.ts";
import { compileQuery, parseDatasetSchema, parseStatsQuery } from "../../../protocol/stats/index.ts";
import type { LocalCoordinator } from "../../../scripts/lib/coordinator.ts";

export interface TestNode { keys: NodeKeys; client: NodeClient; id: string }

/** A stats task (one count over a one-column schema) and its layout length. */
export function statsTask(schemaId: string): { task: Record<string, unknown>; length: number } {
  const task = {
    query: { version: 1, minCount: 0, measures: [{ name: "rows", kind: "count" }], limits: { maxParties: 16, maxRowsPerParty: 1000 } },
    schema: { version: 1, name: schemaId, columns: [{ name: "x", type: "numeric" }] },
  };
  const layout = compileQuery(parseStatsQuery(task.query), parseDatasetSchema(task.schema));
  return { task, length: layout.length };
}

/** Registers `n` fresh nodes holding a dataset of `schemaId`, submits a stats job with committee n, and returns every member's assignment. */
export async function newRound(coord: LocalCoordinator, n: number, mode: AggregationMode, o: { size?: number } = {}): Promise<{ jobId: string; nodes: TestNode[]; assignments: Assignment[]; length: number }> {
  const schemaId = `relay/${toHex(cryptoRng.bytes(6))}`;
  const nodes: TestNode[] = [];
  for (let i = 0; i < n; i++) {
    const keys = generateNodeKeys(cryptoRng);
    const client = new NodeClient(coord.url, keys);
    await client.register({
      capabilities: { cores: 4, memoryMb: 8192, bandwidthMbps: 100 },
      datasets: [{ schemaId, rows: 100, commitment: toHex(sha256(utf8(client.nodeId))) }],
    });
    nodes.push({ keys, client, id: client.nodeId });
  }
  const { task, length } = statsTask(schemaId);
  const size = o.size ?? n;
  const r = await fetch(`${coord.url}/v1/jobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${coord.apiToken}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "stats", schemaId, mode, committee: { size, min: size }, maxRounds: 1, retryBudget: 0, fixedPoint: { fracBits: 16, bound: 1000 }, task }),
  });
  if (r.status !== 201) throw new Error(`job submission failed: ${r.status} ${await r.text()}`);
  const jobId = ((await r.json()) as { job: { id: string } }).job.id;
  const assignments: Assignment[] = [];
  const deadline = Date.now() + 30_000;
  for (const node of nodes) {
    for (;;) {
      const a = (await node.client.assignments(1)).find((x) => x.jobId === jobId);
      if (a) { assignments.push(a); break; }
      if (Date.now() > deadline) throw new Error(`node ${node.id} got no assignment for job ${jobId}`);
    }
  }
  return { jobId, nodes, assignments, length };
}

/** The view hash an honest agent derives from the manifest's log entry (SHA-256 over its hash). */
export function viewOf(a: Assignment): Uint8Array {
  return sha256(utf8(a.logEntryHash));
}

export interface Member {
  index: number;
  input: FieldVec;
  party: SecureSumParty;
  /** Every binary frame this member's session sent and received. */
  frames: Array<{ dir: "sent" | "received"; bytes: Uint8Array }>;
  /** The plaintext payloads of every broadcast this member's party emitted. */
  broadcasts: Array<{ phase: string; payload: Uint8Array }>;
  phases: string[];
  run: Promise<SecureSumResult>;
  /** Milliseconds from start to settlement (set once settled). */
  elapsedMs?: number;
}

/**
 * Starts a session for member `a` (a real party over the real relay). `ctx`/`opts` override
 * what an honest agent would pass (the attacker's lever).
 */
export function startMember(coord: LocalCoordinator, node: TestNode, a: Assignment, input: FieldVec, o: { ctx?: (c: RoundContext) => RoundContext; opts?: Partial<RelaySessionOptions> } = {}): Member {
  const m = a.manifest;
  const field: Field = fieldByName(m.field);
  const sessionId = fromBase64Url(m.sessionId);
  const party = new SecureSumParty({ field, parties: m.committee.length, me: a.index, mode: m.mode, length: input.length, predicates: [], sessionId }, input, seededRng(`party-${a.jobId}-${a.index}`));
  const committee = m.committee.map((c) => ({ nodeId: c.nodeId, identityPublicKey: fromBase64Url(c.identityKey), kxPublicKey: fromBase64Url(c.kxKey) }));
  const base: RoundContext = { jobId: a.jobId, round: a.round, attempt: a.attempt, me: a.index, sessionId, committee, viewHash: viewOf(a) };
  const member: Omit<Member, "run"> & { run?: Promise<SecureSumResult> } = { index: a.index, input, party, frames: [], broadcasts: [], phases: [] };
  const t0 = Date.now();
  member.run = runRelaySession({
    coordinatorUrl: coord.url, nodeId: node.id, keys: node.keys, field, party, rng: cryptoRng,
    ctx: o.ctx ? o.ctx(base) : base,
    onFrame: (dir, bytes) => member.frames.push({ dir, bytes: bytes.slice() }),
    tamper: (msg: OutboundMessage) => {
      if (msg.to === "all") member.broadcasts.push({ phase: msg.phase, payload: msg.payload.slice() });
      return msg;
    },
    onPhase: (p) => member.phases.push(p),
    ...o.opts,
  });
  member.run.then(() => { member.elapsedMs = Date.now() - t0; }, () => { member.elapsedMs = Date.now() - t0; });
  return member as Member;
}

/** The job's rounds as the coordinator reports them. */
export async function rounds(coord: LocalCoordinator, jobId: string): Promise<RoundInfo[]> {
  const r = await fetch(`${coord.url}/v1/jobs/${jobId}/rounds`, { headers: { authorization: `Bearer ${coord.apiToken}` } });
  return ((await r.json()) as { rounds: RoundInfo[] }).rounds;
}

/**
 * A set of 8-byte needles searched at every byte offset of a haystack (not only aligned):
 * indexed by their low 32 bits so the scan is one Map lookup per offset.
 */
export class NeedleSet {
  private byLow = new Map<number, Array<{ hi: number; label: string }>>();
  size = 0;
  add(bytes8: Uint8Array, label: string): void {
    if (bytes8.length !== 8) throw new RangeError("needles are 8 bytes");
    const dv = new DataView(bytes8.buffer, bytes8.byteOffset, 8);
    const lo = dv.getUint32(0, true), hi = dv.getUint32(4, true);
    const list = this.byLow.get(lo) ?? [];
    if (!list.some((x) => x.hi === hi)) { list.push({ hi, label }); this.size++; }
    this.byLow.set(lo, list);
  }
  /** Labels of every needle found in `hay`, with the offset. */
  find(hay: Uint8Array): Array<{ label: string; offset: number }> {
    const out: Array<{ label: string; offset: number }> = [];
    const dv = new DataView(hay.buffer, hay.byteOffset, hay.byteLength);
    for (let i = 0; i + 8 <= hay.length; i++) {
      const list = this.byLow.get(dv.getUint32(i, true));
      if (!list) continue;
      const hi = dv.getUint32(i + 4, true);
      for (const x of list) if (x.hi === hi) out.push({ label: x.label, offset: i });
    }
    return out;
  }
}

/** True for an 8-byte value unlikely to occur by accident (≥ 5 distinct byte values: not a small count, a zero run or a length). */
export function distinctive(bytes8: Uint8Array): boolean {
  return new Set(bytes8).size >= 5;
}
