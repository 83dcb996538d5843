/**
 * RoundDO: one per round attempt, named `round/<jobId>/<round>/<attempt>`. The relay and
 * referee of one MASCOT session:
 *  - committee and public keys from the manifest; an explicit phase machine
 *    (waiting → running → finalizing → accepted | aborted, durable-objects/machines.ts);
 *  - one deadline alarm per phase (idempotent: re-arms if early, no-op once terminal);
 *  - hibernatable WebSockets, one per party (tag `p<index>`, attachment = who);
 *  - envelopes (protocol/crypto/envelope.ts v2): sender signature, context and strictly
 *    increasing seq checked; point-to-point ones stored in the recipient's mailbox and
 *    delivered only to it; broadcasts (encrypted to the committee) stored once and delivered
 *    as the same bytes to every other party; everything re-delivered from a cursor;
 *  - it cannot read any payload (broadcasts included), so commit-then-open, MAC checks and
 *    the hash echo are checked by the parties themselves; the relay only sees phase names;
 *  - `released`: set (durably) once it relays an output-opening envelope (base phase
 *    "open.sum", "lin.open" or "plain.open"), and reported with an abort, so the job never
 *    reruns a round whose output may already be known to a corrupt member;
 *  - acceptance: every party submits the same aggregate bytes and transcript hash;
 *  - culprits only on its own evidence: parties absent at a deadline, a member that declined,
 *    a member that submitted two different results. A party's `abort` frame aborts the round
 *    with the reported code (`unexpected-message` for a coordinator-only code such as
 *    `cancelled`) but names no one (the accusation is kept in the detail text) —
 *    unless the phase deadline has passed, when the deadline's outcome (absent parties) wins;
 *    a result mismatch names no one either (a corrupt majority could outvote an honest member).
 * It holds no decryption key: it stores ciphertexts and public values (phase names, results) only.
 */
import { DurableObject } from "cloudflare:workers";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Env } from "../functions/env.ts";
import { ClientFrame, encodeDelivery, type RoundAbortCode, type RoundPhase, type ServerFrame } from "../protocol/api/frames.ts";
import type { RoundManifest } from "../protocol/api/schemas.ts";
import { LIN_OPEN } from "../protocol/mascot/linear-only.ts";
import { EnvelopeError, parseEnvelope, verifyEnvelopeSignatureAsync, type ParsedEnvelope } from "../protocol/crypto/envelope.ts";
import { fromBase64Url, toHex } from "../protocol/encoding.ts";
import { jobObjectName } from "../protocol/names.ts";
import type { RoundOutcome } from "./job-do.ts";
import { isRoundTerminal, transitionRound } from "./machines.ts";

/** Header set by the Worker (never by a client) after verifying the node's signed request. */
export const VERIFIED_NODE_HEADER = "x-2pm-verified-node";

interface Attachment {
  party: number;
  nodeId: string;
  connectedAt: number;
}

interface RoundState {
  manifest: RoundManifest;
  logEntryHash: string;
  phase: RoundPhase;
  /** Parties that have connected at least once. */
  joined: number[];
  outcome: null | { kind: "accepted"; aggregateHash: string; transcriptHash: string; excluded: number[] } | { kind: "aborted"; code: RoundAbortCode; culprits: number[]; detail: string };
  /** The JobDO has not yet acknowledged the outcome. */
  notifyPending: boolean;
  /** Whether to report the outcome to the JobDO at all (false after cancellation). */
  notifyJob: boolean;
  /** An output-opening envelope has been relayed (absent in rounds stored before this field). */
  released?: boolean;
}

/** Public view of a round for tests and operators. */
export interface RoundStatus {
  phase: RoundPhase;
  joined: number[];
  connected: number[];
  outcome: RoundState["outcome"];
  mailboxSizes: number[];
  /** Whether an output-opening envelope has been relayed (see the module comment). */
  released: boolean;
}

const NOTIFY_RETRY_MS = 5_000;

/**
 * Phases that open the round's output (protocol/mascot/party.ts OUTPUT_PHASES): validated
 * "open.sum", linear-only LIN_OPEN, the plaintext baseline's "plain.open". Relaying one sets
 * `released`.
 */
const OUTPUT_PHASES: ReadonlySet<string> = new Set(["open.sum", LIN_OPEN, "plain.open"]);

/** Abort codes only the coordinator itself decides; a party reporting one aborts with `unexpected-message`. */
const RELAY_ONLY_CODES: ReadonlySet<RoundAbortCode> = new Set<RoundAbortCode>(["cancelled", "declined", "result-mismatch"]);

/** The phase without a chunk suffix `#i/n` (client/agent/relay-session.ts chunkPayload). */
export function basePhase(phase: string): string {
  return phase.replace(/#\d+\/\d+$/, "");
}

export class RoundDO extends DurableObject<Env> {
  private state: RoundState | null = null;
  private identityKeys: Uint8Array[] = [];
  /** Next mailbox index per recipient (cache of MAX(idx)+1). */
  private nextIdx: number[] = [];
  /** Last accepted seq per sender (cache of the `seqs` table). */
  private lastSeqs = new Map<number, number>();
  /** Per-sender processing chain, so async signature checks keep arrival order. */
  private chains = new Map<number, Promise<void>>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, sender INTEGER NOT NULL, data BLOB NOT NULL)");
      sql.exec("CREATE TABLE IF NOT EXISTS mailbox (recipient INTEGER NOT NULL, idx INTEGER NOT NULL, msg_id INTEGER NOT NULL, PRIMARY KEY (recipient, idx)) WITHOUT ROWID");
      sql.exec("CREATE INDEX IF NOT EXISTS mailbox_msg ON mailbox (msg_id)");
      sql.exec("CREATE TABLE IF NOT EXISTS seqs (party INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL)");
      sql.exec("CREATE TABLE IF NOT EXISTS results (party INTEGER PRIMARY KEY, aggregate BLOB NOT NULL, aggregate_hash TEXT NOT NULL, transcript_hash TEXT NOT NULL, excluded TEXT NOT NULL)");
      this.state = (await ctx.storage.get<RoundState>("state")) ?? null;
      if (this.state) this.loadCaches();
    });
  }

  private loadCaches(): void {
    const m = this.state!.manifest;
    this.identityKeys = m.committee.map((c) => fromBase64Url(c.identityKey));
    this.nextIdx = m.committee.map(() => 1);
    for (const r of this.ctx.storage.sql.exec<{ recipient: number; top: number }>("SELECT recipient, MAX(idx) AS top FROM mailbox GROUP BY recipient")) {
      this.nextIdx[r.recipient] = r.top + 1;
    }
    this.lastSeqs.clear();
    for (const r of this.ctx.storage.sql.exec<{ party: number; last_seq: number }>("SELECT party, last_seq FROM seqs")) this.lastSeqs.set(r.party, r.last_seq);
  }

  // ------------------------------------------------------------------ RPC (JobDO)

  /**
   * Initialises the round from its manifest and arms the join deadline. Idempotent: a second
   * call (same or any manifest) leaves an initialised round unchanged.
   */
  async init(manifest: RoundManifest, logEntryHash: string): Promise<void> {
    if (this.state) return;
    this.state = { manifest, logEntryHash, phase: "waiting", joined: [], outcome: null, notifyPending: false, notifyJob: true };
    this.loadCaches();
    await this.save();
    await this.ctx.storage.setAlarm(manifest.deadlines.join);
  }

  /** Aborts with reason `cancelled` without reporting back to the JobDO. Idempotent. */
  async cancel(): Promise<void> {
    if (!this.state || isRoundTerminal(this.state.phase)) return;
    this.state.notifyJob = false;
    await this.abort("cancelled", [], "job cancelled");
  }

  /**
   * A committee member declines the round before taking part (e.g. its data does not fit the
   * job's limits): the round aborts at once with `declined`, naming it, instead of waiting
   * for the join deadline. Returns false if `nodeId` is not in the committee. Idempotent;
   * a no-op once the round has ended.
   */
  async decline(nodeId: string, reason: string): Promise<boolean> {
    const s = this.state;
    if (!s) return false;
    const member = s.manifest.committee.find((c) => c.nodeId === nodeId);
    if (!member) return false;
    if (isRoundTerminal(s.phase)) return true;
    await this.abort("declined", [member.index], `party ${member.index} declined: ${reason.slice(0, 300)}`);
    return true;
  }

  /** Runs the deadline check now (the JobDO watchdog). Idempotent. */
  async checkDeadline(): Promise<void> {
    await this.alarm();
  }

  /** Read-only status. */
  async status(): Promise<RoundStatus | null> {
    if (!this.state) return null;
    const mailboxSizes = this.state.manifest.committee.map((_, i) => (this.nextIdx[i] ?? 1) - 1);
    return { phase: this.state.phase, joined: [...this.state.joined], connected: this.connectedParties(), outcome: this.state.outcome, mailboxSizes, released: this.state.released ?? false };
  }

  // ------------------------------------------------------------------ WebSocket

  /** Accepts a WebSocket upgrade forwarded by the Worker (which verified the node's signature). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const s = this.state;
    if (!s) return new Response("no such round", { status: 404 });
    const nodeId = request.headers.get(VERIFIED_NODE_HEADER);
    const member = s.manifest.committee.find((c) => c.nodeId === nodeId);
    if (!nodeId || !member) return new Response("not in this round's committee", { status: 403 });
    const party = member.index;
    for (const old of this.ctx.getWebSockets(`p${party}`)) {
      try { old.close(4001, "replaced by a newer connection"); } catch { /* already closed */ }
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [`p${party}`]);
    server.serializeAttachment({ party, nodeId, connectedAt: Date.now() } satisfies Attachment);
    this.send(server, { v: 1, kind: "welcome", me: party, phase: s.phase, cursor: (this.nextIdx[party] ?? 1) - 1, connected: this.connectedParties() });
    if (s.outcome) {
      this.send(server, this.outcomeFrame());
    } else {
      if (!s.joined.includes(party)) s.joined.push(party);
      if (s.phase === "waiting" && s.joined.length === s.manifest.committee.length) {
        this.setPhase("running");
        await this.ctx.storage.setAlarm(s.manifest.deadlines.compute);
      }
      await this.save();
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const who = ws.deserializeAttachment() as Attachment | null;
    if (!who || !this.state) return;
    const party = who.party;
    const prev = this.chains.get(party) ?? Promise.resolve();
    const next = prev.then(() => this.handle(ws, party, message)).catch((e: unknown) => {
      console.error("RoundDO: message handler failed", e);
      this.send(ws, { v: 1, kind: "error", code: "internal", detail: "internal error" });
    });
    this.chains.set(party, next);
    await next;
    if (this.chains.get(party) === next) this.chains.delete(party);
  }

  override async webSocketClose(ws: WebSocket, code: number, _reason: string, _wasClean: boolean): Promise<void> {
    try { ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing"); } catch { /* already closed */ }
  }

  override async webSocketError(_ws: WebSocket, _error: unknown): Promise<void> {
    /* the socket is gone; the party may reconnect and resume from its cursor */
  }

  private async handle(ws: WebSocket, party: number, message: string | ArrayBuffer): Promise<void> {
    const s = this.state!;
    if (typeof message !== "string") {
      const buf = message instanceof ArrayBuffer ? message : await (message as Blob).arrayBuffer();
      await this.relay(ws, party, new Uint8Array(buf));
      return;
    }
    let frame: ReturnType<typeof ClientFrame.parse>;
    try {
      frame = ClientFrame.parse(JSON.parse(message));
    } catch {
      this.send(ws, { v: 1, kind: "error", code: "bad-frame", detail: "not a valid client frame" });
      return;
    }
    switch (frame.kind) {
      case "ping":
        this.send(ws, { v: 1, kind: "pong" });
        return;
      case "ack":
        this.ack(party, frame.cursor);
        return;
      case "hello":
        this.redeliver(ws, party, frame.cursor);
        if (s.outcome) this.send(ws, this.outcomeFrame());
        return;
      case "abort": {
        if (isRoundTerminal(s.phase)) return;
        // Past our own phase deadline the outcome is the deadline's (absent parties, by our
        // own observation), whichever of the alarm and this report comes first.
        if (Date.now() >= this.phaseDeadline()) {
          await this.alarm();
          if (isRoundTerminal(s.phase)) return;
        }
        // A party's report is not evidence the relay can check: abort with its code, record
        // whom it accuses in the detail, name no one (a liar could get honest members excluded).
        const accused = [...new Set(frame.culprits)].filter((c) => Number.isInteger(c) && c >= 0 && c < s.manifest.committee.length).sort((a, b) => a - b);
        const detail = `party ${party} reports ${frame.code}${accused.length ? `, accusing ${accused.join(", ")}` : ""}${frame.detail ? `: ${frame.detail}` : ""}`;
        // Outcomes only the coordinator decides (a cancellation stops the job's retries) are not a party's to report.
        const code: RoundAbortCode = RELAY_ONLY_CODES.has(frame.code) ? "unexpected-message" : frame.code;
        await this.abort(code, [], detail.slice(0, 1000));
        return;
      }
      case "result":
        await this.submitResult(ws, party, frame);
        return;
    }
  }

  /** Verifies and stores one envelope, then delivers it. One bad item is refused; the round goes on. */
  private async relay(ws: WebSocket, party: number, bytes: Uint8Array): Promise<void> {
    const s = this.state!;
    const refuse = (code: string, detail: string) => this.send(ws, { v: 1, kind: "error", code, detail });
    if (isRoundTerminal(s.phase)) return refuse("round-closed", `round is ${s.phase}`);
    let env: ParsedEnvelope;
    try {
      env = parseEnvelope(bytes);
    } catch (e) {
      return refuse("bad-encoding", e instanceof EnvelopeError ? e.message : "malformed envelope");
    }
    const m = s.manifest;
    if (env.jobId !== m.jobId || env.round !== m.round || env.attempt !== m.attempt) return refuse("wrong-context", "envelope belongs to another round");
    if (env.from !== party) return refuse("forbidden", `connection is party ${party}, envelope claims ${env.from}`);
    const n = m.committee.length;
    if (env.to !== "all" && (env.to >= n || env.to === party)) return refuse("bad-recipient", `no party ${env.to}`);
    const last = this.lastSeq(party);
    if (env.seq <= last) return refuse("replay", `seq ${env.seq} not above ${last}`);
    if (!(await verifyEnvelopeSignatureAsync(env, this.identityKeys[party]!))) return refuse("bad-signature", "envelope signature does not verify");
    if (env.seq <= this.lastSeq(party)) return refuse("replay", `seq ${env.seq} already used`);
    if (isRoundTerminal(s.phase)) return refuse("round-closed", `round is ${s.phase}`);

    // From here on synchronous: the envelope is stored and delivered atomically with respect
    // to other handlers. The relay reads nothing but the header; the parties check the rest.
    if (!s.released && OUTPUT_PHASES.has(basePhase(env.phase))) {
      // Durable before any delivery leaves (the output gate holds sends until the write is done).
      s.released = true;
      this.save().catch((e: unknown) => console.error("RoundDO: could not persist `released`", e));
    }
    const sql = this.ctx.storage.sql;
    sql.exec("INSERT INTO seqs (party, last_seq) VALUES (?, ?) ON CONFLICT (party) DO UPDATE SET last_seq = excluded.last_seq", party, env.seq);
    this.lastSeqs.set(party, env.seq);
    const msgId = sql.exec<{ id: number }>("INSERT INTO messages (sender, data) VALUES (?, ?) RETURNING id", party, bytes).one().id;
    const recipients = env.to === "all" ? m.committee.map((c) => c.index).filter((i) => i !== party) : [env.to];
    for (const r of recipients) {
      const idx = this.nextIdx[r]!;
      this.nextIdx[r] = idx + 1;
      sql.exec("INSERT INTO mailbox (recipient, idx, msg_id) VALUES (?, ?, ?)", r, idx, msgId);
      const frame = encodeDelivery(idx, bytes);
      for (const sock of this.ctx.getWebSockets(`p${r}`)) {
        try { sock.send(frame); } catch { /* recipient gone; it re-reads its mailbox on reconnect */ }
      }
    }
  }

  /**
   * Drops `party`'s mailbox entries up to `cursor` (it has processed them) and every relayed
   * envelope no mailbox references any more, so a round's storage holds only what is in
   * flight. Idempotent.
   */
  private ack(party: number, cursor: number): void {
    const sql = this.ctx.storage.sql;
    const ids = sql.exec<{ msg_id: number }>("SELECT msg_id FROM mailbox WHERE recipient = ? AND idx <= ?", party, cursor).toArray().map((r) => r.msg_id);
    if (ids.length === 0) return;
    sql.exec("DELETE FROM mailbox WHERE recipient = ? AND idx <= ?", party, cursor);
    for (const id of ids) {
      if (sql.exec("SELECT 1 AS x FROM mailbox WHERE msg_id = ? LIMIT 1", id).toArray().length === 0) sql.exec("DELETE FROM messages WHERE id = ?", id);
    }
  }

  private lastSeq(party: number): number {
    return this.lastSeqs.get(party) ?? -1;
  }

  private redeliver(ws: WebSocket, party: number, cursor: number): void {
    const rows = this.ctx.storage.sql.exec<{ idx: number; data: ArrayBuffer }>(
      "SELECT mb.idx AS idx, m.data AS data FROM mailbox mb JOIN messages m ON m.id = mb.msg_id WHERE mb.recipient = ? AND mb.idx > ? ORDER BY mb.idx",
      party, cursor,
    );
    for (const r of rows) ws.send(encodeDelivery(r.idx, new Uint8Array(r.data)));
  }

  private async submitResult(ws: WebSocket, party: number, f: { aggregate: string; transcriptHash: string; excluded?: number[] | undefined }): Promise<void> {
    const s = this.state!;
    if (s.phase !== "running" && s.phase !== "finalizing") {
      this.send(ws, { v: 1, kind: "error", code: "wrong-phase", detail: `results are not accepted while ${s.phase}` });
      return;
    }
    let aggregate: Uint8Array;
    try { aggregate = fromBase64Url(f.aggregate); } catch {
      this.send(ws, { v: 1, kind: "error", code: "bad-frame", detail: "aggregate is not base64url" });
      return;
    }
    const aggregateHash = toHex(sha256(aggregate));
    const excluded = JSON.stringify([...new Set(f.excluded ?? [])].sort((a, b) => a - b));
    const sql = this.ctx.storage.sql;
    const prior = sql.exec<{ aggregate_hash: string; transcript_hash: string; excluded: string }>("SELECT aggregate_hash, transcript_hash, excluded FROM results WHERE party = ?", party).toArray()[0];
    if (prior) {
      if (prior.aggregate_hash !== aggregateHash || prior.transcript_hash !== f.transcriptHash || prior.excluded !== excluded) {
        await this.abort("equivocation", [party], `party ${party} submitted two different results`);
      }
      return;
    }
    sql.exec("INSERT INTO results (party, aggregate, aggregate_hash, transcript_hash, excluded) VALUES (?, ?, ?, ?, ?)", party, aggregate, aggregateHash, f.transcriptHash, excluded);
    if (s.phase === "running") {
      this.setPhase("finalizing");
      await this.ctx.storage.setAlarm(s.manifest.deadlines.finalize);
    }
    await this.save();
    const all = sql.exec<{ party: number; aggregate_hash: string; transcript_hash: string; excluded: string }>("SELECT party, aggregate_hash, transcript_hash, excluded FROM results").toArray();
    if (all.length < s.manifest.committee.length) return;
    const key = (r: (typeof all)[number]) => `${r.aggregate_hash}|${r.transcript_hash}|${r.excluded}`;
    const counts = new Map<string, number>();
    for (const r of all) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
    if (counts.size === 1) {
      const r = all[0]!;
      s.outcome = { kind: "accepted", aggregateHash: r.aggregate_hash, transcriptHash: r.transcript_hash, excluded: JSON.parse(r.excluded) as number[] };
      this.setPhase("accepted");
      await this.finish();
      return;
    }
    // No culprit: the relay cannot tell which result is right, and a corrupt majority could
    // frame an honest member by outvoting it.
    const groups = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => all.filter((r) => key(r) === k).map((r) => r.party));
    await this.abort("result-mismatch", [], `committee members submitted different aggregates or transcripts (groups: ${groups.map((g) => `[${g.join(",")}]`).join(" ")})`);
  }

  // ------------------------------------------------------------------ deadlines and outcome

  /**
   * The phase deadline alarm. Idempotent: retries a pending JobDO report; does nothing once
   * terminal; re-arms when called before the current phase's deadline; otherwise aborts with
   * `timeout`, naming the absent parties.
   */
  override async alarm(): Promise<void> {
    const s = this.state;
    if (!s) return;
    if (s.notifyPending) {
      await this.notify();
      return;
    }
    if (isRoundTerminal(s.phase)) return;
    const deadline = this.phaseDeadline();
    const now = Date.now();
    if (now < deadline) {
      await this.ctx.storage.setAlarm(deadline);
      return;
    }
    const everyone = s.manifest.committee.map((c) => c.index);
    const connected = new Set(this.connectedParties());
    let absent: number[];
    if (s.phase === "finalizing") {
      const submitted = new Set(this.ctx.storage.sql.exec<{ party: number }>("SELECT party FROM results").toArray().map((r) => r.party));
      absent = everyone.filter((i) => !submitted.has(i));
    } else if (s.phase === "waiting") {
      absent = everyone.filter((i) => !s.joined.includes(i) || !connected.has(i));
    } else {
      absent = everyone.filter((i) => !connected.has(i));
    }
    await this.abort("timeout", absent, `${s.phase} deadline passed; absent: ${absent.length ? absent.join(", ") : "none"}`);
  }

  /** The current phase's deadline (Unix ms). */
  private phaseDeadline(): number {
    const s = this.state!;
    const d = s.manifest.deadlines;
    return s.phase === "waiting" ? d.join : s.phase === "running" ? d.compute : d.finalize;
  }

  private async abort(code: RoundAbortCode, culprits: number[], detail: string): Promise<void> {
    const s = this.state!;
    if (isRoundTerminal(s.phase)) return;
    s.outcome = { kind: "aborted", code, culprits: [...new Set(culprits)].sort((a, b) => a - b), detail };
    this.setPhase("aborted");
    await this.finish();
  }

  private async finish(): Promise<void> {
    const s = this.state!;
    s.notifyPending = s.notifyJob;
    await this.save();
    const frame = this.outcomeFrame();
    for (const ws of this.ctx.getWebSockets()) {
      this.send(ws, frame);
      try { ws.close(1000, s.phase); } catch { /* gone */ }
    }
    // A terminal round needs no redelivery: drop the relayed ciphertexts (they can be tens of
    // MB per round); the results stay as the round's public record.
    this.ctx.storage.sql.exec("DELETE FROM mailbox");
    this.ctx.storage.sql.exec("DELETE FROM messages");
    if (s.notifyPending) await this.notify();
  }

  private async notify(): Promise<void> {
    const s = this.state!;
    const m = s.manifest;
    let report: RoundOutcome;
    if (s.outcome?.kind === "accepted") {
      const r = this.ctx.storage.sql.exec<{ aggregate: ArrayBuffer }>("SELECT aggregate FROM results WHERE aggregate_hash = ? LIMIT 1", s.outcome.aggregateHash).one();
      report = { jobId: m.jobId, round: m.round, attempt: m.attempt, outcome: "accepted", aggregate: new Uint8Array(r.aggregate), transcriptHash: s.outcome.transcriptHash, excluded: s.outcome.excluded };
    } else if (s.outcome?.kind === "aborted") {
      report = { jobId: m.jobId, round: m.round, attempt: m.attempt, outcome: "aborted", code: s.outcome.code, culprits: s.outcome.culprits, detail: s.outcome.detail, released: s.released ?? false };
    } else return;
    try {
      const job = this.env.JOB_DO.get(this.env.JOB_DO.idFromName(jobObjectName(m.jobId)));
      await job.roundFinished(report);
      s.notifyPending = false;
      await this.save();
    } catch (e) {
      console.error("RoundDO: could not report to the JobDO, will retry", e);
      await this.ctx.storage.setAlarm(Date.now() + NOTIFY_RETRY_MS);
    }
  }

  private outcomeFrame(): ServerFrame {
    const o = this.state!.outcome!;
    return o.kind === "accepted"
      ? { v: 1, kind: "accepted", aggregateHash: o.aggregateHash, transcriptHash: o.transcriptHash, excluded: o.excluded }
      : { v: 1, kind: "aborted", code: o.code, culprits: o.culprits, detail: o.detail };
  }

  private setPhase(to: RoundPhase): void {
    const s = this.state!;
    s.phase = transitionRound(s.phase, to);
    if (!isRoundTerminal(to)) for (const ws of this.ctx.getWebSockets()) this.send(ws, { v: 1, kind: "phase", phase: to });
  }

  private connectedParties(): number[] {
    const out = new Set<number>();
    for (const ws of this.ctx.getWebSockets()) {
      const a = ws.deserializeAttachment() as Attachment | null;
      if (a && ws.readyState === WebSocket.OPEN) out.add(a.party);
    }
    return [...out].sort((a, b) => a - b);
  }

  private send(ws: WebSocket, frame: ServerFrame): void {
    try { ws.send(JSON.stringify(frame)); } catch { /* closed */ }
  }

  private async save(): Promise<void> {
    await this.ctx.storage.put("state", this.state);
  }
}
