/**
 * The node side of the relay's flow control (client/agent/relay-session.ts): the session stops
 * sending envelopes on `pause` and resumes on `resume` or a new connection's `welcome`, while
 * its acknowledgements still go out (the relay's window waits on them). Driven through a
 * scripted WebSocket standing in for the RoundDO.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CHUNK_BYTES, relaySalt, runRelaySession, RoundAborted, type RelayParty, type RoundContext } from "../../../client/agent/relay-session.ts";
import { pairKey, sealBroadcast, sealDirect } from "../../../protocol/crypto/envelope.ts";
import { generateNodeKeys, nodeIdFromPublicKey } from "../../../protocol/crypto/identity.ts";
import { encodeDelivery } from "../../../protocol/api/frames.ts";
import { fieldByName } from "../../../protocol/field/index.ts";
import { seededRng } from "../../../protocol/rng.ts";

class ScriptedSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static all: ScriptedSocket[] = [];
  readyState = 0;
  bufferedAmount = 0;
  binaryType = "blob";
  sent: Array<string | Uint8Array> = [];
  private listeners = new Map<string, Array<(ev: unknown) => void>>();
  constructor(readonly url: string) { ScriptedSocket.all.push(this); }
  addEventListener(type: string, f: (ev: unknown) => void): void { this.listeners.set(type, [...(this.listeners.get(type) ?? []), f]); }
  send(data: string | Uint8Array): void { this.sent.push(data); }
  close(): void { this.readyState = 3; }
  private emit(type: string, ev: unknown): void { for (const f of this.listeners.get(type) ?? []) f(ev); }
  open(): void { this.readyState = 1; this.emit("open", {}); }
  text(frame: object): void { this.emit("message", { data: JSON.stringify(frame) }); }
  binary(bytes: Uint8Array): void { this.emit("message", { data: bytes.slice().buffer }); }
  envelopes(): Uint8Array[] { return this.sent.filter((x): x is Uint8Array => typeof x !== "string"); }
  texts(): Array<Record<string, unknown>> { return this.sent.filter((x): x is string => typeof x === "string").map((t) => JSON.parse(t) as Record<string, unknown>); }
}

const tick = (ms = 60) => new Promise((r) => setTimeout(r, ms));
let saved: typeof globalThis.WebSocket;
beforeEach(() => { saved = globalThis.WebSocket; ScriptedSocket.all = []; (globalThis as { WebSocket: unknown }).WebSocket = ScriptedSocket; });
afterEach(() => { (globalThis as { WebSocket: unknown }).WebSocket = saved; });

/** A two-member session (we are 0) whose party, once started, emits one message of three chunks to member 1. */
function session() {
  const rng = seededRng("relay-flow");
  const k0 = generateNodeKeys(rng), k1 = generateNodeKeys(rng);
  const viewHash = rng.bytes(32);
  const sessionId = rng.bytes(16);
  const committee = [k0, k1].map((k) => ({ nodeId: nodeIdFromPublicKey(k.identityPublicKey), identityPublicKey: k.identityPublicKey, kxPublicKey: k.kxPublicKey }));
  const ctx: RoundContext = { jobId: "job-flow", round: 0, attempt: 0, me: 0, sessionId, committee, viewHash };
  const party: RelayParty = {
    phase: "p", done: false, result: undefined, outputReleased: false,
    start: () => [{ to: 1, phase: "big", payload: new Uint8Array(2 * CHUNK_BYTES + 1) }],
    receiveAsync: async () => [],
  };
  const run = runRelaySession({ coordinatorUrl: "http://relay.test", nodeId: committee[0]!.nodeId, keys: k0, ctx, party, field: fieldByName("m61"), rng });
  run.catch(() => undefined);
  const salt = relaySalt(sessionId, viewHash);
  const k10 = pairKey(k1.kxSecretKey, k0.kxPublicKey, salt);
  // Member 1's view broadcast, as the relay delivers it (mailbox index 1).
  const peerView = encodeDelivery(1, sealBroadcast({ jobId: ctx.jobId, round: 0, attempt: 0, phase: "view", from: 1, seq: 0 }, viewHash, [k10, undefined], k1.identitySecretKey, rng));
  /** A direct message from member 1 as mailbox entry `index`, signed by `signer` (member 1's key unless forged). */
  const fromPeer = (index: number, seq: number, signer = k1.identitySecretKey) =>
    encodeDelivery(index, sealDirect({ jobId: ctx.jobId, round: 0, attempt: 0, phase: "x", from: 1, to: 0, seq }, new Uint8Array(8), k10, signer, rng));
  return { run, peerView, fromPeer, k0 };
}

const welcome = { v: 1, kind: "welcome", me: 0, phase: "running", cursor: 0, connected: [0, 1], lastSeq: -1 };

describe("relay session flow control", () => {
  it("stops sending envelopes on `pause` (acknowledgements still go) and sends them on `resume`", async () => {
    const { run, peerView } = session();
    const ws = ScriptedSocket.all[0]!;
    ws.open();
    ws.text(welcome);
    await tick(10);
    expect(ws.envelopes()).toHaveLength(1); // our view
    ws.text({ v: 1, kind: "pause", party: 1 });
    ws.binary(peerView); // the party starts and emits three chunks
    for (let i = 0; i < 100 && !ws.texts().some((t) => t.kind === "ack"); i++) await tick(20);
    expect(ws.envelopes()).toHaveLength(1); // held while paused
    expect(ws.texts()).toContainEqual({ v: 1, kind: "ack", cursor: 1 }); // the relay's window waits on it: never held
    ws.text({ v: 1, kind: "resume" });
    await tick(10);
    expect(ws.envelopes()).toHaveLength(4);
    ws.text({ v: 1, kind: "aborted", code: "cancelled", culprits: [], detail: "test over" });
    await expect(run).rejects.toBeInstanceOf(RoundAborted);
  });

  it("entries that arrive out of order within one task (the gap filled right after a later entry) are all processed", async () => {
    // A WebSocket may dispatch several frames of one network read in one task. Entry 2 starts a
    // drain that finds entry 1 missing; entry 1 arrives before that drain has settled. It must
    // still be processed (it once waited for ever, and the member stalled its round).
    const { run, peerView, fromPeer } = session();
    const ws = ScriptedSocket.all[0]!;
    ws.open();
    ws.text(welcome);
    ws.binary(fromPeer(2, 1));
    ws.binary(peerView);
    ws.binary(fromPeer(3, 2));
    for (let i = 0; i < 100 && !ws.texts().some((t) => t.kind === "ack" && t.cursor === 3); i++) await tick(20);
    expect(ws.texts().filter((t) => t.kind === "ack").map((t) => t.cursor)).toEqual([3]);
    expect(ws.envelopes()).toHaveLength(4); // our view, then the three chunks the started party emitted
    // A redelivered duplicate changes nothing.
    ws.binary(fromPeer(2, 1));
    await tick(60);
    expect(ws.texts().filter((t) => t.kind === "abort")).toEqual([]);
    ws.text({ v: 1, kind: "aborted", code: "cancelled", culprits: [], detail: "test over" });
    await expect(run).rejects.toBeInstanceOf(RoundAborted);
  });

  it("a new connection's `welcome` lifts a pause the old connection never saw lifted", async () => {
    const { run, peerView } = session();
    const first = ScriptedSocket.all[0]!;
    first.open();
    first.text(welcome);
    first.text({ v: 1, kind: "pause", party: 1 });
    first.binary(peerView);
    for (let i = 0; i < 100 && !first.texts().some((t) => t.kind === "ack"); i++) await tick(20);
    expect(first.envelopes()).toHaveLength(1);
    first.close();
    (first as unknown as { emit(t: string, e: unknown): void }).emit("close", {});
    await tick(600); // reconnect backoff ≤ RECONNECT_BASE_MS
    const second = ScriptedSocket.all[1]!;
    expect(second).toBeDefined();
    second.open();
    expect(second.texts()[0]).toEqual({ v: 1, kind: "hello", cursor: 1 });
    second.text({ ...welcome, cursor: 1, lastSeq: 0 });
    await tick(10);
    expect(second.envelopes()).toHaveLength(3); // the chunks above the relay's lastSeq
    second.text({ v: 1, kind: "aborted", code: "cancelled", culprits: [], detail: "test over" });
    await expect(run).rejects.toBeInstanceOf(RoundAborted);
  });

  it("an entry whose signature does not verify is disputed, never acknowledged nor processed; it is disputed again after a reconnect, and the relay's verdict ends the session", async () => {
    const { run, peerView, fromPeer, k0 } = session();
    const ws = ScriptedSocket.all[0]!;
    ws.open();
    ws.text(welcome);
    ws.binary(peerView); // entry 1: verified, processed
    ws.binary(fromPeer(2, 1, k0.identitySecretKey)); // entry 2: member 1's header, signed by someone else
    ws.binary(fromPeer(3, 2)); // entry 3: fine, but after the disputed one
    for (let i = 0; i < 100 && !ws.texts().some((t) => t.kind === "dispute"); i++) await tick(20);
    await tick(60);
    const texts = ws.texts();
    expect(texts).toContainEqual({ v: 1, kind: "dispute", index: 2 });
    expect(texts.filter((t) => t.kind === "ack").map((t) => t.cursor)).toEqual([1]); // never 2 or more
    expect(texts.filter((t) => t.kind === "abort")).toEqual([]); // the relay decides, not this party
    // A new connection: the entry comes again, and is disputed again.
    ws.close();
    (ws as unknown as { emit(t: string, e: unknown): void }).emit("close", {});
    await tick(600);
    const second = ScriptedSocket.all[1]!;
    second.open();
    expect(second.texts()[0]).toEqual({ v: 1, kind: "hello", cursor: 1 });
    second.text({ ...welcome, cursor: 3, lastSeq: 0 });
    second.binary(fromPeer(2, 1, k0.identitySecretKey));
    for (let i = 0; i < 100 && !second.texts().some((t) => t.kind === "dispute"); i++) await tick(20);
    expect(second.texts()).toContainEqual({ v: 1, kind: "dispute", index: 2 });
    second.text({ v: 1, kind: "aborted", code: "bad-signature", culprits: [1], detail: "party 0 disputed mailbox entry 2" });
    await expect(run).rejects.toMatchObject({ name: "RoundAborted", code: "bad-signature", culprits: [1] });
  });
});
