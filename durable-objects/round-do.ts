/**
 * RoundDO: one per round attempt, named `round/<jobId>/<round>/<attempt>`. The transport of
 * one MASCOT session around the pure referee (./core/round-referee.ts, which holds the rules:
 * phases, deadlines, `released`, acceptance, culprits):
 *  - hibernatable WebSockets, one per party (tag `p<index>`, attachment = who);
 *  - envelopes (protocol/crypto/envelope.ts v2): header checked by the referee (its `from` must
 *    be the connection's party, which the Worker authenticated), strictly increasing seq here;
 *    the sender's signature is NOT checked on the hot path: every recipient verifies every
 *    envelope and answers a bad one with `dispute`, which this object settles on its own copy
 *    ({@link RoundDO.dispute}: the sender or the disputer is named); point-to-point ones go into the recipient's
 *    mailbox and only to it; broadcasts (encrypted to the committee) once, as the same bytes to
 *    every other party; everything re-delivered from a cursor. Per burst one SQLite
 *    transaction makes the seqs, mailbox indices and each entry's (sender, seq) durable before
 *    any delivery ({@link RoundDO.flush}); payloads are held in memory until acknowledged and
 *    written to the mailbox tables only when they linger, memory runs high or the recipient
 *    is away. Flow control: a window per recipient, `pause`/`resume` to every sender when a
 *    reader falls behind, a reader that stops (or a sender that ignores the pause) named
 *    (docs/coordinator.md "Relay: throughput and back-pressure"). A crash loses at most held
 *    payloads, which their senders re-send into the same indices ({@link RoundDO.refill}) —
 *    nothing is lost silently, delivered twice under two indices, or delivered under an
 *    index that is later reused;
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
  alarmAt, BUSY_GRACE_MS, checkEnvelope, checkSequence, DEFAULT_PROGRESS_MS, initRound, onAlarm, phaseDeadline, onCancel, onDecline, onJoin, onPartyAbort, onRelay, onRelayFault, onResult,
  type RelayFault, type RoundState, type RoundStep,
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
/** Mailbox-entry records per INSERT of a group commit (4 bound parameters each; SQLite in Durable Objects binds at most 100). */
const META_ROWS = 25;

/**
 * Flow-control limits of the relay (docs/coordinator.md "Relay: throughput and back-pressure").
 * Envelope bytes in memory of one RoundDO stay under `memoryHardBytes` + one group commit
 * ({@link BATCH_BYTES}); storage under the committee size × `hardBytes`.
 */
export interface RelayLimits {
  /** Bytes sent to one recipient's socket and not yet acknowledged, at most (more waits in memory or storage). */
  windowBytes: number;
  /** Envelope bytes held in memory above which every sender is paused (resumed under half of it). */
  memoryBytes: number;
  /** Envelope bytes held in memory at most (what senders had in flight when paused): above it the oldest are written to the mailbox tables. */
  memoryHardBytes: number;
  /** A held envelope unacknowledged this long (ms) is written to the mailbox tables (so hibernation or a restart after a lull loses nothing). */
  spillMs: number;
  /** A recipient's unacknowledged backlog above this pauses every sender… */
  pauseBytes: number;
  /** …until every backlog is back under this. */
  resumeBytes: number;
  /** A backlog above this means a sender ignored the pause: the round aborts naming it. */
  hardBytes: number;
  /** While paused, a reader over the pause mark that acknowledges nothing this long (ms) is named. */
  readerStallMs: number;
}

export const RELAY_LIMITS: Readonly<RelayLimits> = {
  windowBytes: 4 << 20, memoryBytes: 32 << 20, memoryHardBytes: 64 << 20, spillMs: 2_000, pauseBytes: 64 << 20, resumeBytes: 32 << 20, hardBytes: 128 << 20, readerStallMs: 30_000,
};

/** The relay's flow-control frames (protocol/api/frames.ts ServerFrame `pause` / `resume`). */
type RelayControlFrame = Extract<ServerFrame, { kind: "pause" | "resume" }>;

/** A relayed envelope while some recipient has not acknowledged it. `bytes`: null once written to `messages` (`id`) or released. */
interface Msg { bytes: Uint8Array | null; size: number; sender: number; id: number | null; live: number; at: number; refs: Array<[recipient: number, idx: number]> }

/** One recipient's relay state: its unacknowledged entries (index → envelope, held or stored) and counters. */
interface Box {
  entries: Map<number, { msg: Msg; stored: boolean }>;
  /** Highest index assigned (queued included) / committed (seq and index durable). */
  assigned: number;
  top: number;
  acked: number;
  ackedSaved: number;
  /** Highest index sent on its current socket, and the bytes of those sent but unacknowledged. */
  sent: number;
  inflight: number;
  /** Bytes of all unacknowledged entries (held or stored). */
  backlog: number;
  lastAck: number;
  /** When `inflight` last rose from 0. */
  sentAt: number;
}

const newBox = (): Box => ({ entries: new Map(), assigned: 0, top: 0, acked: 0, ackedSaved: 0, sent: 0, inflight: 0, backlog: 0, lastAck: Date.now(), sentAt: 0 });

export class RoundDO extends DurableObject<Env> {
  private state: RoundState | null = null;
  private identityKeys: Uint8Array[] = [];
  /** Per recipient: mailbox indices, unacknowledged entries, window and backlog. */
  private boxes: Box[] = [];
  /** Envelopes held in memory, oldest first, and their bytes. */
  private held = new Set<Msg>();
  private heldBytes = 0;
  private tickTimer: ReturnType<typeof setTimeout> | undefined;
  private stallTimer: ReturnType<typeof setInterval> | undefined;
  /** Senders are paused (since when, because of which recipient's backlog or, -1, of memory). */
  private paused: { since: number; party: number } | null = null;
  /** A relay fault ended the round: nothing more is relayed. */
  private faulted = false;
  /**
   * After a restart: mailbox entries whose payload was lost (held in memory only), by
   * `sender:seq` → [recipient, index]; their senders are asked to re-send them (welcome.lastSeq)
   * and the re-sent envelope fills the same indices ({@link refill}).
   */
  private lost = new Map<string, Array<[recipient: number, idx: number]>>();
  /** Flow-control limits (tests may lower them through runInDurableObject). */
  limits: RelayLimits = { ...RELAY_LIMITS };
  /** Last accepted seq per sender (cache of the `seqs` table). */
  private lastSeqs = new Map<number, number>();
  /** Who each socket is (its attachment, read once per socket object). */
  private parties = new WeakMap<WebSocket, Attachment>();
  /** Per-party processing chain, so asynchronous handling (refills, disputes, results) keeps arrival order. */
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
      sql.exec("CREATE TABLE IF NOT EXISTS boxes (recipient INTEGER PRIMARY KEY, top INTEGER NOT NULL, acked INTEGER NOT NULL)");
      sql.exec("CREATE TABLE IF NOT EXISTS meta (recipient INTEGER NOT NULL, idx INTEGER NOT NULL, sender INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (recipient, idx)) WITHOUT ROWID");
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
      if (this.state && !isRoundTerminal(this.state.phase)) this.resumeSockets();
      await this.ensureAlarm();
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  /** Last time each party was heard: the in-memory record, raised by its open sockets' connection and auto-answered ping times. */
  private heardNow(): number[] {
    const out = [...this.heard];
    for (const ws of this.ctx.getWebSockets()) this.raiseHeard(out, ws);
    return out;
  }

  /** Raises `heard[party]` of `ws`'s party to the socket's connection time and last auto-answered ping. */
  private raiseHeard(heard: number[], ws: WebSocket): void {
    const a = ws.deserializeAttachment() as Attachment | null;
    if (!a || a.party >= heard.length) return;
    const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    heard[a.party] = Math.max(heard[a.party] ?? 0, a.connectedAt, pinged);
  }

  private hear(party: number): void {
    if (party < this.heard.length) this.heard[party] = Date.now();
  }

  private loadCaches(): void {
    const m = this.state!.manifest;
    const sql = this.ctx.storage.sql;
    this.identityKeys = m.committee.map((c) => fromBase64Url(c.identityKey));
    this.limits.readerStallMs = this.state!.progressMs ? Math.max(RELAY_LIMITS.readerStallMs, 3 * this.state!.progressMs) : RELAY_LIMITS.readerStallMs;
    this.boxes = m.committee.map(newBox);
    // Objects written before the `boxes` table: the mailbox's highest index.
    for (const r of sql.exec<{ recipient: number; top: number }>("SELECT recipient, MAX(idx) AS top FROM mailbox GROUP BY recipient")) {
      const b = this.boxes[r.recipient];
      if (b) b.top = r.top;
    }
    for (const r of sql.exec<{ recipient: number; top: number; acked: number }>("SELECT recipient, top, acked FROM boxes")) {
      const b = this.boxes[r.recipient];
      if (!b) continue;
      b.top = Math.max(b.top, r.top);
      b.acked = b.ackedSaved = b.sent = r.acked;
    }
    const msgs = new Map<number, Msg>();
    for (const r of sql.exec<{ recipient: number; idx: number; msg_id: number; sender: number; size: number }>(
      "SELECT mb.recipient AS recipient, mb.idx AS idx, mb.msg_id AS msg_id, m.sender AS sender, length(m.data) AS size FROM mailbox mb JOIN messages m ON m.id = mb.msg_id",
    )) {
      const b = this.boxes[r.recipient];
      if (!b || r.idx <= b.acked) continue;
      let msg = msgs.get(r.msg_id);
      if (!msg) msgs.set(r.msg_id, (msg = { bytes: null, size: r.size, sender: r.sender, id: r.msg_id, live: 0, at: 0, refs: [] }));
      msg.refs.push([r.recipient, r.idx]);
      b.entries.set(r.idx, { msg, stored: true });
      b.backlog += r.size;
    }
    for (const b of this.boxes) b.assigned = b.top;
    // Entries neither acknowledged nor stored were held in memory when the object stopped: their
    // sender and seq (written with the indices, before delivery) say who must re-send what.
    this.lost.clear();
    for (const r of sql.exec<{ recipient: number; idx: number; sender: number; seq: number }>("SELECT recipient, idx, sender, seq FROM meta")) {
      const b = this.boxes[r.recipient];
      if (!b || r.idx <= b.acked || r.idx > b.top || b.entries.has(r.idx)) continue;
      const k = `${r.sender}:${r.seq}`;
      this.lost.set(k, [...(this.lost.get(k) ?? []), [r.recipient, r.idx]]);
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
    const mailboxSizes = s.manifest.committee.map((_, i) => this.boxes[i]?.assigned ?? 0);
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
    this.send(server, { v: 1, kind: "welcome", me: party, phase: s.phase, cursor: this.boxes[party]?.assigned ?? 0, connected: this.connectedParties(), lastSeq: this.welcomeSeq(party) });
    if (this.paused) this.send(server, { v: 1, kind: "pause", party: this.paused.party });
    if (s.outcome) this.send(server, this.outcomeFrame());
    else await this.apply(onJoin(s, party));
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    let who = this.parties.get(ws);
    if (!who) {
      who = ws.deserializeAttachment() as Attachment | null ?? undefined;
      if (who) this.parties.set(ws, who);
    }
    if (!who || !this.state) return;
    const party = who.party;
    this.hear(party);
    const prev = this.chains.get(party);
    if (!prev && message instanceof ArrayBuffer) {
      // The hot path (an envelope, nothing of this party's still being handled): synchronous,
      // without a chain; only re-filling a lost entry is asynchronous, and is then chained.
      let pending: Promise<void> | void;
      try { pending = this.relay(ws, party, new Uint8Array(message)); } catch (e) {
        return this.handlerFailed(ws, e);
      }
      if (!pending) return;
      const running = pending.catch((e: unknown) => this.handlerFailed(ws, e));
      this.chains.set(party, running);
      await running;
      if (this.chains.get(party) === running) this.chains.delete(party);
      return;
    }
    const next = (prev ?? Promise.resolve()).then(() => this.handle(ws, party, message)).catch((e: unknown) => this.handlerFailed(ws, e));
    this.chains.set(party, next);
    await next;
    if (this.chains.get(party) === next) this.chains.delete(party);
  }

  private handlerFailed(ws: WebSocket, e: unknown): void {
    console.error("RoundDO: message handler failed", e);
    this.send(ws, { v: 1, kind: "error", code: "internal", detail: "internal error" });
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
    this.raiseHeard(this.heard, ws);
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
      case "dispute":
        return this.dispute(ws, party, frame.index);
      case "ack":
        if (!this.ack(party, frame.cursor)) this.send(ws, { v: 1, kind: "error", code: "bad-frame", detail: `ack cursor ${frame.cursor} above the mailbox (${this.boxes[party]!.top})` });
        return;
      case "hello":
        if (s.outcome) return this.send(ws, this.outcomeFrame());
        if (!this.redeliver(party, frame.cursor)) this.send(ws, { v: 1, kind: "error", code: "bad-frame", detail: `hello cursor ${frame.cursor} above the mailbox (${this.boxes[party]!.top})` });
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

  /**
   * Settles `party`'s dispute of entry `index` of its own mailbox (ClientFrame `dispute`) on the
   * relay's own copy — held in memory or stored, as every unacknowledged entry is: the sender's
   * signature does not verify → abort `bad-signature` naming the sender; it verifies → abort
   * `unexpected-message` naming `party` (an honest recipient disputes only what fails). An entry
   * `party` already acknowledged is not held any more and was vouched for by `party`: named. An
   * index never assigned to `party`'s mailbox, or one a restart lost and its sender has yet to
   * re-send (never delivered on this connection), is refused with an error frame; the round
   * goes on.
   */
  private async dispute(ws: WebSocket, party: number, index: number): Promise<void> {
    const box = this.boxes[party]!;
    if (isRoundTerminal(this.state!.phase) || this.faulted) return;
    if (index > box.top) return this.send(ws, { v: 1, kind: "error", code: "bad-frame", detail: `dispute of entry ${index}: not in the mailbox (${box.top})` });
    if (index <= box.acked) return this.fault({ kind: "false-dispute", party, sender: null, index, acked: true });
    const e = box.entries.get(index);
    const bytes = e ? e.msg.bytes ?? this.readStored(party, index) : null;
    if (!e || !bytes) return this.send(ws, { v: 1, kind: "error", code: "bad-frame", detail: `dispute of entry ${index}: not delivered yet (its sender re-sends it after a restart)` });
    const sender = e.msg.sender;
    let ok = false;
    try { ok = await verifyEnvelopeSignatureAsync(parseEnvelope(bytes), this.identityKeys[sender]!); } catch { ok = false; /* accepted envelopes parse: cannot happen */ }
    this.fault(ok ? { kind: "false-dispute", party, sender, index, acked: false } : { kind: "bad-signature", party: sender, recipient: party, index });
  }

  /**
   * Accepts one envelope from `party`'s authenticated connection: header (round, claimed sender
   * = `party`, recipient) and seq checked, seq and mailbox indices taken, queued for the next
   * group commit. Its signature is left to the recipients (disputes, {@link dispute}). One bad
   * item is refused; the round goes on.
   */
  private relay(ws: WebSocket, party: number, bytes: Uint8Array): Promise<void> | void {
    const refuse = (r: { code: string; detail: string }) => this.send(ws, { v: 1, kind: "error", ...r });
    let env: ParsedEnvelope;
    try {
      env = parseEnvelope(bytes);
    } catch (e) {
      if (isRoundTerminal(this.state!.phase)) return refuse({ code: "round-closed", detail: `round is ${this.state!.phase}` });
      return refuse({ code: "bad-encoding", detail: e instanceof EnvelopeError ? e.message : "malformed envelope" });
    }
    if (this.lost.has(`${party}:${env.seq}`)) return this.refill(ws, party, env);
    const bad = checkEnvelope(this.state!, party, env, this.lastSeq(party)) ?? checkSequence(env.seq, this.lastSeq(party));
    if (bad) return refuse(bad);

    // From here on synchronous: the envelope is accepted (seq and mailbox indices taken) and
    // queued for the next group commit; it is delivered once that commit is written. The relay
    // reads nothing but the header; the parties check the rest (and dispute a bad signature).
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
    const idxs = recipients.map((r) => ++this.boxes[r]!.assigned);
    this.batch.push({ party, seq: env.seq, bytes, recipients, idxs });
    this.batchBytes += bytes.length;
    if (this.batchBytes >= BATCH_BYTES || this.batch.length >= BATCH_ENVELOPES) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), 0);
  }

  /** Whether mailbox entry `idx` of `r` was lost by a restart and waits for its sender to re-send it. */
  private awaiting(r: number, idx: number): boolean {
    for (const list of this.lost.values()) if (list.some(([x, i]) => x === r && i === idx)) return true;
    return false;
  }

  /** The seq a (re)connecting party is told it was last accepted: below its first envelope a restart lost, so it re-sends from there. */
  private welcomeSeq(party: number): number {
    let seq = this.lastSeq(party);
    for (const k of this.lost.keys()) {
      const [from, q] = k.split(":").map(Number) as [number, number];
      if (from === party && q - 1 < seq) seq = q - 1;
    }
    return seq;
  }

  /**
   * A sender re-sent an envelope a restart lost (`sender:seq` recorded with its mailbox indices
   * before delivery): once its signature and header check out (same session, addressed to the
   * recorded recipients), its bytes fill the same indices and go out. Seq numbers are signed, so
   * the filled bytes are the ones the sender signed for that seq; an index is never re-used. A
   * re-sent envelope whose signature does not verify (rare path, checked here) aborts the round
   * naming its sender (`bad-signature`), as a disputed one would.
   */
  private async refill(ws: WebSocket, party: number, env: ParsedEnvelope): Promise<void> {
    const refuse = (r: { code: string; detail: string }) => this.send(ws, { v: 1, kind: "error", ...r });
    const key = `${party}:${env.seq}`;
    const bad = checkEnvelope(this.state!, party, env, env.seq - 1);
    if (bad) return refuse(bad);
    if (!(await verifyEnvelopeSignatureAsync(env, this.identityKeys[party]!))) {
      const slot = this.lost.get(key)?.[0];
      if (slot) return this.fault({ kind: "bad-signature", party, recipient: slot[0], index: slot[1], resentSeq: env.seq });
      return refuse({ code: "bad-signature", detail: "envelope signature does not verify" });
    }
    const slots = this.lost.get(key);
    if (!slots) return refuse({ code: "replay", detail: `seq ${env.seq} already re-sent` });
    if (slots.some(([r]) => !(env.to === "all" ? r !== party : env.to === r))) return refuse({ code: "forbidden", detail: `seq ${env.seq} was addressed to other recipients` });
    this.lost.delete(key);
    const bytes = env.bytes;
    const live = slots.filter(([r, idx]) => idx > this.boxes[r]!.acked);
    if (live.length === 0) return;
    this.hold(bytes, party, live, Date.now());
    for (const [r] of live) this.pump(r);
    this.checkPause();
    this.armTick();
  }

  /**
   * Group commit of a burst of accepted envelopes: ONE small transaction records each sender's
   * last seq and each recipient's highest mailbox index (and the acknowledged cursors not yet
   * saved) — the payloads are not written here. Then every envelope goes to its connected
   * recipients' sockets within their windows ({@link pump}) and is held in memory until they
   * acknowledge it; what stays unacknowledged past `spillMs`, what exceeds the memory budget,
   * and what waits for a disconnected recipient is written to the mailbox tables ({@link spill}).
   * Seqs and indices are durable before any delivery (the output gate holds the sends until
   * the commit is written), so a restart never re-uses a mailbox index nor accepts a seq twice;
   * what it can lose is a held payload, which is detected when its recipient reconnects
   * ({@link pump}: `state-lost`). Idempotent on an empty queue.
   */
  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    this.batchBytes = 0;
    const seqs = new Map<number, number>();
    const tops = new Map<number, number>();
    for (const b of batch) {
      seqs.set(b.party, b.seq);
      b.recipients.forEach((r, k) => tops.set(r, b.idxs[k]!));
    }
    if (!this.commit(() => {
      const sql = this.ctx.storage.sql;
      for (const [party, seq] of seqs) sql.exec("INSERT INTO seqs (party, last_seq) VALUES (?, ?) ON CONFLICT (party) DO UPDATE SET last_seq = excluded.last_seq", party, seq);
      for (const [r, top] of tops) sql.exec("INSERT INTO boxes (recipient, top, acked) VALUES (?, ?, 0) ON CONFLICT (recipient) DO UPDATE SET top = excluded.top", r, top);
      // The per-entry records, META_ROWS to a statement (one call into SQLite per row was a
      // measurable share of a 4 KiB envelope's cost; bound parameters are limited to 100).
      const rows: number[] = [];
      const insert = (k: number) => sql.exec(`INSERT INTO meta (recipient, idx, sender, seq) VALUES ${"(?, ?, ?, ?), ".repeat(k - 1)}(?, ?, ?, ?)`, ...rows.splice(0, 4 * k));
      for (const b of batch) b.recipients.forEach((r, k) => { rows.push(r, b.idxs[k]!, b.party, b.seq); if (rows.length === 4 * META_ROWS) insert(META_ROWS); });
      if (rows.length) insert(rows.length / 4);
      this.saveAcks();
    }, "group commit")) return;
    const now = Date.now();
    for (const b of batch) {
      for (const [r, idx] of this.hold(b.bytes, b.party, b.recipients.map((r, k) => [r, b.idxs[k]!]), now).refs) {
        const box = this.boxes[r]!;
        box.top = idx;
        if (box.backlog > this.limits.hardBytes && !this.faulted) this.fault({ kind: "pause-ignored", party: b.party, recipient: r, backlog: box.backlog });
      }
    }
    if (this.faulted) return;
    for (const r of tops.keys()) this.pump(r);
    if (this.heldBytes > this.limits.memoryHardBytes) this.spillOldest(this.limits.memoryBytes);
    this.checkPause();
    this.armTick();
  }

  /** Holds `bytes` from `sender` in memory as the unacknowledged mailbox entries `slots` ([recipient, index]). */
  private hold(bytes: Uint8Array, sender: number, slots: Array<[recipient: number, idx: number]>, at: number): Msg {
    const msg: Msg = { bytes, size: bytes.length, sender, id: null, live: slots.length, at, refs: slots };
    this.held.add(msg);
    this.heldBytes += msg.size;
    for (const [r, idx] of slots) {
      this.boxes[r]!.entries.set(idx, { msg, stored: false });
      this.boxes[r]!.backlog += msg.size;
    }
    return msg;
  }

  /** Runs `f` in one SQLite transaction; on failure resets the object (memory must not run ahead of storage) and returns false. */
  private commit(f: () => void, what: string): boolean {
    try {
      this.ctx.storage.transactionSync(f);
      return true;
    } catch (e) {
      console.error(`RoundDO: ${what} failed, resetting the object`, e);
      this.ctx.abort(`relay storage error (${what})`); // the parties reconnect and re-send above welcome.lastSeq
      return false;
    }
  }

  /** Writes the acknowledged cursors that changed (inside a transaction). */
  private saveAcks(): void {
    this.boxes.forEach((box, r) => {
      if (box.acked === box.ackedSaved) return;
      this.ctx.storage.sql.exec("INSERT INTO boxes (recipient, top, acked) VALUES (?, ?, ?) ON CONFLICT (recipient) DO UPDATE SET acked = excluded.acked", r, box.top, box.acked);
      this.ctx.storage.sql.exec("DELETE FROM meta WHERE recipient = ? AND idx <= ?", r, box.acked);
      box.ackedSaved = box.acked;
    });
  }

  /** Writes held envelopes (and their entries still unacknowledged) to the mailbox tables and drops their bytes from memory. */
  private spill(msgs: Msg[]): void {
    if (msgs.length === 0) return;
    const sql = this.ctx.storage.sql;
    if (!this.commit(() => {
      for (const m of msgs) {
        m.id = sql.exec<{ id: number }>("INSERT INTO messages (sender, data) VALUES (?, ?) RETURNING id", m.sender, m.bytes!).one().id;
        for (const [r, idx] of m.refs) {
          const e = this.boxes[r]!.entries.get(idx);
          if (e?.msg === m && !e.stored) sql.exec("INSERT INTO mailbox (recipient, idx, msg_id) VALUES (?, ?, ?)", r, idx, m.id);
        }
      }
      this.saveAcks();
    }, "spill")) return;
    for (const m of msgs) {
      for (const [r, idx] of m.refs) {
        const e = this.boxes[r]!.entries.get(idx);
        if (e?.msg === m) e.stored = true;
      }
      this.release(m, m.live);
    }
  }

  /** Spills the oldest held envelopes until at most `target` bytes are held. */
  private spillOldest(target: number): void {
    const out: Msg[] = [];
    let bytes = this.heldBytes;
    for (const m of this.held) {
      if (bytes <= target) break;
      out.push(m);
      bytes -= m.size;
    }
    this.spill(out);
  }

  /** `n` in-memory entries of `m` are gone (acknowledged or stored): its bytes are dropped with the last. */
  private release(m: Msg, n: number): void {
    m.live -= n;
    if (m.live > 0 || m.bytes === null) return;
    if (m.id === null) m.refs = [];
    m.bytes = null;
    this.held.delete(m);
    this.heldBytes -= m.size;
  }

  /** The maintenance timer: spills what stayed unacknowledged past `spillMs`, saves acknowledged cursors. */
  private armTick(): void {
    if (this.tickTimer !== undefined || this.faulted) return;
    if (this.held.size === 0 && !this.boxes.some((b) => b.acked !== b.ackedSaved)) return;
    this.tickTimer = setTimeout(() => {
      this.tickTimer = undefined;
      if (!this.state || isRoundTerminal(this.state.phase)) return;
      const old: Msg[] = [];
      const cutoff = Date.now() - this.limits.spillMs;
      for (const m of this.held) { if (m.at > cutoff) break; old.push(m); }
      if (old.length) this.spill(old);
      else this.commit(() => this.saveAcks(), "acks");
      this.armTick();
    }, Math.max(10, this.limits.spillMs / 2));
  }

  /**
   * Sends `r`'s mailbox entries after the last one sent on its socket, while its unacknowledged
   * in-flight bytes stay under the window (the rest waits: held, or stored). An entry that is
   * neither held nor stored was lost by a restart before `r` processed it: the round aborts
   * (`state-lost`, nobody named) rather than skip it or re-use its index.
   */
  private pump(r: number): void {
    const box = this.boxes[r]!;
    const sock = this.ctx.getWebSockets(`p${r}`).find((w) => w.readyState === WebSocket.OPEN);
    if (!sock || this.faulted) return;
    while (box.sent < box.top && box.inflight < this.limits.windowBytes) {
      const idx = box.sent + 1;
      const e = box.entries.get(idx);
      if (!e && this.awaiting(r, idx)) return; // its sender re-sends it after reconnecting (refill)
      const bytes = e?.msg.bytes ?? (e ? this.readStored(r, idx) : null);
      if (!e || !bytes) return this.fault({ kind: "state-lost", party: r, from: idx, to: box.top });
      try { sock.send(encodeDelivery(idx, bytes)); } catch { return; /* gone; it resumes from its cursor */ }
      if (box.inflight === 0) box.sentAt = Date.now();
      box.sent = idx;
      box.inflight += e.msg.size;
    }
  }

  private readStored(r: number, idx: number): Uint8Array | null {
    const row = this.ctx.storage.sql.exec<{ data: ArrayBuffer }>("SELECT m.data AS data FROM mailbox mb JOIN messages m ON m.id = mb.msg_id WHERE mb.recipient = ? AND mb.idx = ?", r, idx).toArray()[0];
    return row ? new Uint8Array(row.data) : null;
  }

  /**
   * `party` processed its mailbox up to `cursor`: those entries leave memory and storage, its
   * window opens again and the pause may lift. Idempotent; a cursor above the highest index
   * assigned is refused (false).
   */
  private ack(party: number, cursor: number): boolean {
    const box = this.boxes[party]!;
    if (cursor > box.top) return false;
    if (cursor <= box.acked) return true;
    let storedUpTo = 0;
    for (let i = box.acked + 1; i <= cursor; i++) {
      const e = box.entries.get(i);
      if (!e) continue;
      box.entries.delete(i);
      box.backlog -= e.msg.size;
      if (i <= box.sent) box.inflight -= e.msg.size;
      if (e.stored) storedUpTo = i;
      else this.release(e.msg, 1);
    }
    box.acked = cursor;
    box.lastAck = Date.now();
    if (this.lost.size) {
      for (const [k, slots] of this.lost) {
        const rest = slots.filter(([r, idx]) => r !== party || idx > cursor);
        if (rest.length === 0) this.lost.delete(k);
        else if (rest.length !== slots.length) this.lost.set(k, rest);
      }
    }
    if (box.sent < cursor) box.sent = cursor;
    box.inflight = box.sent === cursor ? 0 : Math.max(0, box.inflight);
    if (storedUpTo) {
      const sql = this.ctx.storage.sql;
      const ids = sql.exec<{ msg_id: number }>("SELECT DISTINCT msg_id FROM mailbox WHERE recipient = ? AND idx <= ?", party, storedUpTo).toArray().map((x) => x.msg_id);
      sql.exec("DELETE FROM mailbox WHERE recipient = ? AND idx <= ?", party, storedUpTo);
      for (const id of ids) sql.exec("DELETE FROM messages WHERE id = ? AND NOT EXISTS (SELECT 1 FROM mailbox WHERE msg_id = ?)", id, id);
    }
    this.pump(party);
    this.checkPause();
    this.armTick();
    return true;
  }

  /**
   * Back-pressure. When the envelopes held in memory pass `memoryBytes`, or a recipient's
   * unacknowledged backlog passes `pauseBytes`, every party is told `pause` (its relay session
   * stops sending envelopes; control frames still flow); when memory is back under half of
   * `memoryBytes` and every backlog under `resumeBytes`, `resume`. While paused, a reader that
   * was sent entries and acknowledges none of them for `readerStallMs` is named (`slow-reader`):
   * a reader with nothing to read, or one that keeps acknowledging, never is.
   */
  private checkPause(): void {
    if (this.faulted) return;
    let worst = -1;
    let most = 0;
    this.boxes.forEach((b, r) => { if (b.backlog > most) { most = b.backlog; worst = r; } });
    if (!this.paused && (most > this.limits.pauseBytes || this.heldBytes > this.limits.memoryBytes)) {
      this.paused = { since: Date.now(), party: most > this.limits.pauseBytes ? worst : -1 };
      this.broadcastControl({ v: 1, kind: "pause", party: this.paused.party });
      this.stallTimer = setInterval(() => this.checkStall(), Math.max(20, Math.min(1000, this.limits.readerStallMs / 4)));
    } else if (this.paused && most <= this.limits.resumeBytes && this.heldBytes <= this.limits.memoryBytes / 2) {
      this.paused = null;
      clearInterval(this.stallTimer);
      this.stallTimer = undefined;
      this.broadcastControl({ v: 1, kind: "resume" });
    }
  }

  private checkStall(): void {
    if (!this.paused || this.faulted) return;
    const now = Date.now();
    this.boxes.forEach((b, r) => {
      if (this.faulted || b.inflight === 0) return;
      const quiet = now - Math.max(b.lastAck, b.sentAt, this.paused!.since);
      if (quiet >= this.limits.readerStallMs) this.fault({ kind: "slow-reader", party: r, ms: quiet, backlog: b.backlog });
    });
  }

  private broadcastControl(frame: RelayControlFrame): void {
    for (const sock of this.ctx.getWebSockets()) this.send(sock, frame);
  }

  /** A relay fault (referee: onRelayFault) ends the round; nothing more is relayed. */
  private fault(f: RelayFault): void {
    if (this.faulted || !this.state) return;
    this.faulted = true;
    void this.apply(onRelayFault(this.state, f)).catch((e: unknown) => console.error("RoundDO: relay fault handling failed", e));
  }

  private lastSeq(party: number): number {
    return this.lastSeqs.get(party) ?? -1;
  }

  /** A (re)connected party processed its mailbox up to `cursor`: acknowledge that, then send everything after it anew. */
  private redeliver(party: number, cursor: number): boolean {
    if (!this.ack(party, cursor)) return false;
    const box = this.boxes[party]!;
    box.sent = Math.max(cursor, box.acked);
    box.inflight = 0;
    this.pump(party);
    return true;
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
    this.dropRelay();
    this.ctx.storage.sql.exec("DELETE FROM mailbox");
    this.ctx.storage.sql.exec("DELETE FROM messages");
    this.ctx.storage.sql.exec("DELETE FROM meta");
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

  /** Forgets every queued, held and in-flight envelope and stops the relay's timers (the round has ended). */
  private dropRelay(): void {
    clearTimeout(this.flushTimer);
    clearTimeout(this.tickTimer);
    clearInterval(this.stallTimer);
    this.flushTimer = this.tickTimer = this.stallTimer = undefined;
    this.batch = [];
    this.batchBytes = 0;
    this.held.clear();
    this.heldBytes = 0;
    this.paused = null;
    this.lost.clear();
    for (const b of this.boxes) { b.entries.clear(); b.backlog = b.inflight = 0; }
  }

  /**
   * After the object started with sockets still open (woken from hibernation, or evicted): what
   * each recipient was sent is unknown, so its unacknowledged entries are sent again from its
   * acknowledged cursor (duplicates are dropped by index). A recipient with entries neither held
   * nor stored (a restart lost them) is asked to reconnect (close 4002): its `hello` tells
   * whether it had processed them ({@link pump}).
   */
  private resumeSockets(): void {
    const senders = new Set([...this.lost.keys()].map((k) => Number(k.split(":")[0])));
    this.boxes.forEach((b, r) => {
      let lost = senders.has(r);
      for (let i = b.acked + 1; i <= b.top && !lost; i++) lost = !b.entries.has(i);
      for (const ws of this.ctx.getWebSockets(`p${r}`)) {
        if (lost) { try { ws.close(4002, "relay restarted: reconnect and say hello"); } catch { /* gone */ } }
      }
      if (!lost) this.pump(r);
    });
  }

  /** Relay counters for tests and the bench: bytes held in memory, per-recipient unacknowledged backlog, paused. */
  async relayStats(): Promise<{ heldBytes: number; backlog: number[]; stored: number; paused: boolean }> {
    const stored = this.boxes.reduce((a, b) => a + [...b.entries.values()].filter((e) => e.stored).length, 0);
    return { heldBytes: this.heldBytes, backlog: this.boxes.map((b) => b.backlog), stored, paused: this.paused !== null };
  }

  private send(ws: WebSocket, frame: ServerFrame): void {
    try { ws.send(JSON.stringify(frame)); } catch { /* closed */ }
  }

  private async save(): Promise<void> {
    await this.ctx.storage.put("state", this.state);
  }
}
