import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64Url, toBase64Url, toHex, utf8 } from "../../protocol/encoding.ts";
import { openBroadcast, openDirect, pairKey, sealBroadcast, sealDirect } from "../../protocol/crypto/envelope.ts";
import { commit as commitWith } from "../../protocol/crypto/commitment.ts";
import { cryptoRng } from "../../protocol/rng.ts";
import { commitSigma } from "../../protocol/mascot/mac-check.ts";
import { m61 } from "../../protocol/field/index.ts";
const commit = (v: Uint8Array) => commitWith(v, cryptoRng);
import { decodeDelivery } from "../../protocol/api/frames.ts";
import { LIN_OPEN } from "../../protocol/mascot/linear-only.ts";
import type { Assignment, RoundInfo } from "../../protocol/api/schemas.ts";
import { verifyLog, type LogEntry } from "../../protocol/log/index.ts";
import { assignments, connect, jobExcluded, jobStub, makeNode, register, reliability, roundStub, signedFetch, statsAggregate, submitJob, tokenFetch, until, type Conn, type TestNode } from "./helpers.ts";

interface Party { node: TestNode; a: Assignment; conn: Conn; seq: number }

async function setup(n: number, o: Parameters<typeof submitJob>[0] = {}) {
  const schemaId = `rounds/${crypto.randomUUID()}`;
  const nodes = Array.from({ length: n }, () => makeNode());
  for (const node of nodes) expect((await register(node, { schemaId })).status).toBe(201);
  const job = await submitJob({ schemaId, committee: { size: n, min: n }, ...o });
  return { job, nodes, schemaId };
}

async function join(nodes: TestNode[], jobId: string, attempt = 0): Promise<Party[]> {
  const parties: Array<Omit<Party, "conn"> & { conn?: Conn }> = [];
  for (const node of nodes) {
    const a = (await assignments(node)).find((x) => x.jobId === jobId && x.attempt === attempt);
    if (a) parties.push({ node, a, seq: 0 });
  }
  parties.sort((x, y) => x.a.index - y.a.index);
  for (const p of parties) p.conn = await connect(p.node, p.a.wsPath);
  return parties as Party[];
}

function key(p: Party, peer: Party): Uint8Array {
  return pairKey(p.node.kxSecretKey, peer.node.kxPublicKey, fromBase64Url(p.a.manifest.sessionId));
}
/** `p`'s pair keys with every committee member, in committee order (own slot empty). */
function keysOf(p: Party): Array<Uint8Array | undefined> {
  const m = p.a.manifest;
  return m.committee.map((c) => (c.index === p.a.index ? undefined : pairKey(p.node.kxSecretKey, fromBase64Url(c.kxKey), fromBase64Url(m.sessionId))));
}
function direct(p: Party, to: Party, text: string, seq = ++p.seq): Uint8Array {
  const m = p.a.manifest;
  return sealDirect({ jobId: m.jobId, round: m.round, attempt: m.attempt, phase: "test.p2p", from: p.a.index, to: to.a.index, seq }, utf8(text), key(p, to), p.node.identitySecretKey, p.node.rng);
}
function broadcast(p: Party, phase: string, payload: Uint8Array, seq = ++p.seq): Uint8Array {
  const m = p.a.manifest;
  return sealBroadcast({ jobId: m.jobId, round: m.round, attempt: m.attempt, phase, from: p.a.index, seq }, payload, keysOf(p), p.node.identitySecretKey, p.node.rng);
}
const errors = (c: Conn) => c.texts.filter((t) => t.kind === "error").map((t) => t.code);
const rounds = async (id: string) => ((await (await tokenFetch("GET", `/v1/jobs/${id}/rounds`)).json()) as { rounds: RoundInfo[] }).rounds;
const jobStatus = async (id: string) => ((await (await tokenFetch("GET", `/v1/jobs/${id}`)).json()) as { job: { status: string; attempt: number } }).job;

async function submitAll(parties: Party[], aggregate: Uint8Array, transcript = sha256(utf8("transcript"))): Promise<void> {
  for (const p of parties) p.conn.ws.send(JSON.stringify({ v: 1, kind: "result", aggregate: toBase64Url(aggregate), transcriptHash: toBase64Url(transcript), excluded: [] }));
}

describe("a round end to end through the real Worker, JobDO and RoundDO", () => {
  it("relays, isolates mailboxes, refuses bad envelopes, accepts equal results, completes the job with a verifiable log", async () => {
    const { job, nodes, schemaId } = await setup(3);
    expect(job.status).toBe("running");
    const ps = await join(nodes, job.id);
    expect(ps.map((p) => p.a.index)).toEqual([0, 1, 2]);
    const [p0, p1, p2] = ps as [Party, Party, Party];
    await until(() => ps.every((p) => p.conn.texts.some((t) => t.kind === "phase" && t.phase === "running") || p.conn.texts.some((t) => t.kind === "welcome" && t.phase === "running")), 5000, "running");

    const e01 = direct(p0, p1, "for one only");
    const e02 = direct(p0, p2, "for two only");
    const b1 = broadcast(p1, "test.bcast", utf8("public from 1"));
    p0.conn.ws.send(e01);
    p0.conn.ws.send(e02);
    p1.conn.ws.send(b1);
    await until(() => p1.conn.binaries.length === 1 && p2.conn.binaries.length === 2 && p0.conn.binaries.length === 1, 5000, "deliveries");

    const ctx = (p: Party) => ({ jobId: job.id, round: 0, attempt: 0, me: p.a.index });
    const got1 = decodeDelivery(p1.conn.binaries[0]!);
    expect(got1.index).toBe(1);
    expect(new TextDecoder().decode(openDirect(got1.envelope, ctx(p1), p0.node.identityPublicKey, key(p1, p0)).payload)).toBe("for one only");
    // party 2 got its own direct message and the broadcast — never party 1's mail
    const env2 = p2.conn.binaries.map((b) => decodeDelivery(b).envelope);
    expect(env2.some((e) => toHex(e) === toHex(e01))).toBe(false);
    const d2 = env2.find((e) => toHex(e) === toHex(e02))!;
    const bc2 = env2.find((e) => toHex(e) === toHex(b1))!;
    expect(new TextDecoder().decode(openDirect(d2, ctx(p2), p0.node.identityPublicKey, key(p2, p0)).payload)).toBe("for two only");
    expect(openBroadcast(bc2, ctx(p2), p1.node.identityPublicKey, keysOf(p2)).payload).toEqual(utf8("public from 1"));
    expect(openBroadcast(decodeDelivery(p0.conn.binaries[0]!).envelope, ctx(p0), p1.node.identityPublicKey, keysOf(p0)).payload).toEqual(utf8("public from 1"));
    // what the relay stored and delivered is ciphertext: the broadcast's plaintext is nowhere in it
    expect(Buffer.from(bc2).includes(Buffer.from("public from 1"))).toBe(false);
    // broadcast: same bytes to everyone but the sender
    expect(toHex(decodeDelivery(p0.conn.binaries[0]!).envelope)).toBe(toHex(b1));
    expect(toHex(bc2)).toBe(toHex(b1));
    expect(p1.conn.binaries.some((b) => toHex(decodeDelivery(b).envelope) === toHex(b1))).toBe(false);

    // party 2 asking for a redelivery from 0 gets exactly its own mailbox again
    p2.conn.ws.send(JSON.stringify({ v: 1, kind: "hello", cursor: 0 }));
    await until(() => p2.conn.binaries.length === 4, 5000, "redelivery");
    expect(p2.conn.binaries.slice(2).map((b) => decodeDelivery(b).index)).toEqual([1, 2]);
    expect(p2.conn.binaries.slice(2).some((b) => toHex(decodeDelivery(b).envelope) === toHex(e01))).toBe(false);

    // refused: replayed seq, a party speaking for another, self-addressed, garbage, another round
    // (a bad signature is the recipients' to find and dispute: relay-disputes.test.ts)
    p0.conn.ws.send(e01);
    p0.conn.ws.send(direct(p1, p2, "p1 mail sent on p0's socket"));
    p0.conn.ws.send(sealDirect({ jobId: job.id, round: 0, attempt: 0, phase: "x", from: 0, to: 0, seq: 60 }, utf8("me"), key(p0, p1), p0.node.identitySecretKey));
    p0.conn.ws.send(new Uint8Array([1, 2, 3]));
    p0.conn.ws.send(sealDirect({ jobId: job.id, round: 1, attempt: 0, phase: "x", from: 0, to: 1, seq: 70 }, utf8("other round"), key(p0, p1), p0.node.identitySecretKey));
    await until(() => errors(p0.conn).length === 5, 5000, "refusals");
    expect(errors(p0.conn)).toEqual(["replay", "forbidden", "bad-recipient", "bad-encoding", "wrong-context"]);
    await new Promise((r) => setTimeout(r, 50));
    expect(p1.conn.binaries.length).toBe(1); // nothing refused was delivered

    // results: equal at everyone → accepted, job completed (maxRounds 1)
    const aggregate = statsAggregate(schemaId, 42);
    await submitAll(ps, aggregate);
    await until(() => ps.every((p) => p.conn.texts.some((t) => t.kind === "accepted")), 5000, "accepted");
    await until(async () => (await jobStatus(job.id)).status === "completed", 5000, "completed");
    const result = (await (await tokenFetch("GET", `/v1/jobs/${job.id}/result`)).json()) as { result: { aggregateHash: string; stats: { parties: number; measures: Array<{ groups: Array<{ count: number }> }> } } };
    expect(result.result.aggregateHash).toBe(toHex(sha256(aggregate)));
    expect(result.result.stats.parties).toBe(3);
    expect(result.result.stats.measures[0]!.groups[0]!.count).toBe(42); // the stats reduce finalised the opened sum
    expect((await assignments(p0.node)).filter((a) => a.jobId === job.id)).toEqual([]);

    // the log verifies offline against the coordinator key, and names the manifest the nodes got
    const log = (await (await tokenFetch("GET", `/v1/jobs/${job.id}/log`)).json()) as { entries: LogEntry[]; publicKey: string };
    expect(verifyLog(log.entries, fromBase64Url(log.publicKey))).toEqual([]);
    expect(log.entries.map((e) => e.body.kind)).toEqual(["job", "manifest", "dataset-commitments", "status", "result", "status"]);
    expect(log.entries[1]!.hash).toBe(p0.a.logEntryHash);
    // the RoundDO stored only what it relayed: ciphertexts and public values
    const st = await roundStub(job.id, 0, 0).status();
    expect(st?.phase).toBe("accepted");
    expect(st?.mailboxSizes).toEqual([1, 1, 2]);
  });

  it("aborts on different results naming no one (a majority could frame an honest member), and keeps everyone's standing", async () => {
    const { job, nodes } = await setup(3, { retryBudget: 1 });
    const ps = await join(nodes, job.id);
    await until(async () => (await roundStub(job.id, 0, 0).status())?.phase === "running", 5000, "running");
    const before = await Promise.all(ps.map((p) => reliability(p.node.id)));
    for (const [i, p] of ps.entries()) p.conn.ws.send(JSON.stringify({ v: 1, kind: "result", aggregate: toBase64Url(utf8(i === 2 ? "evil" : "good")), transcriptHash: toBase64Url(sha256(utf8("t"))), excluded: [] }));
    await until(async () => (await rounds(job.id))[0]?.status === "aborted", 5000, "abort");
    const rs = await rounds(job.id);
    expect(rs[0]).toMatchObject({ attempt: 0, status: "aborted", abort: { code: "result-mismatch", culprits: [] } });
    expect(ps[0]!.conn.texts.find((t) => t.kind === "aborted")).toMatchObject({ code: "result-mismatch", culprits: [] });
    expect(await jobExcluded(job.id)).toEqual([]);
    const after = await Promise.all(ps.map((p) => reliability(p.node.id)));
    after.forEach((r, i) => expect(r).toBeGreaterThanOrEqual(before[i]!));
    expect(after[2]).toBe(after[0]);
    // no culprit: this whole committee is never chosen again, and no other is possible → waiting for nodes
    expect((await jobStatus(job.id)).status).toBe("running");
  });

  it("a member that reports false culprits excludes no one", async () => {
    const { job, nodes } = await setup(3, { retryBudget: 0 });
    const ps = (await join(nodes, job.id)) as [Party, Party, Party];
    await until(async () => (await roundStub(job.id, 0, 0).status())?.phase === "running", 5000, "running");
    const before = await Promise.all(ps.map((p) => reliability(p.node.id)));
    // party 0 claims party 1 cheated in the MAC check: nothing the relay can verify
    ps[0].conn.ws.send(JSON.stringify({ v: 1, kind: "abort", code: "mac-check-failed", culprits: [1, 1, 7], detail: "party 1 is a cheater (a lie)" }));
    await until(() => ps[2].conn.texts.some((t) => t.kind === "aborted"), 5000, "aborted frame");
    const frame = ps[2].conn.texts.find((t) => t.kind === "aborted")!;
    expect(frame).toMatchObject({ code: "mac-check-failed", culprits: [] });
    expect(String(frame.detail)).toMatch(/party 0 reports mac-check-failed, accusing 1: party 1 is a cheater/);
    await until(async () => (await rounds(job.id))[0]?.status === "aborted", 5000, "job saw the abort");
    const rs = await rounds(job.id);
    expect(rs[0]!.abort).toMatchObject({ code: "mac-check-failed", culprits: [] });
    expect(rs[0]!.abort!.culprits).not.toContain(ps[1].node.id);
    expect(await jobExcluded(job.id)).not.toContain(ps[1].node.id);
    expect(await jobExcluded(job.id)).toEqual([]);
    const after = await Promise.all(ps.map((p) => reliability(p.node.id)));
    expect(after[1]).toBeGreaterThanOrEqual(before[1]!); // the accused lost nothing
    expect(after[1]).toBe(after[2]); // and stands exactly like the uninvolved member
    const st = await roundStub(job.id, 0, 0).status();
    expect(st?.outcome).toMatchObject({ kind: "aborted", code: "mac-check-failed", culprits: [] });
    // nor can a member pass its report off as a coordinator decision (a "cancelled" round stops the job's retries)
    const second = await setup(3, { retryBudget: 0 });
    const qs = (await join(second.nodes, second.job.id)) as [Party, Party, Party];
    qs[1].conn.ws.send(JSON.stringify({ v: 1, kind: "abort", code: "cancelled", culprits: [0] }));
    await until(() => qs[0].conn.texts.some((t) => t.kind === "aborted"), 5000, "aborted frame");
    expect(qs[0].conn.texts.find((t) => t.kind === "aborted")).toMatchObject({ code: "unexpected-message", culprits: [] });
    await until(async () => (await jobStatus(second.job.id)).status === "failed", 5000, "the job fails normally (retry budget 0)");
  });

  it("a party's abort after the phase deadline gets the deadline's outcome: the relay names the absent member from its own observation", async () => {
    const { job, nodes } = await setup(3, { committee: { size: 2, min: 2 }, deadlines: { join: 1, compute: 60, finalize: 60, select: 60 }, retryBudget: 0 });
    const r0 = await rounds(job.id);
    const [present, absent] = r0[0]!.committee as [string, string];
    const presentNode = nodes.find((n) => n.id === present)!;
    const a = (await assignments(presentNode)).find((x) => x.jobId === job.id)!;
    const conn = await connect(presentNode, a.wsPath);
    // the relay's own alarm is late (lost): only the party's report can end the round now
    await runInDurableObject(roundStub(job.id, 0, 0), (_instance, state) => state.storage.deleteAlarm());
    await new Promise((r) => setTimeout(r, 1100));
    expect((await roundStub(job.id, 0, 0).status())?.phase).toBe("waiting");
    // the present member's local stall guard fired: it reports a timeout (and could accuse anyone)
    conn.ws.send(JSON.stringify({ v: 1, kind: "abort", code: "timeout", culprits: [a.index], detail: "local deadline: no progress" }));
    await until(() => conn.texts.some((t) => t.kind === "aborted"), 5000, "aborted");
    expect(conn.texts.find((t) => t.kind === "aborted")).toMatchObject({ code: "timeout", culprits: [a.index === 0 ? 1 : 0] });
    await until(async () => (await rounds(job.id))[0]?.status === "aborted", 5000, "job saw it");
    expect((await rounds(job.id))[0]!.abort).toMatchObject({ code: "timeout", culprits: [absent] });
  });

  it("the relay refuses nothing it cannot read: openings before commitments, wrong openings and a failing MAC check are all relayed (the parties check them)", async () => {
    const { job, nodes } = await setup(3, { retryBudget: 0 });
    const ps = (await join(nodes, job.id)) as [Party, Party, Party];
    await until(async () => (await roundStub(job.id, 0, 0).status())?.phase === "running", 5000, "running");
    const sent: Array<{ from: number; e: Uint8Array }> = [];
    const send = (p: Party, phase: string, payload: Uint8Array) => { const e = broadcast(p, phase, payload); sent.push({ from: p.a.index, e }); p.conn.ws.send(e); };
    // an opening before anyone committed, then one that does not match its commitment
    const c1 = commit(utf8("s1"));
    send(ps[1], "maccheck.open", new Uint8Array([...c1.opening, ...utf8("s1")]));
    send(ps[1], "maccheck.commit", c1.commitment);
    send(ps[2], "maccheck.open", new Uint8Array([...c1.opening, ...utf8("s2-changed")]));
    // a MAC check whose σ_i do not sum to 0
    const cs = [5n, 7n, -11n].map((sg) => commitSigma(m61, ((sg % m61.p) + m61.p) % m61.p, cryptoRng));
    ps.forEach((q, i) => send(q, "maccheck.commit", cs[i]!.commitPayload));
    ps.forEach((q, i) => send(q, "maccheck.open", cs[i]!.openPayload));
    // a payload that is not even a valid commitment
    send(ps[0], "maccheck.commit", utf8("not 32 bytes"));
    const total = sent.length;
    await until(async () => {
      const st = await roundStub(job.id, 0, 0).status();
      return (st?.mailboxSizes.reduce((a, b) => a + b, 0) ?? 0) === total * 2;
    }, 5000, "every broadcast relayed to both other members");
    expect((await roundStub(job.id, 0, 0).status())?.phase).toBe("running");
    for (const p of ps) expect(errors(p.conn)).toEqual([]);
    expect(ps.every((p) => !p.conn.texts.some((t) => t.kind === "aborted"))).toBe(true);
    // delivered byte for byte, and each recipient can open what was sent to it
    const env0 = ps[0].conn.binaries.map((b) => toHex(decodeDelivery(b).envelope));
    expect([...env0].sort()).toEqual(sent.filter((x) => x.from !== 0).map((x) => toHex(x.e)).sort());
    const fromTwo = sent.filter((x) => x.from === 2).at(-1)!.e;
    expect(openBroadcast(fromTwo, { jobId: job.id, round: 0, attempt: 0, me: 0 }, ps[2].node.identityPublicKey, keysOf(ps[0])).phase).toBe("maccheck.open");
  });

  it("reports `released` once an output opening was relayed, and not before", async () => {
    // an abort before any opening: released = false
    {
      const { job, nodes } = await setup(3, { retryBudget: 0 });
      const ps = (await join(nodes, job.id)) as [Party, Party, Party];
      ps[0].conn.ws.send(broadcast(ps[0], "input.y", utf8("masked input")));
      ps[1].conn.ws.send(broadcast(ps[1], "open.summary", utf8("not an output phase")));
      await until(async () => (await roundStub(job.id, 0, 0).status())?.mailboxSizes[2] === 2, 5000, "relayed");
      expect((await roundStub(job.id, 0, 0).status())?.released).toBe(false);
      ps[2].conn.ws.send(JSON.stringify({ v: 1, kind: "abort", code: "bad-encoding", culprits: [] }));
      await until(async () => (await roundStub(job.id, 0, 0).status())?.phase === "aborted", 5000, "aborted");
      expect((await roundStub(job.id, 0, 0).status())?.released).toBe(false);
    }
    // validated "open.sum" (chunked), linear-only LIN_OPEN, plaintext "plain.open": released = true, kept through eviction
    for (const phase of ["open.sum#0/2", LIN_OPEN, "plain.open"]) {
      const { job, nodes } = await setup(3, { retryBudget: 0 });
      const ps = (await join(nodes, job.id)) as [Party, Party, Party];
      ps[0].conn.ws.send(broadcast(ps[0], "input.y", utf8("masked input")));
      await until(async () => (await roundStub(job.id, 0, 0).status())?.mailboxSizes[1] === 1, 5000, "relayed");
      expect((await roundStub(job.id, 0, 0).status())?.released).toBe(false);
      ps[1].conn.ws.send(broadcast(ps[1], phase, utf8("a share of the output")));
      await until(async () => (await roundStub(job.id, 0, 0).status())?.mailboxSizes[0] === 1, 5000, "opening relayed");
      await evictDurableObject(roundStub(job.id, 0, 0));
      expect((await roundStub(job.id, 0, 0).status())?.released).toBe(true);
      ps[2].conn.ws.send(JSON.stringify({ v: 1, kind: "abort", code: "mac-check-failed", culprits: [] }));
      await until(async () => (await roundStub(job.id, 0, 0).status())?.phase === "aborted", 5000, "aborted");
      const st = await roundStub(job.id, 0, 0).status();
      expect(st).toMatchObject({ phase: "aborted", released: true, outcome: { kind: "aborted", code: "mac-check-failed", culprits: [] } });
    }
  });

  it("an abort after the output opening was relayed stops the job with output-released: no second attempt over other inputs, even with retries left", async () => {
    const { job, nodes } = await setup(4, { committee: { size: 3, min: 3 }, retryBudget: 5 });
    const ps = (await join(nodes, job.id)) as Party[];
    ps[0]!.conn.ws.send(broadcast(ps[0]!, "open.sum", utf8("a share of the output")));
    await until(async () => (await roundStub(job.id, 0, 0).status())?.released === true, 5000, "opening relayed");
    ps[1]!.conn.ws.send(JSON.stringify({ v: 1, kind: "abort", code: "mac-check-failed", culprits: [2] }));
    await until(async () => ((await (await tokenFetch("GET", `/v1/jobs/${job.id}`)).json()) as { job: { status: string } }).job.status === "failed", 5000, "job failed");
    const got = (await (await tokenFetch("GET", `/v1/jobs/${job.id}`)).json()) as { job: { status: string; error: string } };
    expect(got.job.error).toMatch(/^output-released/);
    const r = await rounds(job.id);
    expect(r.map((x) => [x.round, x.attempt, x.status])).toEqual([[0, 0, "aborted"]]);
    expect(r[0]!.abort!.culprits).toEqual([]); // the accusation is not believed
    expect(await jobExcluded(job.id)).toEqual([]);
  });

  it("a round deadline firing aborts with `timeout` naming the absent party, and the job reselects without it", async () => {
    const { job, nodes } = await setup(4, { committee: { size: 2, min: 2 }, deadlines: { join: 1, compute: 60, finalize: 60, select: 60 }, retryBudget: 2 });
    const r0 = await rounds(job.id);
    expect(r0).toHaveLength(1);
    const [present, absent] = r0[0]!.committee as [string, string];
    const presentNode = nodes.find((n) => n.id === present)!;
    const a = (await assignments(presentNode)).find((x) => x.jobId === job.id)!;
    const conn = await connect(presentNode, a.wsPath);
    await new Promise((r) => setTimeout(r, 1100));
    await runDurableObjectAlarm(roundStub(job.id, 0, 0)); // may already have fired on its own: the handler is idempotent
    await runDurableObjectAlarm(roundStub(job.id, 0, 0));
    await until(async () => (await rounds(job.id)).length === 2, 5000, "reselection");
    const rs = await rounds(job.id);
    expect(rs[0]).toMatchObject({ attempt: 0, status: "aborted", abort: { code: "timeout", culprits: [absent] } });
    expect(rs[1]).toMatchObject({ round: 0, attempt: 1, status: "running" });
    expect(rs[1]!.committee).not.toContain(absent);
    expect(conn.texts.find((t) => t.kind === "aborted")).toMatchObject({ code: "timeout", culprits: [a.index === 0 ? 1 : 0] });
    // the absent node's reliability went down
    const rec = (await (await tokenFetch("GET", `/v1/nodes/${absent}`)).json()) as { node: { reliability: number } };
    expect(rec.node.reliability).toBeLessThan(0.5);
    const logKinds = ((await (await tokenFetch("GET", `/v1/jobs/${job.id}/log`)).json()) as { entries: LogEntry[] }).entries.map((e) => e.body.kind);
    expect(logKinds).toContain("abort");
    expect(logKinds.filter((k) => k === "manifest")).toHaveLength(2);
  });

  it("a member that declines aborts the round at once with `declined` naming it; the job reselects without it and its reliability is kept", async () => {
    const { job, nodes } = await setup(3, { committee: { size: 2, min: 2 }, retryBudget: 2 });
    const r0 = await rounds(job.id);
    const decliner = nodes.find((n) => n.id === r0[0]!.committee[0])!;
    const outsider = nodes.find((n) => !r0[0]!.committee.includes(n.id))!;
    const path = `/v1/rounds/${job.id}/0/0/decline`;
    // only a committee member can decline, with a reason, signed
    expect((await signedFetch(outsider, "POST", path, { reason: "nope" })).status).toBe(403);
    const bad = await signedFetch(decliner, "POST", path, { reason: "" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe("validation-failed");
    const { SELF } = await import("cloudflare:test");
    expect((await SELF.fetch(`https://coordinator.test${path}`, { method: "POST", body: JSON.stringify({ reason: "x" }), headers: { "content-type": "application/json" } })).status).toBe(401);
    expect((await signedFetch(decliner, "POST", path, { reason: "rows: 1500 rows exceed maxRowsPerParty = 1024" })).status).toBe(204);
    await until(async () => (await rounds(job.id)).length === 2, 5000, "reselection");
    const rs = await rounds(job.id);
    expect(rs[0]).toMatchObject({ attempt: 0, status: "aborted", abort: { code: "declined", culprits: [decliner.id] } });
    expect(rs[0]!.abort!.detail).toMatch(/maxRowsPerParty/);
    expect(rs[1]!.committee).not.toContain(decliner.id);
    const rec = (await (await tokenFetch("GET", `/v1/nodes/${decliner.id}`)).json()) as { node: { reliability: number } };
    expect(rec.node.reliability).toBeGreaterThanOrEqual(0.5);
    // declining an ended round is a no-op
    expect((await signedFetch(decliner, "POST", path, { reason: "again" })).status).toBe(204);
  });

  it("eviction mid-round loses nothing: mailboxes, sequence numbers, phase and job state survive", async () => {
    const { job, nodes, schemaId } = await setup(3);
    const ps = (await join(nodes, job.id)) as [Party, Party, Party];
    const [p0, p1] = ps;
    p0.conn.ws.send(direct(p0, p1, "m1"));
    p0.conn.ws.send(direct(p0, p1, "m2"));
    const replayLater = direct(p0, p1, "m3");
    p0.conn.ws.send(replayLater);
    await until(() => p1.conn.binaries.length === 3, 5000, "three deliveries");
    const before = await roundStub(job.id, 0, 0).status();

    await evictDurableObject(roundStub(job.id, 0, 0));
    await evictDurableObject(jobStub(job.id));

    expect(await roundStub(job.id, 0, 0).status()).toEqual(before);
    expect((await jobStub(job.id).get())?.status).toBe("running");
    // seq survived: replay refused on the hibernated socket
    p0.conn.ws.send(replayLater);
    await until(() => errors(p0.conn).includes("replay"), 5000, "replay refused after eviction");
    // a fresh connection for party 1 gets its whole mailbox from cursor 0
    const again = await connect(p1.node, p1.a.wsPath);
    again.ws.send(JSON.stringify({ v: 1, kind: "hello", cursor: 0 }));
    await until(() => again.binaries.length === 3, 5000, "redelivery after eviction");
    const texts = again.binaries.map((b) => {
      const d = decodeDelivery(b);
      return new TextDecoder().decode(openDirect(d.envelope, { jobId: job.id, round: 0, attempt: 0, me: 1 }, p0.node.identityPublicKey, key(p1, p0)).payload);
    });
    expect(texts).toEqual(["m1", "m2", "m3"]);
    // and the round still completes
    ps[1] = { ...p1, conn: again };
    await submitAll(ps, statsAggregate(schemaId, 7));
    await until(async () => (await jobStatus(job.id)).status === "completed", 5000, "completed");
  });

  it("a burst relayed across an eviction (group commit in flight): after resuming from welcome.lastSeq every envelope is delivered exactly once, one content per mailbox index", async () => {
    const { job, nodes } = await setup(2);
    const [p0, p1] = (await join(nodes, job.id)) as [Party, Party];
    const envs = Array.from({ length: 20 }, (_, i) => direct(p0, p1, `m${i + 1}`, i + 1));
    for (const e of envs) p0.conn.ws.send(e);
    await evictDurableObject(roundStub(job.id, 0, 0)); // no wait: part of the burst may still be queued
    const s0 = await connect(p0.node, p0.a.wsPath);
    await until(() => s0.texts.some((t) => t.kind === "welcome"), 5000, "welcome");
    const lastSeq = s0.texts.find((t) => t.kind === "welcome")!.lastSeq as number;
    expect(lastSeq).toBeGreaterThanOrEqual(-1);
    expect(lastSeq).toBeLessThanOrEqual(20);
    for (const e of envs.slice(Math.max(0, lastSeq))) s0.ws.send(e); // seq i is envs[i-1]: re-send every seq > lastSeq
    const s1 = await connect(p1.node, p1.a.wsPath);
    s1.ws.send(JSON.stringify({ v: 1, kind: "hello", cursor: 0 }));
    const byIndex = new Map<number, string>();
    const read = () => {
      for (const b of [...p1.conn.binaries, ...s1.binaries]) {
        const d = decodeDelivery(b);
        const text = new TextDecoder().decode(openDirect(d.envelope, { jobId: job.id, round: 0, attempt: 0, me: 1 }, p0.node.identityPublicKey, key(p1, p0)).payload);
        const seen = byIndex.get(d.index);
        if (seen !== undefined && seen !== text) throw new Error(`mailbox index ${d.index} delivered as ${seen} and as ${text}`);
        byIndex.set(d.index, text);
      }
      return byIndex.size;
    };
    await until(() => read() >= 20, 5000, "all twenty");
    expect(read()).toBe(20);
    expect([...byIndex.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect([...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
    expect(errors(s0).filter((c) => c !== "replay")).toEqual([]);
  });

  it("cancelling a running job aborts its round (`cancelled`) and closes the assignments", async () => {
    const { job, nodes } = await setup(2);
    const ps = await join(nodes, job.id);
    expect((await (await tokenFetch("POST", `/v1/jobs/${job.id}/cancel`)).json()) as unknown).toMatchObject({ job: { status: "cancelled" } });
    await until(() => ps.every((p) => p.conn.texts.some((t) => t.kind === "aborted" && t.code === "cancelled")), 5000, "aborted frames");
    expect((await roundStub(job.id, 0, 0).status())?.phase).toBe("aborted");
    expect((await assignments(nodes[0]!)).filter((a) => a.jobId === job.id)).toEqual([]);
    expect((await rounds(job.id))[0]).toMatchObject({ status: "aborted", abort: { code: "cancelled" } });
    // the RoundDO closed the sockets; the job stays cancelled
    await until(() => ps.every((p) => p.conn.closed), 5000, "closed sockets");
    expect((await jobStatus(job.id)).status).toBe("cancelled");
  });

  it("refuses WebSocket connections from nodes outside the committee or unsigned", async () => {
    const { job } = await setup(2);
    const outsider = makeNode();
    await register(outsider, { schemaId: "elsewhere" });
    await expect(connect(outsider, `/v1/rounds/${job.id}/0/0/ws`)).rejects.toThrow(/403/);
    const { SELF } = await import("cloudflare:test");
    const r = await SELF.fetch(`https://coordinator.test/v1/rounds/${job.id}/0/0/ws`, { headers: { upgrade: "websocket" } });
    expect(r.status).toBe(401);
  });
});

describe("liveness inside a round (issue 15, fault 4)", () => {
  const PING = JSON.stringify({ v: 1, kind: "ping" });
  /** Shortens the round's progress timeout (the var's default is 8 s) in its durable state. */
  const setProgress = (id: string, ms: number) => runInDurableObject(roundStub(id, 0, 0), async (instance, state) => {
    const s = { ...(await state.storage.get<Record<string, unknown>>("state"))!, progressMs: ms };
    await state.storage.put("state", s);
    (instance as unknown as { state: unknown }).state = s;
  });
  const pinging = (ps: Party[]) => {
    const t = setInterval(() => { for (const p of ps) try { p.conn.ws.send(PING); } catch { /* closed */ } }, 50);
    return () => clearInterval(t);
  };

  it("a connected member that stops sending (no frames, no pings) is named at the next alarm; the members that ping are not blamed", async () => {
    const { job } = await (async () => {
      const r = await setup(4, { committee: { size: 3, min: 3 }, retryBudget: 1 });
      const ps = await join(r.nodes, r.job.id);
      await until(() => ps.every((p) => p.conn.texts.some((t) => t.kind === "phase" && t.phase === "running") || p.conn.texts.some((t) => t.kind === "welcome" && t.phase === "running")), 5000, "running");
      await setProgress(r.job.id, 400);
      const stop = pinging([ps[0]!, ps[2]!]); // party 1 is stalled (SIGSTOP: socket open, nothing sent)
      await new Promise((res) => setTimeout(res, 700));
      // The armed alarm is no later than the next liveness check, never the 60 s compute deadline.
      const alarm = await runInDurableObject(roundStub(r.job.id, 0, 0), (_i, state) => state.storage.getAlarm());
      expect(alarm).not.toBeNull();
      await runDurableObjectAlarm(roundStub(r.job.id, 0, 0));
      stop();
      const stalled = ps[1]!.node.id;
      await until(async () => (await rounds(r.job.id)).length === 2, 5000, "reselection");
      const rs = await rounds(r.job.id);
      expect(rs[0]).toMatchObject({ attempt: 0, status: "aborted", abort: { code: "timeout", culprits: [stalled] } });
      expect(await jobExcluded(r.job.id)).toEqual([stalled]);
      return r;
    })();
    expect((await jobStatus(job.id)).status).toBe("running");
  });

  it("a member that announced a step with `busy` is not named while it computes; without the frame it is", async () => {
    const r = await setup(4, { committee: { size: 3, min: 3 }, retryBudget: 1 });
    const ps = await join(r.nodes, r.job.id);
    await until(async () => (await roundStub(r.job.id, 0, 0).status())?.phase === "running", 5000, "running");
    await setProgress(r.job.id, 400);
    ps[1]!.conn.ws.send(JSON.stringify({ v: 1, kind: "busy" })); // party 1 starts a long step on its pinging thread
    const stop = pinging([ps[0]!, ps[2]!]);
    await new Promise((res) => setTimeout(res, 700));
    await runDurableObjectAlarm(roundStub(r.job.id, 0, 0));
    expect((await roundStub(r.job.id, 0, 0).status())?.phase).toBe("running"); // silent 700 ms > 400 ms, but busy
    // Party 2 stops pinging and never announced a step: it is named at the next check.
    stop();
    const again = pinging([ps[0]!]);
    await new Promise((res) => setTimeout(res, 700));
    await runDurableObjectAlarm(roundStub(r.job.id, 0, 0));
    again();
    await until(async () => (await rounds(r.job.id)).length === 2, 5000, "reselection");
    expect((await rounds(r.job.id))[0]).toMatchObject({ status: "aborted", abort: { code: "timeout", culprits: [ps[2]!.node.id] } });
  });

  it("when every member is silent (as after a coordinator outage) the alarm names no one and re-arms", async () => {
    const { job, nodes } = await setup(2);
    const ps = await join(nodes, job.id);
    await until(() => ps.every((p) => p.conn.texts.some((t) => t.kind === "welcome")), 5000, "welcome");
    await until(async () => (await roundStub(job.id, 0, 0).status())?.phase === "running", 5000, "running");
    await setProgress(job.id, 300);
    await new Promise((res) => setTimeout(res, 500));
    await runDurableObjectAlarm(roundStub(job.id, 0, 0));
    expect((await roundStub(job.id, 0, 0).status())?.phase).toBe("running");
    const alarm = await runInDurableObject(roundStub(job.id, 0, 0), (_i, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(Date.now() + 300 + 50);
  });
});
