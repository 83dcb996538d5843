/**
 * Optimistic relay verification (issue 15, message rate): the RoundDO authenticates each sender
 * by its connection and no longer checks every envelope's signature; recipients verify every
 * envelope and answer a bad one with `dispute {index}`, which the RoundDO settles on its own
 * copy. Attacker tests: a sender with a bad signature is named; a recipient disputing a good
 * envelope is named; a dispute of an acknowledged entry is named and one of an unknown entry is
 * refused; a recipient that neither acknowledges nor disputes is named by the progress timeout
 * as before; the claimed sender must still be the connection's party.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { utf8 } from "../../protocol/encoding.ts";
import { sealBroadcast, sealDirect } from "../../protocol/crypto/envelope.ts";
import { decodeDelivery } from "../../protocol/api/frames.ts";
import type { RoundInfo } from "../../protocol/api/schemas.ts";
import type { RoundDO } from "../../durable-objects/round-do.ts";
import { connect, relayPairKey, relayRound, roundStub, setProgressTimeout, setRelayLimits, tokenFetch, until, type Conn, type RelayParty, type TestNode } from "./helpers.ts";

type Party = RelayParty;
/** A running round of `n` connected members (retry budget 1, so an abort is reported and the job goes on). */
const round = (n: number) => relayRound("relay-disputes", n, { retryBudget: 1 });
const setProgress = setProgressTimeout;
const setLimits = setRelayLimits;
const key = relayPairKey;
const keysOf = (p: Party, ps: Party[]) => ps.map((q) => (q === p ? undefined : key(p, q)));
const header = (p: Party, seq: number) => ({ jobId: p.a.manifest.jobId, round: 0, attempt: 0, phase: "test.p2p", from: p.a.index, seq });
/** A direct envelope from `p` to `to`, signed by `signer` (default: `p` itself). */
function direct(p: Party, to: Party, text: string, signer: TestNode = p.node): Uint8Array {
  return sealDirect({ ...header(p, ++p.seq), to: to.a.index }, utf8(text), key(p, to), signer.identitySecretKey, p.node.rng);
}
const dispute = (c: Conn, index: number) => c.ws.send(JSON.stringify({ v: 1, kind: "dispute", index }));
const ack = (c: Conn, cursor: number) => c.ws.send(JSON.stringify({ v: 1, kind: "ack", cursor }));
const errors = (c: Conn) => c.texts.filter((t) => t.kind === "error");
const aborted = (c: Conn) => c.texts.find((t) => t.kind === "aborted");
const rounds = async (id: string) => ((await (await tokenFetch("GET", `/v1/jobs/${id}/rounds`)).json()) as { rounds: RoundInfo[] }).rounds;
async function abortOf(jobId: string): Promise<NonNullable<RoundInfo["abort"]>> {
  await until(async () => (await rounds(jobId))[0]?.status === "aborted", 5000, "abort reported to the job");
  return (await rounds(jobId))[0]!.abort!;
}

describe("relay disputes: the sender is authenticated by its connection, signatures by the recipients", () => {
  it("an envelope with a bad signature is relayed, its recipient disputes it, and the relay names the sender (bad-signature) from its own copy", async () => {
    const { jobId, ps } = await round(3);
    const [p0, p1, p2] = ps as [Party, Party, Party];
    p0.conn.ws.send(direct(p0, p1, "good"));
    p0.conn.ws.send(direct(p0, p1, "forged", p2.node)); // party 0's connection, party 2's signature
    await until(() => p1.conn.binaries.length === 2, 5000, "both delivered");
    expect(decodeDelivery(p1.conn.binaries[1]!).index).toBe(2);
    ack(p1.conn, 1); // the first verified
    dispute(p1.conn, 2);
    await until(() => aborted(p2.conn) !== undefined, 5000, "aborted");
    expect(aborted(p1.conn)).toMatchObject({ code: "bad-signature", culprits: [0] });
    expect(String(aborted(p1.conn)!.detail)).toMatch(/party 1 disputed mailbox entry 2/);
    expect(await abortOf(jobId)).toMatchObject({ code: "bad-signature", culprits: [p0.node.id] });
  });

  it("the relay settles a dispute on the copy it wrote to storage, and for a broadcast", async () => {
    const { jobId, ps } = await round(3);
    const [p0, p1, p2] = ps as [Party, Party, Party];
    await setLimits(jobId, { spillMs: 40 });
    const bad = sealBroadcast({ ...header(p2, ++p2.seq), phase: "test.bcast" }, utf8("forged broadcast"), keysOf(p2, ps), p0.node.identitySecretKey, p2.node.rng);
    p2.conn.ws.send(bad);
    await until(() => p0.conn.binaries.length === 1 && p1.conn.binaries.length === 1, 5000, "broadcast delivered");
    await until(async () => (await roundStub(jobId, 0, 0).relayStats()).stored === 2, 5000, "spilled");
    expect((await roundStub(jobId, 0, 0).relayStats()).heldBytes).toBe(0);
    dispute(p0.conn, 1);
    await until(() => aborted(p1.conn) !== undefined, 5000, "aborted");
    expect(await abortOf(jobId)).toMatchObject({ code: "bad-signature", culprits: [p2.node.id] });
  });

  it("a recipient that disputes a validly signed envelope is named; the sender is not", async () => {
    const { jobId, ps } = await round(3);
    const [p0, p1, p2] = ps as [Party, Party, Party];
    p0.conn.ws.send(direct(p0, p1, "good"));
    await until(() => p1.conn.binaries.length === 1, 5000, "delivered");
    dispute(p1.conn, 1); // a lie
    await until(() => aborted(p2.conn) !== undefined, 5000, "aborted");
    expect(aborted(p0.conn)).toMatchObject({ code: "unexpected-message", culprits: [1] });
    const a = await abortOf(jobId);
    expect(a).toMatchObject({ code: "unexpected-message", culprits: [p1.node.id] });
    expect(a.detail).toMatch(/party 1 disputed mailbox entry 1, whose signature by party 0 verifies/);
  });

  it("a dispute of an entry the recipient acknowledged names it; one of an entry never assigned is refused and the round goes on", async () => {
    const { jobId, ps } = await round(2);
    const [p0, p1] = ps as [Party, Party];
    p0.conn.ws.send(direct(p0, p1, "one"));
    await until(() => p1.conn.binaries.length === 1, 5000, "delivered");
    dispute(p1.conn, 7); // unknown: above its mailbox
    await until(() => errors(p1.conn).length === 1, 5000, "refused");
    expect(errors(p1.conn)[0]).toMatchObject({ code: "bad-frame" });
    expect(String(errors(p1.conn)[0]!.detail)).toMatch(/dispute of entry 7: not in the mailbox/);
    expect((await roundStub(jobId, 0, 0).status())?.phase).toBe("running");
    ack(p1.conn, 1);
    await until(async () => (await roundStub(jobId, 0, 0).relayStats()).backlog[1] === 0, 5000, "acknowledged");
    dispute(p1.conn, 1); // vouched for it, then disputes it: the relay no longer holds it, and need not
    await until(() => aborted(p0.conn) !== undefined, 5000, "aborted");
    const a = await abortOf(jobId);
    expect(a).toMatchObject({ code: "unexpected-message", culprits: [p1.node.id] });
    expect(a.detail).toMatch(/which it had acknowledged/);
  });

  it("a recipient that neither acknowledges nor disputes a bad envelope is named by the progress timeout, as any silent member", async () => {
    const { jobId, ps } = await round(3);
    const [p0, p1, p2] = ps as [Party, Party, Party];
    p0.conn.ws.send(direct(p0, p1, "forged", p2.node));
    await until(() => p1.conn.binaries.length === 1, 5000, "delivered");
    await setProgress(jobId, 400);
    const ping = JSON.stringify({ v: 1, kind: "ping" });
    const t = setInterval(() => { for (const p of [p0, p2]) try { p.conn.ws.send(ping); } catch { /* closed */ } }, 50);
    await new Promise((r) => setTimeout(r, 700));
    await runDurableObjectAlarm(roundStub(jobId, 0, 0));
    clearInterval(t);
    expect(await abortOf(jobId)).toMatchObject({ code: "timeout", culprits: [p1.node.id] });
  });

  it("after a crash lost a held envelope, its sender's re-sent copy with a bad signature names the sender (checked on this rare path)", async () => {
    const { jobId, ps } = await round(2);
    const [p0, p1] = ps as [Party, Party];
    await setLimits(jobId, { spillMs: 600_000 });
    p0.conn.ws.send(direct(p0, p1, "held"));
    await until(() => p1.conn.binaries.length === 1, 5000, "delivered");
    await runInDurableObject(roundStub(jobId, 0, 0), (_i, state) => { state.abort("test: crash"); }).catch(() => undefined);
    const s0 = await connect(p0.node, p0.a.wsPath);
    await until(() => s0.texts.some((t) => t.kind === "welcome"), 5000, "welcome");
    expect(s0.texts.find((t) => t.kind === "welcome")!.lastSeq).toBe(0);
    p0.seq = 0;
    s0.ws.send(direct(p0, p1, "held", p1.node)); // seq 1 again, party 1's signature
    const a = await abortOf(jobId);
    expect(a).toMatchObject({ code: "bad-signature", culprits: [p0.node.id] });
    expect(a.detail).toMatch(/re-sent envelope seq 1/);
  });

  it("the claimed sender must still be the connection's party: an envelope claiming another sender is refused, never relayed", async () => {
    const { ps } = await round(3);
    const [p0, p1, p2] = ps as [Party, Party, Party];
    p0.conn.ws.send(direct(p1, p2, "party 1's name on party 0's socket"));
    await until(() => errors(p0.conn).length === 1, 5000, "refused");
    expect(errors(p0.conn)[0]).toMatchObject({ code: "forbidden" });
    await new Promise((r) => setTimeout(r, 50));
    expect(p2.conn.binaries.length).toBe(0);
  });
});
