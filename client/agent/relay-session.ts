/**
 * Runs one MASCOT party over the RoundDO WebSocket relay.
 *
 * Every outbound party message becomes a relay envelope (protocol/crypto/envelope.ts):
 * point-to-point messages are encrypted with XChaCha20-Poly1305 under the pair key, and
 * broadcasts are encrypted to the committee (a fresh content key wrapped under every pair key,
 * with a key commitment), and both are signed with the node's Ed25519 key. Inbound envelopes
 * are verified against the manifest's committee keys and opened before the party sees them,
 * so the coordinator can neither read nor alter what it relays — openings included.
 *
 * View binding. Pair keys are HKDF(X25519, salt = {@link relaySalt}(sessionId, viewHash)):
 * the salt is SHA-256("2pm/relay-salt/v1" ‖ sessionId ‖ viewHash), where viewHash (32 bytes,
 * from the agent) hashes the transparency-log entry that published the manifest and thereby
 * the whole log prefix. Every envelope after the first is therefore bound to the member's view;
 * the MASCOT session id itself (SecureSumConfig.sessionId) is left as the manifest's. The first
 * envelope every member sends is a broadcast of phase {@link VIEW_PHASE} whose payload is its
 * viewHash; every recipient requires the first envelope from each sender to be that broadcast,
 * to open (same pair keys: same committee keys and same salt) and to carry its own viewHash,
 * and aborts with "view-mismatch" otherwise. The party is started only once the views of all
 * other members have been checked, so no party message is ever encrypted under keys a forked
 * manifest or a substituted key could have put in the coordinator's hands. The party never
 * sees the view envelope.
 *
 * Sequence numbers: each sender numbers all its envelopes 0, 1, 2, … (0 is the view; signed
 * and bound into the AEAD's associated data); the RoundDO and every recipient require them to
 * increase strictly per sender, so a replayed or reordered envelope is refused. The party
 * API's seq (the i-th party message this party received from that sender) is assigned on
 * receipt, after the envelope checks; a dropped envelope shows up as an unexpected phase and
 * aborts the round.
 *
 * Party messages larger than {@link CHUNK_BYTES} are split into chunks (each its own sealed
 * envelope, phase suffixed `#i/n`) and reassembled on receipt; the party sees one message.
 *
 * Local deadlines: the session ends with RoundAborted("timeout") — and tells the relay — when
 * `deadlineMs` passes or when nothing but pongs arrives from a connected relay for `stallMs`
 * while this party is not busy computing (time without a connection does not count: the
 * session keeps reconnecting until `deadlineMs`), so a silent relay never makes the agent hang.
 *
 * Transport faults. Any failure of the socket — `error` (Node 22's WebSocket fires only
 * `error`, never `close`, on a refused connection and stays CONNECTING), `close`, no `open`
 * within {@link OPEN_TIMEOUT_MS}, or silence past {@link DEAD_SOCKET_MS} while pings go
 * unanswered — drops that socket and reconnects after a capped exponential backoff with jitter
 * ({@link reconnectDelay}). On `welcome` the session resumes: it re-sends its own envelopes
 * above the relay's `lastSeq` for it (all of them if the relay does not say) and asks for its
 * mailbox from the last index it processed. It gives up on a round only at `deadlineMs` (or
 * after `maxReconnects`, if set). While connected it pings every {@link PING_MS}, which tells
 * the relay it is alive (the RoundDO names a member silent past its progress timeout).
 *
 * Flow control (docs/coordinator.md "Relay: throughput and back-pressure"). The session
 * acknowledges what it has processed ({@link ACK_EVERY}, {@link ACK_BYTES}, and whenever its
 * mailbox is drained); the relay sends each recipient only a window ahead of its
 * acknowledgements. When a recipient falls behind, the relay sends `pause`: the session stops
 * sending envelopes (acknowledgements, pings and aborts still go) until `resume` or a new
 * connection's `welcome` — a session that kept sending would be named by the relay.
 *
 * Optimistic relay verification (docs/coordinator.md "Relay: sender authentication and
 * disputes"). The relay authenticates each sender by its signed connection but does not check
 * every envelope's signature; this session does, for every envelope, before it is counted as
 * processed, and acknowledges only what it verified (the signature check runs synchronously
 * at the start of {@link onEnvelope}, so no acknowledgement can include an entry being
 * checked). An entry whose sender signature does not verify is answered by `dispute {index}`
 * instead: the session stops processing its mailbox there and waits for the relay, which
 * checks its own copy and aborts the round naming the sender (bad signature) or this party
 * (a false dispute). On a new connection the entry is delivered again and disputed again.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { pairKey, sealBroadcast, sealDirect, openDirect, openBroadcast, parseEnvelope, EnvelopeError, type OpenedEnvelope } from "../../protocol/crypto/envelope.ts";
import { signUrl } from "../../protocol/crypto/request.ts";
import type { NodeKeys } from "../../protocol/crypto/identity.ts";
import { decodeDelivery, type ServerFrame } from "../../protocol/api/frames.ts";
import { bytesEqual, concatBytes, toBase64Url, utf8 } from "../../protocol/encoding.ts";
import { ProtocolAbort } from "../../protocol/mascot/errors.ts";
import type { Field } from "../../protocol/field/types.ts";
import type { InboundMessage, OutboundMessage, SecureSumResult } from "../../protocol/mascot/party.ts";

/**
 * What the relay session needs of a party: protocol/mascot's SecureSumParty in this thread, or
 * a party in the agent's party thread (party-thread.ts ThreadParty), whose calls are async.
 * Calls never overlap: each is awaited before the next.
 */
export interface RelayParty {
  readonly phase: string;
  readonly done: boolean;
  readonly result: SecureSumResult | undefined;
  readonly outputReleased: boolean;
  start(): OutboundMessage[] | Promise<OutboundMessage[]>;
  receiveAsync(m: InboundMessage): Promise<OutboundMessage[]>;
}
import { cryptoRng, type Rng } from "../../protocol/rng.ts";

/**
 * Acknowledgements: after this many processed mailbox entries, or bytes, or whenever the
 * mailbox is drained, the session tells the relay its cursor (the relay holds every envelope
 * until its recipient acknowledges it, and paces each recipient by what it has acknowledged).
 */
export const ACK_EVERY = 16;
export const ACK_BYTES = 1 << 20;
/** Delay (ms) of the acknowledgement after the mailbox is drained. */
export const ACK_IDLE_MS = 20;

/** Bytes a session lets queue in its socket before it waits (pacing towards the relay). */
const MAX_IN_FLIGHT = 1 << 20;

/** Largest payload slice per envelope (the relay's per-envelope limit is 1 MiB). */
export const CHUNK_BYTES = 512 * 1024;

/** Phase of the first envelope every member sends: a broadcast of its 32-byte view hash. */
export const VIEW_PHASE = "view";

/** A socket that has not opened after this long is dropped and replaced. */
export const OPEN_TIMEOUT_MS = 10_000;

/** Ping period while connected (the relay's liveness signal; answered by `pong`). */
export const PING_MS = 2_000;

/** A connected socket from which nothing at all (not even a pong) arrived for this long is dropped. */
export const DEAD_SOCKET_MS = 15_000;

/** First reconnect delay (ms) and the cap of the exponential backoff. */
export const RECONNECT_BASE_MS = 200;
export const RECONNECT_CAP_MS = 2_000;

/**
 * Delay before reconnect attempt `attempt` (1, 2, …): min(cap, base·2^(attempt−1)), scaled
 * by a uniform jitter factor in [0.5, 1) so a committee cut off together does not reconnect in
 * lockstep. Throws RangeError if `attempt` is not a positive integer.
 */
export function reconnectDelay(attempt: number, rng: Rng, base = RECONNECT_BASE_MS, cap = RECONNECT_CAP_MS): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError("reconnectDelay: attempt must be a positive integer");
  const d = Math.min(cap, base * 2 ** Math.min(attempt - 1, 30));
  const b = rng.bytes(2);
  return Math.round(d * (0.5 + ((b[0]! << 8) | b[1]!) / 131072));
}


/** Default for {@link RelaySessionOptions.stallMs}. */
export const DEFAULT_STALL_MS = 120_000;

const CHUNK_SUFFIX = /#(\d+)\/(\d+)$/;
const PING_FRAME = JSON.stringify({ v: 1, kind: "ping" });
const BUSY_FRAME = { v: 1, kind: "busy" } as const;
const PONG_FRAME = JSON.stringify({ v: 1, kind: "pong" });
const SALT_LABEL = utf8("2pm/relay-salt/v1");

/**
 * The pair-key salt of a relay session: SHA-256("2pm/relay-salt/v1" ‖ sessionId ‖ viewHash).
 * Binds every envelope's keys to the round (session id) and to the member's view of the log
 * (viewHash, fixed 32 bytes, last, so the concatenation is unambiguous). Throws RangeError if
 * viewHash is not 32 bytes.
 */
export function relaySalt(sessionId: Uint8Array, viewHash: Uint8Array): Uint8Array {
  if (!(viewHash instanceof Uint8Array) || viewHash.length !== 32) throw new RangeError("relaySalt: viewHash must be 32 bytes");
  return sha256(concatBytes(SALT_LABEL, sessionId, viewHash));
}

/**
 * Splits a message into envelope-sized pieces. A payload that fits is sent as is; a larger
 * one becomes chunks whose phase carries the suffix `#i/n`.
 */
export function chunkPayload(phase: string, payload: Uint8Array, size = CHUNK_BYTES): Array<{ phase: string; payload: Uint8Array }> {
  if (CHUNK_SUFFIX.test(phase)) throw new RangeError(`phase ${phase} must not end with a chunk suffix`);
  if (payload.length <= size) return [{ phase, payload }];
  const count = Math.ceil(payload.length / size);
  return Array.from({ length: count }, (_, i) => ({ phase: `${phase}#${i}/${count}`, payload: payload.subarray(i * size, Math.min(payload.length, (i + 1) * size)) }));
}

/** Reassembles chunks per sender; returns the whole message once complete. Throws RangeError on a malformed sequence. */
export class Reassembler {
  private parts: Map<number, { phase: string; count: number; chunks: Uint8Array[] }> = new Map();
  push(from: number, phase: string, payload: Uint8Array): { phase: string; payload: Uint8Array } | undefined {
    const m = CHUNK_SUFFIX.exec(phase);
    let cur = this.parts.get(from);
    if (!m) {
      if (cur) throw new RangeError(`message ${phase} interrupts chunked ${cur.phase}`);
      return { phase, payload };
    }
    const base = phase.slice(0, m.index);
    const index = Number(m[1]), count = Number(m[2]);
    if (!cur) {
      if (index !== 0 || count < 2) throw new RangeError(`chunk ${index}/${count} of ${base} out of order`);
      cur = { phase: base, count, chunks: [] };
      this.parts.set(from, cur);
    }
    if (cur.phase !== base || cur.count !== count || index !== cur.chunks.length) throw new RangeError(`chunk ${index}/${count} of ${base} out of order`);
    cur.chunks.push(payload);
    if (cur.chunks.length < count) return undefined;
    this.parts.delete(from);
    const total = cur.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of cur.chunks) { out.set(c, off); off += c.length; }
    return { phase: base, payload: out };
  }
}

/** A committee member's public keys, in committee order. */
export interface CommitteeMember {
  nodeId: string;
  identityPublicKey: Uint8Array;
  kxPublicKey: Uint8Array;
}

export interface RoundContext {
  jobId: string;
  round: number;
  attempt: number;
  /** Our committee index. */
  me: number;
  sessionId: Uint8Array;
  committee: CommitteeMember[];
  /**
   * 32 bytes: this member's view of the transparency log (the agent passes SHA-256 over the
   * hash of the log entry that published the manifest). Members with different views, or
   * with different keys for one another, abort with "view-mismatch" before the party starts.
   */
  viewHash: Uint8Array;
}

/** The round ended without an accepted result. `code` is the RoundDO's or our own abort code. */
export class RoundAborted extends Error {
  constructor(readonly code: string, readonly culprits: number[], detail: string) {
    super(`round aborted (${code}${culprits.length ? `, culprits ${culprits.join(",")}` : ""}): ${detail}`);
    this.name = "RoundAborted";
  }
}

export interface RelaySessionOptions {
  coordinatorUrl: string;
  nodeId: string;
  keys: NodeKeys;
  ctx: RoundContext;
  party: RelayParty;
  field: Field;
  rng?: Rng;
  /** Called with the party's phase whenever it changes (for the terminal and logs). */
  onPhase?: (phase: string) => void;
  /**
   * The party's steps run on this thread, so no ping goes out while one computes (the browser
   * node): announce each step with a `busy` frame first (protocol/api/frames.ts), so the
   * relay's progress timeout does not name this node for computing. Not needed for a party in
   * a worker thread (party-thread.ts).
   */
  announceSteps?: boolean;
  /** Test-only fault injection: may rewrite an outbound message before it is sealed. */
  tamper?: (m: OutboundMessage) => OutboundMessage;
  /** Test-only fault injection: may rewrite a sealed envelope (its bytes, signature included) before it is sent. */
  tamperEnvelope?: (envelope: Uint8Array, seq: number) => Uint8Array;
  /**
   * Give up (RoundAborted "timeout") after this many consecutive failed reconnects. Default:
   * never; the session keeps reconnecting until `deadlineMs`.
   */
  maxReconnects?: number;
  /** Incremented with the bytes of every binary frame sent to and received from the relay. */
  traffic?: { sent: number; received: number };
  /**
   * Absolute local deadline (Unix ms; the agent passes the manifest's finalize deadline plus
   * a grace): once it passes, the session ends with RoundAborted("timeout") and tells the relay.
   */
  deadlineMs?: number;
  /**
   * Stall guard (ms, default {@link DEFAULT_STALL_MS}): if no envelope or server frame arrives
   * for this long while the party is not computing, the session ends with
   * RoundAborted("timeout") and tells the relay.
   */
  stallMs?: number;
  /**
   * Test-only: called with every binary frame exactly as sent to the relay ("sent": an
   * envelope) and as received from it ("received": u32 mailbox index ‖ envelope).
   */
  onFrame?: (dir: "sent" | "received", bytes: Uint8Array) => void;
}

/**
 * Drives `party` to completion over the relay. Resolves with the party's result once the
 * RoundDO has accepted the round (every member submitted the same aggregate and transcript
 * hash); rejects with {@link RoundAborted} on any abort (ours, a peer's or the RoundDO's),
 * including "view-mismatch" (see the module comment) and a local "timeout"; rejects with a
 * TypeError/RangeError on a malformed context (viewHash not 32 bytes, bad stallMs).
 */
export function runRelaySession(o: RelaySessionOptions): Promise<SecureSumResult> {
  const { ctx, keys, party } = o;
  const rng = o.rng ?? cryptoRng;
  const n = ctx.committee.length;
  const stallMs = o.stallMs ?? DEFAULT_STALL_MS;
  if (!(ctx.viewHash instanceof Uint8Array) || ctx.viewHash.length !== 32) return Promise.reject(new RangeError("runRelaySession: ctx.viewHash must be 32 bytes"));
  if (!(stallMs > 0)) return Promise.reject(new RangeError("runRelaySession: stallMs must be positive"));
  if (o.deadlineMs !== undefined && !Number.isFinite(o.deadlineMs)) return Promise.reject(new RangeError("runRelaySession: deadlineMs must be a finite Unix time in ms"));
  let pairKeys: Array<Uint8Array | undefined> = [];
  /** A committee entry with a malformed or low-order kx key: reported to the relay on connect. */
  let keyError: string | undefined;
  try {
    const salt = relaySalt(ctx.sessionId, ctx.viewHash);
    pairKeys = ctx.committee.map((m, i) => (i === ctx.me ? undefined : pairKey(keys.kxSecretKey, m.kxPublicKey, salt)));
  } catch (e) {
    keyError = `committee keys unusable: ${(e as Error).message}`;
  }
  let nextSeq = 0;
  const lastSeqFrom = new Array<number>(n).fill(-1);
  const received = new Array<number>(n).fill(0);
  /** Per sender: its view envelope has been checked. */
  const viewOk = new Array<boolean>(n).fill(false);
  viewOk[ctx.me] = true;
  let partyStarted = false;
  /** Party messages that arrived (after their sender's view) before every view was in. */
  const early: Array<{ from: number; phase: string; payload: Uint8Array }> = [];
  const reassembler = new Reassembler();
  const sent: Uint8Array[] = [];
  let cursor = 0;
  let started = false;
  let resultSent = false;
  let finished = false;
  let reconnects = 0;
  let lastPhase = "";
  let ws: WebSocket | undefined;
  let lastActivity = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The acknowledgement after a drained mailbox ({@link ACK_IDLE_MS}). */
  let ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** The current socket's open timeout, the pending reconnect and the ping interval. */
  let openTimer: ReturnType<typeof setTimeout> | undefined;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  /** Last frame of any kind (pongs included) on the current socket. */
  let lastHeard = Date.now();
  /** Since when the session has had no open socket (undefined while connected): not counted as a stall. */
  let downSince: number | undefined = Date.now();
  /** Mailbox index disputed on the current connection (processing stops there until the relay decides or a new `welcome`). */
  let disputed: number | undefined;

  return new Promise<SecureSumResult>((resolve, reject) => {
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      clearTimeout(ackTimer);
      clearTimeout(openTimer);
      clearTimeout(reconnectTimer);
      clearInterval(pingTimer);
      try { ws?.close(1000, "done"); } catch { /* closed */ }
      if (err) reject(err);
      else resolve(party.result!);
    };
    const phase = () => {
      if (party.phase !== lastPhase) { lastPhase = party.phase; o.onPhase?.(lastPhase); }
    };
    const debug = typeof process !== "undefined" && process.env?.TWOPM_DEBUG_RELAY === "1";
    // Outgoing frames go through a paced queue: at most ~1 MiB in the socket's buffer, so a
    // party that produces tens of MB at once (OT extension) does not flood the relay.
    const outbox: Array<Uint8Array | string> = [];
    let pumping = false;
    /** The relay said `pause` on this connection (flow control): envelopes wait; `resume` or a new `welcome` lifts it. */
    let relayPaused = false;
    const pump = () => {
      if (pumping) return;
      pumping = true;
      const step = () => {
        while (outbox.length && ws && ws.readyState === WebSocket.OPEN) {
          if (relayPaused && typeof outbox[0] !== "string") break; // resumed by `resume` (onText)
          if (ws.bufferedAmount > MAX_IN_FLIGHT) { setTimeout(step, 2); return; }
          const data = outbox.shift()!;
          if (debug) console.error(`relay ${ctx.me} send ${typeof data === "string" ? data.slice(0, 80) : `${data.length} bytes`}`);
          if (typeof data !== "string") {
            if (o.traffic) o.traffic.sent += data.length;
            o.onFrame?.("sent", data);
          }
          ws.send(data);
        }
        pumping = false;
      };
      step();
    };
    const sendRaw = (data: Uint8Array | string) => {
      outbox.push(data);
      pump();
    };
    /** Sends a control frame (abort) at once, ahead of queued envelopes; best effort. */
    const sendNow = (frame: object) => {
      const text = JSON.stringify(frame);
      try {
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(text);
        else outbox.unshift(text);
      } catch { /* the socket is gone; the relay's own deadline covers it */ }
    };
    const seal = (phaseName: string, to: number | "all", payload: Uint8Array) => {
      const h = { jobId: ctx.jobId, round: ctx.round, attempt: ctx.attempt, phase: phaseName, from: ctx.me, seq: nextSeq++ };
      const sealed = to === "all"
        ? sealBroadcast(h, payload, pairKeys, keys.identitySecretKey, rng)
        : sealDirect({ ...h, to }, payload, pairKeys[to]!, keys.identitySecretKey, rng);
      const env = o.tamperEnvelope ? o.tamperEnvelope(sealed, h.seq) : sealed;
      sent.push(env);
      sendRaw(env);
    };
    const sendResult = () => {
      const r = party.result!;
      sendRaw(JSON.stringify({ v: 1, kind: "result", aggregate: toBase64Url(o.field.encode(r.sum)), transcriptHash: toBase64Url(r.transcriptHash), excluded: r.excluded }));
    };
    const emit = (msgs: OutboundMessage[]) => {
      for (const raw of msgs) {
        const m = o.tamper ? o.tamper(raw) : raw;
        if (m.to !== "all" && (!Number.isInteger(m.to) || m.to < 0 || m.to >= n || m.to === ctx.me)) throw new Error(`relay: party addressed bad recipient ${m.to}`);
        for (const chunk of chunkPayload(m.phase, m.payload)) seal(chunk.phase, m.to, chunk.payload);
      }
      phase();
      if (party.done && !resultSent) {
        resultSent = true;
        sendResult();
      }
    };
    const abort = (e: unknown) => {
      if (finished) return;
      if (e instanceof RoundAborted) {
        sendNow({ v: 1, kind: "abort", code: e.code, culprits: e.culprits, detail: e.message.slice(0, 500) });
        finish(e);
      } else if (e instanceof ProtocolAbort) {
        sendNow({ v: 1, kind: "abort", code: e.code, culprits: e.culprits, detail: e.message.slice(0, 500) });
        finish(new RoundAborted(e.code, e.culprits, e.message));
      } else if (e instanceof EnvelopeError) {
        // A relayed envelope that fails its signature or AEAD check: the relay or the sender tampered.
        sendNow({ v: 1, kind: "abort", code: "bad-encoding", culprits: [], detail: e.message.slice(0, 500) });
        finish(new RoundAborted("bad-encoding", [], e.message));
      } else {
        // Our own failure (a bug or a resource limit): tell the round so it aborts at once.
        sendNow({ v: 1, kind: "abort", code: "unexpected-message", culprits: [ctx.me], detail: `party ${ctx.me} failed locally` });
        finish(e instanceof Error ? e : new Error(String(e)));
      }
    };
    // Local deadlines: one timer, re-armed to the earlier of the absolute deadline and the
    // stall horizon. Time spent computing (a drain in progress) is not a stall.
    const armTimer = () => {
      if (finished) return;
      const stallAt = lastActivity + stallMs;
      const at = o.deadlineMs !== undefined ? Math.min(stallAt, o.deadlineMs) : stallAt;
      timer = setTimeout(checkDeadlines, Math.min(Math.max(0, at - Date.now()) + 1, 0x7fffffff));
    };
    const checkDeadlines = () => {
      timer = undefined;
      if (finished) return;
      const now = Date.now();
      if (o.deadlineMs !== undefined && now >= o.deadlineMs) {
        return abort(new RoundAborted("timeout", [], `local deadline: finalize deadline passed (${new Date(o.deadlineMs).toISOString()})`));
      }
      // Computing is not a stall, and neither is time without a connection (the reconnect loop
      // runs until the deadline): the stall guard is about a connected relay that goes silent.
      if (draining) lastActivity = now;
      else if (downSince === undefined && now - lastActivity >= stallMs) {
        return abort(new RoundAborted("timeout", [], `local deadline: no progress for ${stallMs} ms (party phase ${party.phase})`));
      }
      armTimer();
    };
    // Mailbox entries are processed strictly in index order: live deliveries can overtake the
    // redelivery that follows `hello`, so later indices wait until the gap is filled.
    const pending = new Map<number, Uint8Array>();
    let acked = 0;
    let unackedBytes = 0;
    /** Tells the relay the cursor (at once, ahead of queued envelopes: the relay's window waits on it). */
    const ack = () => {
      if (finished || cursor <= acked) return;
      acked = cursor;
      unackedBytes = 0;
      sendNow({ v: 1, kind: "ack", cursor });
    };
    const onDelivery = (bytes: Uint8Array) => {
      const { index, envelope } = decodeDelivery(bytes);
      if (index > cursor && !pending.has(index)) pending.set(index, envelope); // else a duplicate (redelivery)
      kick();
    };
    let draining = false;
    /**
     * Starts a drain if the next entry is here and none is running. One drain at a time: the
     * party's async offline path yields between messages, and deliveries that arrive meanwhile
     * wait in `pending`. A finished drain looks again: a WebSocket implementation may dispatch
     * several frames of one network read in one task, so the entry that fills a gap can arrive
     * after the drain found the gap but before it settled (a lost wake-up that once stalled a
     * member for the rest of its round). After a dispute nothing more is processed on this
     * connection.
     */
    const kick = () => {
      if (draining || finished || disputed !== undefined || !pending.has(cursor + 1)) return;
      draining = true;
      void drain().catch(abort).finally(() => { draining = false; lastActivity = Date.now(); kick(); });
    };
    const drain = async () => {
      for (let next = pending.get(cursor + 1); next !== undefined && !finished; next = pending.get(cursor + 1)) {
        pending.delete(cursor + 1);
        cursor += 1;
        unackedBytes += next.length;
        try {
          await onEnvelope(next);
        } catch (e) {
          if (!(e instanceof EnvelopeError && e.code === "bad-signature")) throw e;
          // Not processed, never acknowledged: the relay decides on its own copy (module comment).
          cursor -= 1;
          disputed = cursor + 1;
          ack();
          sendNow({ v: 1, kind: "dispute", index: disputed });
          return;
        }
        if (cursor - acked >= ACK_EVERY || unackedBytes >= ACK_BYTES) ack();
      }
      // Drained: what was processed is acknowledged shortly (one frame per burst, not per envelope).
      clearTimeout(ackTimer);
      ackTimer = setTimeout(ack, ACK_IDLE_MS);
    };
    let lastBusy = 0;
    /** Before a party call that may block this thread: a `busy` frame (at most one a second), flushed before the call starts. */
    const announce = async () => {
      if (!o.announceSteps || Date.now() - lastBusy < 1000) return;
      lastBusy = Date.now();
      sendNow(BUSY_FRAME);
      await new Promise((r) => setTimeout(r, 0));
    };
    const feed = async (from: number, phaseName: string, payload: Uint8Array) => {
      await announce();
      emit(await party.receiveAsync({ from, phase: phaseName, payload, seq: received[from]!++ }));
    };
    const onEnvelope = async (envelope: Uint8Array) => {
      const env = parseEnvelope(envelope);
      const from = env.from;
      const sender = ctx.committee[from];
      if (!sender || from === ctx.me) throw new ProtocolAbort("unexpected-message", [], `envelope from unknown party ${from}`);
      const ectx = { jobId: ctx.jobId, round: ctx.round, attempt: ctx.attempt, me: ctx.me };
      if (!viewOk[from]) {
        // The sender's first envelope must be its view, opening under our pair key and equal to ours.
        let msg: OpenedEnvelope;
        try {
          if (env.kind !== "broadcast" || env.phase !== VIEW_PHASE) throw new Error(`first envelope is ${env.kind} "${env.phase}", not the view broadcast`);
          msg = openBroadcast(envelope, ectx, sender.identityPublicKey, pairKeys);
        } catch (e) {
          if (e instanceof EnvelopeError && e.code === "bad-signature") throw e; // disputed (drain)
          throw new ProtocolAbort("view-mismatch", [], `party ${from}: ${(e as Error).message} (different manifest, log or committee keys)`);
        }
        if (msg.seq <= lastSeqFrom[from]!) throw new ProtocolAbort("replay", [from], `envelope seq ${msg.seq} from party ${from} not above ${lastSeqFrom[from]}`);
        lastSeqFrom[from] = msg.seq;
        if (!bytesEqual(msg.payload, ctx.viewHash)) throw new ProtocolAbort("view-mismatch", [], `party ${from} saw another view of the log than ours`);
        viewOk[from] = true;
        if (viewOk.every(Boolean)) {
          partyStarted = true;
          await announce();
          emit(await party.start());
          for (const m of early.splice(0)) {
            if (finished) return;
            await feed(m.from, m.phase, m.payload);
          }
        }
        return;
      }
      const msg = env.kind === "broadcast"
        ? openBroadcast(envelope, ectx, sender.identityPublicKey, pairKeys)
        : openDirect(envelope, ectx, sender.identityPublicKey, pairKeys[from]!);
      if (msg.seq <= lastSeqFrom[from]!) throw new ProtocolAbort("replay", [from], `envelope seq ${msg.seq} from party ${from} not above ${lastSeqFrom[from]}`);
      lastSeqFrom[from] = msg.seq;
      let whole: { phase: string; payload: Uint8Array } | undefined;
      try {
        whole = reassembler.push(from, msg.phase, msg.payload);
      } catch (e) {
        throw new ProtocolAbort("bad-encoding", [from], `party ${from}: ${(e as Error).message}`);
      }
      if (!whole) return;
      if (!partyStarted) early.push({ from, ...whole });
      else await feed(from, whole.phase, whole.payload);
    };
    const onText = (text: string) => {
      const f = JSON.parse(text) as ServerFrame;
      switch (f.kind) {
        case "welcome":
          reconnects = 0;
          relayPaused = false; // a new connection: the relay repeats `pause` after `welcome` if it still holds
          disputed = undefined; // a disputed entry is redelivered after `hello` and disputed again
          if (!started) {
            started = true;
            if (keyError !== undefined) return abort(new RoundAborted("view-mismatch", [], keyError));
            seal(VIEW_PHASE, "all", ctx.viewHash);
          } else {
            // Resume: re-send what the relay has not accepted from us (sent[i] has seq i).
            outbox.length = 0;
            const from = f.lastSeq === undefined ? 0 : Math.max(0, f.lastSeq + 1);
            for (const env of sent.slice(from)) sendRaw(env);
            if (resultSent && party.result) sendResult();
          }
          return;
        case "accepted":
          if (!party.done) return finish(new RoundAborted("result-mismatch", [], "relay accepted a round this party has not finished"));
          return finish();
        case "aborted":
          return finish(new RoundAborted(f.code, f.culprits, f.detail));
        case "pause":
          relayPaused = true;
          return;
        case "resume":
          relayPaused = false;
          return pump();
        case "error":
          // Our own envelopes re-sent after a reconnect are refused as replays: expected.
          if (f.code === "replay") return;
          return finish(new RoundAborted("unexpected-message", [], `relay refused: ${f.code}: ${f.detail}`));
        default:
          return;
      }
    };
    /** Drops `sock` after a transport failure and schedules the next attempt (backoff + jitter). */
    const lost = (sock: WebSocket, why: string) => {
      if (finished || ws !== sock) return;
      ws = undefined;
      downSince ??= Date.now();
      clearTimeout(openTimer);
      clearInterval(pingTimer);
      try { sock.close(); } catch { /* already closing */ }
      if (++reconnects > (o.maxReconnects ?? Infinity)) return finish(new RoundAborted("timeout", [], `relay connection lost (${why}) after ${o.maxReconnects} reconnects`));
      const delay = reconnectDelay(reconnects, rng);
      if (debug) console.error(`relay ${ctx.me} ${why}; reconnect ${reconnects} in ${delay} ms`);
      reconnectTimer = setTimeout(connect, delay);
    };
    const connect = () => {
      reconnectTimer = undefined;
      if (finished) return;
      const base = o.coordinatorUrl.replace(/^http/, "ws").replace(/\/$/, "");
      const url = signUrl({ url: `${base}/v1/rounds/${encodeURIComponent(ctx.jobId)}/${ctx.round}/${ctx.attempt}/ws`, nodeId: o.nodeId, identitySecretKey: keys.identitySecretKey, rng });
      let sock: WebSocket;
      try {
        sock = new WebSocket(url);
      } catch (e) {
        return abort(e); // a malformed coordinator URL: not a transport fault
      }
      sock.binaryType = "arraybuffer";
      ws = sock;
      openTimer = setTimeout(() => lost(sock, "open timeout"), OPEN_TIMEOUT_MS);
      sock.addEventListener("open", () => {
        if (ws !== sock) return;
        clearTimeout(openTimer);
        lastHeard = Date.now();
        if (downSince !== undefined) { lastActivity += lastHeard - downSince; downSince = undefined; }
        sock.send(JSON.stringify({ v: 1, kind: "hello", cursor }));
        pingTimer = setInterval(() => {
          if (ws !== sock) return;
          if (Date.now() - lastHeard > DEAD_SOCKET_MS) return lost(sock, "no answer");
          sock.send(PING_FRAME);
        }, PING_MS);
        pump();
      });
      sock.addEventListener("message", (ev: MessageEvent) => {
        if (debug) console.error(`relay ${ctx.me} recv ${typeof ev.data === "string" ? ev.data.slice(0, 120) : `${(ev.data as ArrayBuffer).byteLength} bytes`}`);
        if (finished || ws !== sock) return;
        lastHeard = Date.now();
        if (ev.data === PONG_FRAME) return; // liveness only: not relay progress
        lastActivity = lastHeard;
        try {
          if (typeof ev.data === "string") onText(ev.data);
          else {
            const bytes = new Uint8Array(ev.data as ArrayBuffer);
            if (o.traffic) o.traffic.received += bytes.byteLength;
            o.onFrame?.("received", bytes);
            onDelivery(bytes);
          }
        } catch (e) {
          abort(e);
        }
      });
      sock.addEventListener("close", () => lost(sock, "closed"));
      sock.addEventListener("error", () => lost(sock, "error"));
    };
    armTimer();
    connect();
  });
}
