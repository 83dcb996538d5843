/**
 * RoundDO: one per round attempt, named `round/<jobId>/<round>/<attempt>`. The transport of
 * one MASCOT session around the pure referee (./core/round-referee.ts, which holds the rules:
 * phases, deadlines, `released`, acceptance, culprits):
 *  - hibernatable WebSockets, one per party (tag `p<index>`, attachment = who);
 *  - envelopes (protocol/crypto/envelope.ts v2): header checked by the referee, sender
 *    signature and strictly increasing seq here; point-to-point ones stored in the
 *    recipient's mailbox and delivered only to it; broadcasts (encrypted to the committee)
 *    stored once and delivered as the same bytes to every other party; everything
 *    re-delivered from a cursor. Stored before delivered, in group commits (one SQLite
 *    transaction per burst of envelopes, {@link RoundDO.flush}): a crash loses only envelopes
 *    nobody received and whose seqs were not recorded, which their senders re-send after
 *    `welcome.lastSeq` — nothing is lost silently, delivered twice under two indices, or
 *    delivered under an index that is later reused;
 *  - one alarm: the current phase's deadline or, while the round runs, the next liveness
 *    check (the referee's onAlarm: a member silent past the progress timeout, while others are
 *    heard, is named); idempotent: re-arms if early, no-op once terminal; or a retry of the
 *    report to the JobDO;
 *  - liveness: when the relay last heard from each party — any frame it handled, the socket's
 *    connection time, and the runtime's auto-answered pings (answered without waking the
 *    object, timestamped per socket) — kept in memory and saved at each alarm, so a
 *    hibernated or restarted object still knows who fell silent.
 *  - crash safety: state saved before anything leaves; a storage error resets the object
 *    ({@link RoundDO.durably}); on start or a repeated `init` a live round (or an outcome the
 *    JobDO has not acknowledged) gets its alarm back ({@link RoundDO.ensureAlarm}); envelopes
 *    without a seq gap ({@link checkSequence}); proved with the JobDO by test/sim/.
 * It holds no decryption key: it stores ciphertexts and public values (phase names, results) only.
 */
import { DurableObject } from "cloudflare:workers";
import { sha256 } from "@noble/hashes/sha2.js";
type Env = Cloudflare.Env; // the Worker bindings, declared in functions/env.ts
import { ClientFrame, encodeDelivery, type ServerFrame } from "../protocol/api/frames.ts";
import type { RoundManifest } from "../protocol/api/schemas.ts";
import { EnvelopeError, parseEnvelope, verifyEnvelopeSignatureAsync, type ParsedEnvelope } from "../protocol/crypto/envelope.ts";
import { fromBase64Url, toHex } from "../protocol/encoding.ts";
import { jobObjectName } from "../protocol/names.ts";
import type { RoundOutcome } from "./core/job-machine.ts";
import { isRoundTerminal } from "./core/machines.ts";
import {
  alarmAt, BUSY_GRACE_MS, checkEnvelope, checkSequence, DEFAULT_PROGRESS_MS, initRound, onAlarm, phaseDeadline, onCancel, onDecline, onJoin, onPartyAbort, onRelay, onResult,
  type RoundState, type RoundStep,
} from "./core/round-referee.ts";

/** The text of a client `ping` frame (frames.ts), answered by the runtime without waking the object. */
const PING = JSON.stringify({ v: 1, kind: "ping" });
const PONG = JSON.stringify({ v: 1, kind: "pong" });

/** The progress timeout from the `ROUND_PROGRESS_TIMEOUT_MS` var (non-negative integer; 0 = off), else the default. */
function progressTimeout(env: Env): number {
  const v = env.ROUND_PROGRESS_TIMEOUT_MS;
  if (v === undefined || v === "") return DEFAULT_PROGRESS_MS;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : DEFAULT_PROGRESS_MS;
}

/** Header set by the Worker (never by a client) after verifying the node's signed request. */
export const VERIFIED_NODE_HEADER = "x-2pm-verified-node";

interface Attachment {
  party: number;
  nodeId: string;
  connectedAt: number;
}

/** Public view of a round for tests and operators (`released`: an output-opening envelope has been relayed). */
export type RoundStatus = Pick<RoundState, "phase" | "joined" | "outcome" | "released"> & { connected: number[]; mailboxSizes: number[] };

const NOTIFY_RETRY_MS = 5_000;

/** A group commit is written at once when its envelopes reach this many bytes or this count (else at the end of the burst). */
const BATCH_BYTES = 4 << 20;
const BATCH_ENVELOPES = 256;

export class RoundDO extends DurableObject<Env> {
  private state: RoundState | null = null;
  private identityKeys: Uint8Array[] = [];
  /** Next mailbox index per recipient (cache of MAX(idx)+1). */
  private nextIdx: number[] = [];
  /** Last accepted seq per sender (cache of the `seqs` table). */
  private lastSeqs = new Map<number, number>();
  /** Per-sender processing chain, so async signature checks keep arrival order. */
  private chains = new Map<number, Promise<void>>();
  /** When the relay last heard from each party (Unix ms): saved at each alarm, raised by every frame. */
  private heard: number[] = [];
  /** Accepted envelopes waiting for the next group commit ({@link flush}), with their mailbox indices. */
  private batch: Array<{ party: number; seq: number; bytes: Uint8Array; recipients: number[]; idxs: number[] }> = [];
  private batchBytes = 0;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, sender INTEGER NOT NULL, data BLOB NOT NULL)");
      sql.exec("CREATE TABLE IF NOT EXISTS mailbox (recipient INTEGER NOT NULL, idx INTEGER NOT NULL, msg_id INTEGER NOT NULL, PRIMARY KEY (recipient, idx)) WITHOUT ROWID");
      sql.exec("CREATE INDEX IF NOT EXISTS mailbox_msg ON mailbox (msg_id)");
      sql.exec("CREATE TABLE IF NOT EXISTS seqs (party INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL)");
      sql.exec("CREATE TABLE IF NOT EXISTS aggregates (party INTEGER PRIMARY KEY, hash TEXT NOT NULL, data BLOB NOT NULL)");
      this.state = (await ctx.storage.get<RoundState>("state")) ?? null;
      if (this.state) this.loadCaches();
      // Waking from hibernation keeps the sockets: their parties keep what was saved (their pings
      // are timestamped by the runtime). A party without a socket here — every party after a
      // restart, which dropped all sockets — gets the object's start: a restart of the
      // coordinator is a grace period for reconnecting, never evidence against anyone.
      const saved = (await ctx.storage.get<number[]>("heard")) ?? [];
      const now = Date.now();
      const withSocket = new Set(ctx.getWebSockets().map((ws) => (ws.deserializeAttachment() as Attachment | null)?.party));
      this.heard = (this.state?.manifest.committee ?? []).map((_, i) => (withSocket.has(i) ? saved[i] ?? now : Math.max(saved[i] ?? 0, now)));
      await this.ensureAlarm();
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  /** Last time each party was heard: the in-memory record, raised by its open sockets' connection and auto-answered ping times. */
  private heardNow(): number[] {
    const out = [...this.heard];
    for (const ws of this.ctx.getWebSockets()) {
      const a = ws.deserializeAttachment() as Attachment | null;
      if (!a || a.party >= out.length) continue;
      const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
      out[a.party] = Math.max(out[a.party] ?? 0, a.connectedAt, pinged);
    }
    return out;
  }

  private hear(party: number): void {
    if (party < this.heard.length) this.heard[party] = Date.now();
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

  // ------------------------------------------------------------------ RPC (JobDO, Worker)

  /**
   * Initialises the round from its manifest and arms the join deadline. Idempotent: an
   * initialised round stays unchanged (its alarm is re-armed if a crash lost it).
   */
  async init(manifest: RoundManifest, logEntryHash: string): Promise<void> {
    if (this.state) return this.ensureAlarm();
    const step = initRound(manifest, logEntryHash, { progressMs: progressTimeout(this.env) });
    this.state = step.state;
    this.loadCaches();
    this.heard = manifest.committee.map(() => Date.now());
    await this.save();
    await this.apply(step);
  }

  /** Aborts with reason `cancelled` without reporting back to the JobDO. Idempotent. */
  async cancel(): Promise<void> {
    if (this.state) await this.apply(onCancel(this.state));
  }

  /**
   * A committee member declines the round before taking part: the round aborts at once with
   * `declined`, naming it. Returns false if `nodeId` is not in the committee. Idempotent; a
   * no-op once the round has ended.
   */
  async decline(nodeId: string, reason: string): Promise<boolean> {
    if (!this.state) return false;
    const step = onDecline(this.state, nodeId, reason);
    await this.apply(step);
    return step.member;
  }

  /** Read-only status. */
  async status(): Promise<RoundStatus | null> {
    const s = this.state;
    if (!s) return null;
    const mailboxSizes = s.manifest.committee.map((_, i) => (this.nextIdx[i] ?? 1) - 1);
    return { phase: s.phase, joined: [...s.joined], connected: this.connectedParties(), outcome: s.outcome, mailboxSizes, released: s.released };
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
      this.keepHeard(old);
      try { old.close(4001, "replaced by a newer connection"); } catch { /* already closed */ }
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [`p${party}`]);
    server.serializeAttachment({ party, nodeId, connectedAt: Date.now() } satisfies Attachment);
    this.hear(party);
    this.send(server, { v: 1, kind: "welcome", me: party, phase: s.phase, cursor: (this.nextIdx[party] ?? 1) - 1, connected: this.connectedParties(), lastSeq: this.lastSeq(party) });
    if (s.outcome) this.send(server, this.outcomeFrame());
    else await this.apply(onJoin(s, party));
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const who = ws.deserializeAttachment() as Attachment | null;
    if (!who || !this.state) return;
    const party = who.party;
    this.hear(party);
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
    this.keepHeard(ws);
    try { ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing"); } catch { /* already closed */ }
  }

  override async webSocketError(ws: WebSocket, _error: unknown): Promise<void> {
    this.keepHeard(ws); // the socket is gone; the party may reconnect and resume from its cursor
  }

  /**
   * A socket is going away: its last auto-answered ping is the party's last sign of life, so
   * it moves into the in-memory record (else a party that was only pinging — computing a long
   * step — and then lost its connection for a moment would look silent since its last frame).
   * Found by the simulation (test/sim/).
   */
  private keepHeard(ws: WebSocket): void {
    const a = ws.deserializeAttachment() as Attachment | null;
    if (!a || a.party >= this.heard.length) return;
    const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    this.heard[a.party] = Math.max(this.heard[a.party] ?? 0, a.connectedAt, pinged);
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
      case "ping": // normally answered by the runtime (auto-response); here only if it was not byte-exact
        return this.send(ws, { v: 1, kind: "pong" });
      case "busy": // a step on the pinging thread is starting: heard until BUSY_GRACE_MS from now
        if (party < this.heard.length) this.heard[party] = Math.max(this.heard[party] ?? 0, Date.now() + BUSY_GRACE_MS);
        return;
      case "ack":
        return this.ack(party, frame.cursor);
      case "hello":
        this.redeliver(ws, party, frame.cursor);
        if (s.outcome) this.send(ws, this.outcomeFrame());
        return;
      case "abort":
        return this.apply(onPartyAbort(s, party, frame, Date.now(), this.connectedParties(), this.heardNow()), ws);
      case "result": {
        let aggregate: Uint8Array;
        try { aggregate = fromBase64Url(frame.aggregate); } catch {
          return this.send(ws, { v: 1, kind: "error", code: "bad-frame", detail: "aggregate is not base64url" });
        }
        const r = { party, aggregateHash: toHex(sha256(aggregate)), transcriptHash: frame.transcriptHash, excluded: [...new Set(frame.excluded ?? [])].sort((a, b) => a - b) };
        return this.apply(onResult(s, r), ws, { party, aggregate, hash: r.aggregateHash });
      }
    }
  }

  /** Verifies and stores one envelope, then delivers it. One bad item is refused; the round goes on. */
  private async relay(ws: WebSocket, party: number, bytes: Uint8Array): Promise<void> {
    const refuse = (r: { code: string; detail: string }) => this.send(ws, { v: 1, kind: "error", ...r });
    let env: ParsedEnvelope;
    try {
      env = parseEnvelope(bytes);
    } catch (e) {
      if (isRoundTerminal(this.state!.phase)) return refuse({ code: "round-closed", detail: `round is ${this.state!.phase}` });
      return refuse({ code: "bad-encoding", detail: e instanceof EnvelopeError ? e.message : "malformed envelope" });
    }
    const bad = checkEnvelope(this.state!, party, env, this.lastSeq(party));
    if (bad) return refuse(bad);
    if (!(await verifyEnvelopeSignatureAsync(env, this.identityKeys[party]!))) return refuse({ code: "bad-signature", detail: "envelope signature does not verify" });
    // The state may have moved while the signature was checked.
    const late = checkEnvelope(this.state!, party, env, this.lastSeq(party)) ?? checkSequence(env.seq, this.lastSeq(party));
    if (late) return refuse(late);

    // From here on synchronous: the envelope is accepted (seq and mailbox indices taken) and
    // queued for the next group commit; it is delivered once that commit is written. The relay
    // reads nothing but the header; the parties check the rest.
    const next = onRelay(this.state!, env.phase);
    if (next !== this.state) {
      // Durable before any delivery leaves (the output gate holds sends until the write is done).
      this.state = next;
      this.save().catch((e: unknown) => {
        console.error("RoundDO: could not persist `released`, resetting the object", e);
        this.ctx.abort("storage error (released)"); // the envelope is not delivered; its sender re-sends it
      });
    }
    this.lastSeqs.set(party, env.seq);
    const recipients = env.to === "all" ? next.manifest.committee.map((c) => c.index).filter((i) => i !== party) : [env.to];
    const idxs = recipients.map((r) => {
      const idx = this.nextIdx[r]!;
      this.nextIdx[r] = idx + 1;
      return idx;
    });
    this.batch.push({ party, seq: env.seq, bytes, recipients, idxs });
    this.batchBytes += bytes.length;
    if (this.batchBytes >= BATCH_BYTES || this.batch.length >= BATCH_ENVELOPES) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), 0);
  }

  /**
   * Group commit: writes every queued envelope (message rows, mailbox entries, each sender's
   * last seq) in one transaction, then delivers them. Persist-before-deliver holds for every
   * envelope — a crash before the commit loses only envelopes nobody has seen and whose seqs
   * are not recorded, so their senders re-send them after `welcome` (lastSeq) — but the
   * commit cost is paid once per burst instead of once per envelope. Idempotent on an empty queue.
   */
  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    this.batchBytes = 0;
    const sql = this.ctx.storage.sql;
    try {
      this.ctx.storage.transactionSync(() => {
        const lastSeq = new Map<number, number>();
        for (const b of batch) {
          const msgId = sql.exec<{ id: number }>("INSERT INTO messages (sender, data) VALUES (?, ?) RETURNING id", b.party, b.bytes).one().id;
          b.recipients.forEach((r, k) => sql.exec("INSERT INTO mailbox (recipient, idx, msg_id) VALUES (?, ?, ?)", r, b.idxs[k]!, msgId));
          lastSeq.set(b.party, b.seq);
        }
        for (const [party, seq] of lastSeq) sql.exec("INSERT INTO seqs (party, last_seq) VALUES (?, ?) ON CONFLICT (party) DO UPDATE SET last_seq = excluded.last_seq", party, seq);
      });
    } catch (e) {
      // Nothing of the batch was written, but the in-memory seqs and mailbox indices count it:
      // reset the object so it reloads a consistent state; the parties reconnect and re-send.
      console.error("RoundDO: group commit failed, resetting the object", e);
      this.ctx.abort("relay storage error");
      return;
    }
    for (const b of batch) {
      b.recipients.forEach((r, k) => {
        const frame = encodeDelivery(b.idxs[k]!, b.bytes);
        for (const sock of this.ctx.getWebSockets(`p${r}`)) {
          try { sock.send(frame); } catch { /* recipient gone; it re-reads its mailbox on reconnect */ }
        }
      });
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

  // ------------------------------------------------------------------ deadlines and outcome

  /**
   * The one alarm. Idempotent: retries a pending JobDO report; otherwise the referee's
   * deadline rule (re-arm if early, nothing once terminal, else `timeout` naming the absent).
   */
  override async alarm(): Promise<void> {
    const s = this.state;
    if (!s) return;
    if (s.notifyPending) return this.notify();
    const heard = this.heardNow();
    this.heard = heard;
    if (!isRoundTerminal(s.phase)) await this.ctx.storage.put("heard", heard);
    await this.apply(onAlarm(s, Date.now(), this.connectedParties(), heard));
  }

  /**
   * A live round, or an outcome the JobDO has not acknowledged, always has an alarm: a crash
   * between writing the state and arming the alarm (or during the report) is repaired when the
   * object starts or is initialised again. Idempotent.
   */
  private async ensureAlarm(): Promise<void> {
    const s = this.state;
    if (!s || (isRoundTerminal(s.phase) && !s.notifyPending) || (await this.ctx.storage.getAlarm()) !== null) return;
    const now = Date.now();
    await this.ctx.storage.setAlarm(s.notifyPending ? now : alarmAt(s, phaseDeadline(s), now));
  }

  /**
   * Runs storage writes of a step. A failure resets the object (`ctx.abort`), so its memory
   * never runs ahead of its storage: it restarts from what was stored, the parties reconnect
   * and re-send what the relay does not have (welcome.lastSeq), the alarm repairs the rest.
   */
  private async durably(what: string, f: () => unknown): Promise<void> {
    try {
      await f();
    } catch (e) {
      console.error(`RoundDO: ${what} failed, resetting the object`, e);
      this.ctx.abort(`storage error (${what})`);
      throw e;
    }
  }

  /** Carries out a referee step. `ws` is the party that caused it; `result` its submitted aggregate. */
  private async apply(step: RoundStep, ws?: WebSocket, result?: { party: number; aggregate: Uint8Array; hash: string }): Promise<void> {
    const changed = step.state !== this.state;
    this.state = step.state;
    if (result && step.effects.some((e) => e.kind === "store-aggregate")) {
      await this.durably("aggregate", () => this.ctx.storage.sql.exec("INSERT OR REPLACE INTO aggregates (party, hash, data) VALUES (?, ?, ?)", result.party, result.hash, result.aggregate));
    }
    if (changed) await this.durably("state", () => this.save());
    for (const e of step.effects) {
      if (e.kind === "phase") for (const sock of this.ctx.getWebSockets()) this.send(sock, { v: 1, kind: "phase", phase: e.phase });
      else if (e.kind === "alarm") await this.durably("alarm", () => this.ctx.storage.setAlarm(alarmAt(this.state!, e.at, Date.now())));
      else if (e.kind === "refuse" && ws) this.send(ws, { v: 1, kind: "error", code: e.code, detail: e.detail });
      else if (e.kind === "finish") await this.finish();
    }
  }

  private async finish(): Promise<void> {
    const s = this.state!;
    const frame = this.outcomeFrame();
    for (const ws of this.ctx.getWebSockets()) {
      this.send(ws, frame);
      try { ws.close(1000, s.phase); } catch { /* gone */ }
    }
    // A terminal round needs no redelivery: drop the relayed ciphertexts (they can be tens of
    // MB per round) and anything still queued; the results stay as the round's public record.
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.batch = [];
    this.batchBytes = 0;
    this.ctx.storage.sql.exec("DELETE FROM mailbox");
    this.ctx.storage.sql.exec("DELETE FROM messages");
    if (s.notifyPending) {
      // The report's retry is armed before the first try: a crash during it cannot strand the outcome.
      await this.durably("alarm", () => this.ctx.storage.setAlarm(Date.now() + NOTIFY_RETRY_MS));
      await this.notify();
    }
  }

  private async notify(): Promise<void> {
    const s = this.state!;
    const m = s.manifest;
    const o = s.outcome;
    if (!o) return;
    const at = { jobId: m.jobId, round: m.round, attempt: m.attempt };
    let report: RoundOutcome;
    if (o.kind === "accepted") {
      const r = this.ctx.storage.sql.exec<{ data: ArrayBuffer }>("SELECT data FROM aggregates WHERE hash = ? LIMIT 1", o.aggregateHash).one();
      report = { ...at, outcome: "accepted", aggregate: new Uint8Array(r.data), transcriptHash: o.transcriptHash, excluded: o.excluded };
    } else {
      report = { ...at, outcome: "aborted", code: o.code, culprits: o.culprits, detail: o.detail, released: s.released, ...(o.during ? { during: o.during } : {}) };
    }
    try {
      await this.env.JOB_DO.get(this.env.JOB_DO.idFromName(jobObjectName(m.jobId))).roundFinished(report);
      this.state = { ...this.state!, notifyPending: false };
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
