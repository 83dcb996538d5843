/**
 * Relay flow control and crash safety of the RoundDO (issue 15, throughput): envelopes are held
 * in memory until acknowledged, each recipient gets a window, senders are paused when a reader
 * falls behind, a reader that stops reading is named, a sender that ignores the pause is named,
 * and an envelope a restart lost aborts the round (naming no one) instead of being skipped.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { toBase64Url, utf8 } from "../../protocol/encoding.ts";
import { openDirect, sealDirect } from "../../protocol/crypto/envelope.ts";
import { decodeDelivery } from "../../protocol/api/frames.ts";
import type { JobSpecInput, RoundInfo } from "../../protocol/api/schemas.ts";
import type { RoundDO } from "../../durable-objects/round-do.ts";
import { assignments, connect, makeNode, register, relayPairKey, relayRound, roundStub, setRelayLimits, statsAggregate, submitJob, tokenFetch, until, type Conn, type RelayParty } from "./helpers.ts";
import { sha256 } from "@noble/hashes/sha2.js";

type Party = RelayParty;
const round = (n: number, o: Partial<JobSpecInput> = {}) => relayRound("relay-flow", n, o);
const key = relayPairKey;
function direct(p: Party, to: Party, payload: Uint8Array, seq = ++p.seq): Uint8Array {
  const m = p.a.manifest;
  return sealDirect({ jobId: m.jobId, round: m.round, attempt: m.attempt, phase: "test.p2p", from: p.a.index, to: to.a.index, seq }, payload, key(p, to), p.node.identitySecretKey, p.node.rng);
}
/**
 * A crash of the RoundDO (as a deploy or an isolate failure): the object is reset at once, its
 * memory is gone, its sockets are dropped. (An eviction waits until the object is idle, and its
 * pending spill timer keeps it busy until everything held is stored: rounds.test.ts.)
 */
const crash = (jobId: string) => runInDurableObject(roundStub(jobId, 0, 0), (_i, state) => { state.abort("test: crash"); }).catch(() => undefined);
const setLimits = setRelayLimits;
const stats = (jobId: string) => roundStub(jobId, 0, 0).relayStats();
const kinds = (c: Conn) => c.texts.map((t) => t.kind);
const errors = (c: Conn) => c.texts.filter((t) => t.kind === "error").map((t) => t.code);
const rounds = async (id: string) => ((await (await tokenFetch("GET", `/v1/jobs/${id}/rounds`)).json()) as { rounds: RoundInfo[] }).rounds;
const maxIndex = (c: Conn) => c.binaries.reduce((m, b) => Math.max(m, decodeDelivery(b).index), 0);
const ack = (c: Conn, cursor: number) => c.ws.send(JSON.stringify({ v: 1, kind: "ack", cursor }));
const KiB = 1024;

describe("relay flow control (issue 15: back-pressure instead of unbounded buffering)", () => {
  it("a recipient that reads slowly gets only its window, the senders are paused and memory stays bounded; once it catches up the round completes and no one is blamed", async () => {
    const { jobId, schemaId, ps } = await round(3);
    const [p0, p1, p2] = ps as [Party, Party, Party];
    const limits = { windowBytes: 64 * KiB, memoryBytes: 256 * KiB, memoryHardBytes: 512 * KiB, pauseBytes: 512 * KiB, resumeBytes: 128 * KiB, hardBytes: 8192 * KiB, readerStallMs: 60_000, spillMs: 60_000 };
    await setLimits(jobId, limits);
    const payload = new Uint8Array(32 * KiB).fill(7);
    const n = 40; // 1.25 MiB for party 1, far above every limit
    for (let i = 0; i < n; i++) p0.conn.ws.send(direct(p0, p1, payload));
    await until(() => kinds(p0.conn).includes("pause") && kinds(p2.conn).includes("pause"), 5000, "pause");
    await until(async () => (await roundStub(jobId, 0, 0).status())!.mailboxSizes[1] === n, 5000, "all accepted");
    // The reader got its window and no more; the relay holds at most memoryHardBytes, the rest is stored.
    const sentBytes = p1.conn.binaries.reduce((a, b) => a + b.length, 0);
    expect(sentBytes).toBeLessThanOrEqual(limits.windowBytes + 33 * KiB);
    const s = await stats(jobId);
    expect(s.paused).toBe(true);
    expect(s.heldBytes).toBeLessThanOrEqual(limits.memoryHardBytes);
    expect(s.stored).toBeGreaterThan(0);
    expect(s.backlog[1]).toBeGreaterThan(n * 32 * KiB);
    // The reader catches up: acknowledging opens its window, then the pause lifts.
    for (let guard = 0; maxIndex(p1.conn) < n && guard < 500; guard++) {
      const top = maxIndex(p1.conn);
      ack(p1.conn, top);
      await until(() => maxIndex(p1.conn) > top, 5000, `delivery after ${top}`);
    }
    ack(p1.conn, n);
    await until(() => kinds(p0.conn).includes("resume"), 5000, "resume");
    const texts = new Map<number, string>();
    for (const b of p1.conn.binaries) {
      const d = decodeDelivery(b);
      const open = openDirect(d.envelope, { jobId, round: 0, attempt: 0, me: 1 }, p0.node.identityPublicKey, key(p1, p0));
      expect(open.payload).toEqual(payload);
      texts.set(d.index, String(open.seq));
    }
    expect([...texts.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(await stats(jobId)).toMatchObject({ heldBytes: 0, stored: 0, paused: false, backlog: [0, 0, 0] });
    for (const p of ps) p.conn.ws.send(JSON.stringify({ v: 1, kind: "result", aggregate: toBase64Url(statsAggregate(schemaId, 7)), transcriptHash: toBase64Url(sha256(utf8("t"))), excluded: [] }));
    await until(async () => (await roundStub(jobId, 0, 0).status())?.phase === "accepted", 5000, "accepted");
  });

  it("a recipient that stops reading while the senders are paused is named (timeout) after readerStallMs; the senders are not", async () => {
    const { jobId, ps } = await round(3, { retryBudget: 1 });
    const [p0, p1, p2] = ps as [Party, Party, Party];
    await setLimits(jobId, { windowBytes: 64 * KiB, memoryBytes: 128 * KiB, memoryHardBytes: 256 * KiB, pauseBytes: 256 * KiB, resumeBytes: 64 * KiB, hardBytes: 8192 * KiB, readerStallMs: 300, spillMs: 60_000 });
    const payload = new Uint8Array(32 * KiB);
    for (let i = 0; i < 20; i++) p0.conn.ws.send(direct(p0, p1, payload));
    p2.conn.ws.send(direct(p2, p0, payload)); // party 0 reads what it is sent: never named
    await until(() => p0.conn.binaries.length === 1, 5000, "p0 reads");
    ack(p0.conn, 1);
    await until(async () => (await roundStub(jobId, 0, 0).status())?.phase === "aborted", 5000, "aborted");
    await until(async () => (await rounds(jobId))[0]?.status === "aborted", 5000, "reported");
    expect((await rounds(jobId))[0]).toMatchObject({ abort: { code: "timeout", culprits: [p1.node.id] } });
    expect((await rounds(jobId))[0]!.abort!.detail).toMatch(/back-pressure: party 1 acknowledged nothing/);
  });

  it("a sender that keeps sending after the pause until a backlog passes the hard limit is named", async () => {
    const { jobId, ps } = await round(2, { retryBudget: 1 });
    const [p0, p1] = ps as [Party, Party];
    await setLimits(jobId, { windowBytes: 64 * KiB, memoryBytes: 128 * KiB, memoryHardBytes: 256 * KiB, pauseBytes: 128 * KiB, resumeBytes: 64 * KiB, hardBytes: 512 * KiB, readerStallMs: 60_000, spillMs: 60_000 });
    const payload = new Uint8Array(32 * KiB);
    for (let i = 0; i < 24 && !kinds(p0.conn).includes("aborted"); i++) p0.conn.ws.send(direct(p0, p1, payload)); // ignores `pause`
    await until(async () => (await roundStub(jobId, 0, 0).status())?.phase === "aborted", 5000, "aborted");
    expect(kinds(p0.conn)).toContain("pause");
    await until(async () => (await rounds(jobId))[0]?.status === "aborted", 5000, "reported");
    expect((await rounds(jobId))[0]).toMatchObject({ abort: { code: "unexpected-message", culprits: [p0.node.id] } });
  });

  it("acknowledged envelopes leave the relay at once; an unacknowledged one is written to storage after spillMs", async () => {
    const { jobId, ps } = await round(2);
    const [p0, p1] = ps as [Party, Party];
    await setLimits(jobId, { spillMs: 150 });
    p0.conn.ws.send(direct(p0, p1, utf8("a")));
    p0.conn.ws.send(direct(p0, p1, utf8("b")));
    await until(() => p1.conn.binaries.length === 2, 5000, "delivered");
    expect((await stats(jobId)).stored).toBe(0);
    ack(p1.conn, 1);
    await until(async () => (await stats(jobId)).backlog[1] !== 0 && (await stats(jobId)).stored === 1, 5000, "the unacknowledged one stored");
    ack(p1.conn, 2);
    await until(async () => (await stats(jobId)).stored === 0, 5000, "dropped once acknowledged");
    // an acknowledgement beyond the mailbox is refused
    ack(p1.conn, 9);
    await until(() => p1.conn.texts.some((t) => t.kind === "error" && t.code === "bad-frame"), 5000, "bad ack refused");
  });
});

describe("relay crash safety with held envelopes (issue 15)", () => {
  /** Two parties; p0 sends p1 three envelopes, delivered and held in memory only (no spill). */
  async function threeHeld() {
    const { jobId, ps } = await round(2);
    const [p0, p1] = ps as [Party, Party];
    await setLimits(jobId, { spillMs: 600_000 });
    const envs = ["m1", "m2", "m3"].map((t) => direct(p0, p1, utf8(t)));
    for (const e of envs) p0.conn.ws.send(e);
    await until(() => p1.conn.binaries.length === 3, 5000, "delivered");
    return { jobId, p0, p1, envs };
  }
  const textsOf = (c: Conn, jobId: string, from: Party, me: Party) => c.binaries.map((b) => {
    const d = decodeDelivery(b);
    return [d.index, new TextDecoder().decode(openDirect(d.envelope, { jobId, round: 0, attempt: 0, me: me.a.index }, from.node.identityPublicKey, key(me, from)).payload)] as const;
  });

  it("a crash loses envelopes held only in memory: their sender is told to re-send them (welcome.lastSeq) and each fills its own mailbox index again; nothing is skipped, duplicated or re-indexed", async () => {
    const { jobId, p0, p1, envs } = await threeHeld();
    expect((await stats(jobId)).stored).toBe(0);
    await crash(jobId);
    const r1 = await connect(p1.node, p1.a.wsPath);
    r1.ws.send(JSON.stringify({ v: 1, kind: "hello", cursor: 1 })); // it had processed m1 only
    const s0 = await connect(p0.node, p0.a.wsPath);
    await until(() => s0.texts.some((t) => t.kind === "welcome"), 5000, "welcome");
    const lastSeq = s0.texts.find((t) => t.kind === "welcome")!.lastSeq as number;
    expect(lastSeq).toBeLessThan(3); // m2 and m3 (at least) must come again
    for (const e of envs.slice(lastSeq)) s0.ws.send(e); // seq i is envs[i-1]
    s0.ws.send(direct(p0, p1, utf8("m4")));
    await until(() => r1.binaries.length >= 3, 5000, "refilled");
    expect(textsOf(r1, jobId, p0, p1)).toEqual([[2, "m2"], [3, "m3"], [4, "m4"]]);
    expect(errors(s0).filter((c) => c !== "replay")).toEqual([]);
    expect((await roundStub(jobId, 0, 0).status())?.phase).toBe("running");
  });

  it("a re-sent envelope must be the one recorded for that seq: another recipient is refused", async () => {
    const { jobId, ps } = await round(3);
    const [p0, p1, p2] = ps as [Party, Party, Party];
    await setLimits(jobId, { spillMs: 600_000 });
    p0.conn.ws.send(direct(p0, p1, utf8("for 1")));
    await until(() => p1.conn.binaries.length === 1, 5000, "delivered");
    await crash(jobId);
    const s0 = await connect(p0.node, p0.a.wsPath);
    await until(() => s0.texts.some((t) => t.kind === "welcome"), 5000, "welcome");
    expect(s0.texts.find((t) => t.kind === "welcome")!.lastSeq).toBe(0);
    s0.ws.send(direct(p0, p2, utf8("for 2 instead"), 1)); // same seq, another recipient
    await until(() => errors(s0).includes("forbidden"), 5000, "refused");
  });

  it("an entry a crash lost with no record of its sender (state written before the record existed) aborts the round naming no one when its recipient asks for it", async () => {
    const { jobId, ps } = await round(2, { retryBudget: 1 });
    const [p0, p1] = ps as [Party, Party];
    await setLimits(jobId, { spillMs: 600_000 });
    for (const t of ["m1", "m2"]) p0.conn.ws.send(direct(p0, p1, utf8(t)));
    await until(() => p1.conn.binaries.length === 2, 5000, "delivered");
    await runInDurableObject(roundStub(jobId, 0, 0), (_i, state) => { state.storage.sql.exec("DELETE FROM meta"); });
    await crash(jobId);
    const again = await connect(p1.node, p1.a.wsPath);
    again.ws.send(JSON.stringify({ v: 1, kind: "hello", cursor: 0 }));
    await until(async () => (await roundStub(jobId, 0, 0).status())?.phase === "aborted", 5000, "aborted");
    expect(again.binaries).toEqual([]);
    await until(async () => (await rounds(jobId))[0]?.status === "aborted", 5000, "reported");
    const r = (await rounds(jobId))[0]!;
    expect(r.abort).toMatchObject({ code: "timeout", culprits: [] });
    expect(r.abort!.detail).toMatch(/relay state lost/);
  });

  it("after a crash, a recipient that had processed the held envelopes goes on: new envelopes get new indices and the round continues", async () => {
    const { jobId, p0, p1, envs } = await threeHeld();
    await crash(jobId);
    const again = await connect(p1.node, p1.a.wsPath);
    again.ws.send(JSON.stringify({ v: 1, kind: "hello", cursor: 3 }));
    await until(async () => (await roundStub(jobId, 0, 0).status()) !== null, 5000, "up");
    const s0 = await connect(p0.node, p0.a.wsPath);
    await until(() => s0.texts.some((t) => t.kind === "welcome"), 5000, "welcome");
    const lastSeq = s0.texts.find((t) => t.kind === "welcome")!.lastSeq as number;
    for (const e of envs.slice(lastSeq)) s0.ws.send(e);
    s0.ws.send(direct(p0, p1, utf8("m4")));
    await until(() => again.binaries.length >= 1, 5000, "m4 delivered");
    await new Promise((r) => setTimeout(r, 100));
    expect(textsOf(again, jobId, p0, p1)).toEqual([[4, "m4"]]);
    expect((await roundStub(jobId, 0, 0).status())?.phase).toBe("running");
  });
});

describe("relay WebSocket compression", () => {
  it("never negotiates permessage-deflate (every frame is ciphertext)", async () => {
    const { SELF } = await import("cloudflare:test");
    const { signUrl } = await import("../../protocol/crypto/request.ts");
    const { BASE } = await import("./helpers.ts");
    const schemaId = `relay-flow/${crypto.randomUUID()}`;
    const nodes = [makeNode(), makeNode()];
    for (const node of nodes) expect((await register(node, { schemaId })).status).toBe(201);
    const job = await submitJob({ schemaId, committee: { size: 2, min: 2 } });
    const a = (await assignments(nodes[0]!)).find((x) => x.jobId === job.id)!;
    const url = signUrl({ url: BASE + a.wsPath, nodeId: nodes[0]!.id, identitySecretKey: nodes[0]!.identitySecretKey });
    const res = await SELF.fetch(url, { headers: { upgrade: "websocket", "sec-websocket-extensions": "permessage-deflate; client_max_window_bits" } });
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-extensions")).toBeNull();
    res.webSocket!.accept();
    res.webSocket!.close();
  });
});
