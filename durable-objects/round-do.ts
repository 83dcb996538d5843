/**
 * RoundDO: one per round attempt, named `round/<jobId>/<round>/<attempt>`. The relay and
 * referee of one MASCOT session:
 *  - committee and public keys from the manifest; an explicit phase machine
 *    (waiting → running → finalizing → accepted | aborted, durable-objects/machines.ts);
 *  - one deadline alarm per phase (idempotent: re-arms if early, no-op once terminal);
 *  - hibernatable WebSockets, one per party (tag `p<index>`, attachment = who);
 *  - point-to-point envelopes: sender signature and strictly increasing seq checked, stored in
 *    the recipient's mailbox, delivered only to that recipient, re-delivered from a cursor;
 *  - broadcasts: the same bytes to every other party; `<label>.commit` / `<label>.open`
 *    broadcasts are tracked for commit-then-open (an opening before every party committed,
 *    or one that does not match its commitment, aborts naming the sender);
 *  - acceptance: every party submits the same aggregate bytes and transcript hash.
 * It holds no decryption key: it stores ciphertexts, commitments and public values only.
 */
import { DurableObject } from "cloudflare:workers";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Env } from "../functions/env.ts";
import { ClientFrame, encodeDelivery, type RoundAbortCode, type RoundPhase, type ServerFrame } from "../protocol/api/frames.ts";
import type { RoundManifest } from "../protocol/api/schemas.ts";
import { verifyCommitment } from "../protocol/crypto/commitment.ts";
import { fieldByName } from "../protocol/field/index.ts";
import { MACCHECK_COMMIT, verifyMacCheck } from "../protocol/mascot/mac-check.ts";
import { ProtocolAbort } from "../protocol/mascot/errors.ts";
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
}

/** Public view of a round for tests and operators. */
export interface RoundStatus {
  phase: RoundPhase;
  joined: number[];
  connected: number[];
  outcome: RoundState["outcome"];
  mailboxSizes: number[];
}

const NOTIFY_RETRY_MS = 5_000;

/** Broadcast labels whose `<label>.commit` / `<label>.open` the relay verifies itself. */
const COMMIT_OPEN_LABELS = new Set([MACCHECK_COMMIT.slice(0, MACCHECK_COMMIT.lastIndexOf("."))]);

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
      sql.exec("CREATE TABLE IF NOT EXISTS commitments (label TEXT NOT NULL, party INTEGER NOT NULL, n INTEGER NOT NULL, commitment BLOB NOT NULL, opened INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (label, party, n))");
      sql.exec("CREATE TABLE IF NOT EXISTS openings (label TEXT NOT NULL, party INTEGER NOT NULL, n INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (label, party, n))");
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
    return { phase: this.state.phase, joined: [...this.state.joined], connected: this.connectedParties(), outcome: this.state.outcome, mailboxSizes };
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
      case "abort":
        if (isRoundTerminal(s.phase)) return;
        await this.abort(frame.code, frame.culprits.filter((c) => c < s.manifest.committee.length), `reported by party ${party}${frame.detail ? `: ${frame.detail}` : ""}`);
        return;
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

    if (env.kind === "broadcast") {
      const fault = this.trackCommitOpen(env);
      if (fault) {
        await this.abort(fault.code, fault.culprits, fault.detail);
        return;
      }
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

  /**
   * Commit-then-open bookkeeping for broadcasts named `<label>.commit` (payload: 32-byte
   * commitment) and `<label>.open` (payload: nonce(32) ‖ value). Returns the abort when the
   * sender deviates, else null (and records the commitment / opening). For the MAC check
   * (`maccheck.*`, protocol/mascot/mac-check.ts), once every party opened batch n the relay
   * itself rechecks Σσ_i = 0 and aborts `mac-check-failed` otherwise.
   */
  private trackCommitOpen(env: ParsedEnvelope): { code: RoundAbortCode; culprits: number[]; detail: string } | null {
    const dot = env.phase.lastIndexOf(".");
    if (dot <= 0) return null;
    const label = env.phase.slice(0, dot);
    // Only phases whose payload layout the relay knows are tracked: the MAC check's
    // (protocol/mascot/mac-check.ts). Other `.commit`/`.open` phases (coin tosses with
    // several commitments per message, the offline phase's plain openings) are checked by
    // the parties themselves.
    if (!COMMIT_OPEN_LABELS.has(label)) return null;
    const step = env.phase.slice(dot + 1);
    const sql = this.ctx.storage.sql;
    const n = this.state!.manifest.committee.length;
    const fault = (code: RoundAbortCode, detail: string) => ({ code, culprits: [env.from], detail: `party ${env.from}: ${detail} in ${env.phase}` });
    if (step === "commit") {
      if (env.payload.length !== 32) return fault("bad-encoding", "commitment is not 32 bytes");
      const k = sql.exec<{ c: number }>("SELECT COUNT(*) AS c FROM commitments WHERE label = ? AND party = ?", label, env.from).one().c;
      sql.exec("INSERT INTO commitments (label, party, n, commitment) VALUES (?, ?, ?, ?)", label, env.from, k, env.payload.slice());
      return null;
    }
    if (step !== "open") return null;
    const row = sql.exec<{ n: number; commitment: ArrayBuffer }>("SELECT n, commitment FROM commitments WHERE label = ? AND party = ? AND opened = 0 ORDER BY n LIMIT 1", label, env.from).toArray()[0];
    if (!row) return fault("unexpected-message", "opening without a commitment");
    const committed = sql.exec<{ c: number }>("SELECT COUNT(DISTINCT party) AS c FROM commitments WHERE label = ? AND n = ?", label, row.n).one().c;
    if (committed < n) return fault("unexpected-message", "opening before every party committed"); // breaks commit-then-open
    if (env.payload.length < 32) return fault("bad-encoding", "opening shorter than its nonce");
    if (!verifyCommitment(new Uint8Array(row.commitment), env.payload.subarray(32), env.payload.subarray(0, 32))) return fault("commitment-mismatch", "opening does not match the commitment");
    sql.exec("UPDATE commitments SET opened = 1 WHERE label = ? AND party = ? AND n = ?", label, env.from, row.n);
    sql.exec("INSERT INTO openings (label, party, n, payload) VALUES (?, ?, ?, ?)", label, env.from, row.n, env.payload.slice());
    if (`${label}.commit` !== MACCHECK_COMMIT) return null;
    const opens = sql.exec<{ party: number; payload: ArrayBuffer }>("SELECT party, payload FROM openings WHERE label = ? AND n = ? ORDER BY party", label, row.n).toArray();
    if (opens.length < n) return null;
    const commits = sql.exec<{ party: number; commitment: ArrayBuffer }>("SELECT party, commitment FROM commitments WHERE label = ? AND n = ? ORDER BY party", label, row.n).toArray();
    try {
      verifyMacCheck(fieldByName(this.state!.manifest.field), commits.map((c) => new Uint8Array(c.commitment)), opens.map((o) => new Uint8Array(o.payload)));
    } catch (e) {
      if (e instanceof ProtocolAbort) return { code: e.code as RoundAbortCode, culprits: [...e.culprits], detail: `relay recheck: ${e.message}` };
      throw e;
    }
    return null;
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
    const [top, topCount] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
    const culprits = topCount * 2 > all.length ? all.filter((r) => key(r) !== top).map((r) => r.party) : [];
    await this.abort("result-mismatch", culprits, "committee members submitted different aggregates or transcripts");
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
    const d = s.manifest.deadlines;
    const deadline = s.phase === "waiting" ? d.join : s.phase === "running" ? d.compute : d.finalize;
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
    // MB per round); commitments, openings and results stay as the round's public record.
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
      report = { jobId: m.jobId, round: m.round, attempt: m.attempt, outcome: "aborted", code: s.outcome.code, culprits: s.outcome.culprits, detail: s.outcome.detail };
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
