import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
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
import type { Assignment, RoundInfo } from "../../protocol/api/schemas.ts";
import { verifyLog, type LogEntry } from "../../protocol/log/index.ts";
import { assignments, connect, jobStub, makeNode, register, roundStub, signedFetch, statsAggregate, submitJob, tokenFetch, until, type Conn, type TestNode } from "./helpers.ts";

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
function direct(p: Party, to: Party, text: string, seq = ++p.seq): Uint8Array {
  const m = p.a.manifest;
  return sealDirect({ jobId: m.jobId, round: m.round, attempt: m.attempt, phase: "test.p2p", from: p.a.index, to: to.a.index, seq }, utf8(text), key(p, to), p.node.identitySecretKey, p.node.rng);
}
function broadcast(p: Party, phase: string, payload: Uint8Array, seq = ++p.seq): Uint8Array {
  const m = p.a.manifest;
  return sealBroadcast({ jobId: m.jobId, round: m.round, attempt: m.attempt, phase, from: p.a.index, seq }, payload, p.node.identitySecretKey);
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
    expect(openBroadcast(bc2, ctx(p2), p1.node.identityPublicKey).payload).toEqual(utf8("public from 1"));
    // broadcast: same bytes to everyone but the sender
    expect(toHex(decodeDelivery(p0.conn.binaries[0]!).envelope)).toBe(toHex(b1));
    expect(toHex(bc2)).toBe(toHex(b1));
    expect(p1.conn.binaries.some((b) => toHex(decodeDelivery(b).envelope) === toHex(b1))).toBe(false);

    // party 2 asking for a redelivery from 0 gets exactly its own mailbox again
    p2.conn.ws.send(JSON.stringify({ v: 1, kind: "hello", cursor: 0 }));
    await until(() => p2.conn.binaries.length === 4, 5000, "redelivery");
    expect(p2.conn.binaries.slice(2).map((b) => decodeDelivery(b).index)).toEqual([1, 2]);
    expect(p2.conn.binaries.slice(2).some((b) => toHex(decodeDelivery(b).envelope) === toHex(e01))).toBe(false);

    // refused: replayed seq, wrong signer, a party speaking for another, self-addressed, garbage
    p0.conn.ws.send(e01);
    const forged = sealDirect({ jobId: job.id, round: 0, attempt: 0, phase: "x", from: 0, to: 1, seq: 50 }, utf8("forged"), key(p0, p1), p2.node.identitySecretKey);
    p0.conn.ws.send(forged);
    p0.conn.ws.send(direct(p1, p2, "p1 mail sent on p0's socket"));
    p0.conn.ws.send(sealDirect({ jobId: job.id, round: 0, attempt: 0, phase: "x", from: 0, to: 0, seq: 60 }, utf8("me"), key(p0, p1), p0.node.identitySecretKey));
    p0.conn.ws.send(new Uint8Array([1, 2, 3]));
    p0.conn.ws.send(sealDirect({ jobId: job.id, round: 1, attempt: 0, phase: "x", from: 0, to: 1, seq: 70 }, utf8("other round"), key(p0, p1), p0.node.identitySecretKey));
    await until(() => errors(p0.conn).length === 6, 5000, "refusals");
    expect(errors(p0.conn)).toEqual(["replay", "bad-signature", "forbidden", "bad-recipient", "bad-encoding", "wrong-context"]);
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

  it("aborts on different results, naming the odd one out, and the job retries with a new attempt", async () => {
    const { job, nodes } = await setup(3, { retryBudget: 1 });
    const ps = await join(nodes, job.id);
    await until(async () => (await roundStub(job.id, 0, 0).status())?.phase === "running", 5000, "running");
    for (const [i, p] of ps.entries()) p.conn.ws.send(JSON.stringify({ v: 1, kind: "result", aggregate: toBase64Url(utf8(i === 2 ? "evil" : "good")), transcriptHash: toBase64Url(sha256(utf8("t"))), excluded: [] }));
    await until(async () => (await rounds(job.id))[0]?.status === "aborted", 5000, "abort");
    const rs = await rounds(job.id);
    expect(rs[0]).toMatchObject({ attempt: 0, status: "aborted", abort: { code: "result-mismatch", culprits: [ps[2]!.node.id] } });
    // the culprit is excluded; only 2 nodes are left for a committee of min 3 → waiting for nodes
    expect((await jobStatus(job.id)).status).toBe("running");
  });

  it("commit-then-open: an opening before every party committed aborts; a wrong opening aborts; correct ones pass", async () => {
    // early opening
    {
      const { job, nodes } = await setup(3, { retryBudget: 0 });
      const [p0, p1] = (await join(nodes, job.id)) as [Party, Party, Party];
      const c0 = commit(utf8("s0"));
      const c1 = commit(utf8("s1"));
      p0.conn.ws.send(broadcast(p0, "maccheck.commit", c0.commitment));
      p1.conn.ws.send(broadcast(p1, "maccheck.commit", c1.commitment));
      await until(async () => (await roundStub(job.id, 0, 0).status())?.mailboxSizes[2] === 2, 5000, "commits");
      p1.conn.ws.send(broadcast(p1, "maccheck.open", new Uint8Array([...c1.opening, ...utf8("s1")])));
      await until(() => p0.conn.texts.some((t) => t.kind === "aborted"), 5000, "abort");
      expect(p0.conn.texts.find((t) => t.kind === "aborted")).toMatchObject({ code: "unexpected-message", culprits: [1] });
      await until(async () => (await jobStatus(job.id)).status === "failed", 5000, "failed");
    }
    // wrong and right openings
    {
      const { job, nodes } = await setup(3, { retryBudget: 0 });
      const ps = (await join(nodes, job.id)) as [Party, Party, Party];
      const cs = ps.map((_, i) => commit(utf8(`s${i}`)));
      ps.forEach((p, i) => p.conn.ws.send(broadcast(p, "maccheck.commit", cs[i]!.commitment)));
      await until(async () => (await roundStub(job.id, 0, 0).status())?.mailboxSizes.every((s) => s === 2) ?? false, 5000, "commits");
      ps[0].conn.ws.send(broadcast(ps[0], "maccheck.open", new Uint8Array([...cs[0]!.opening, ...utf8("s0")])));
      ps[1].conn.ws.send(broadcast(ps[1], "maccheck.open", new Uint8Array([...cs[1]!.opening, ...utf8("s1")])));
      await until(async () => (await roundStub(job.id, 0, 0).status())?.mailboxSizes[2] === 4, 5000, "two openings");
      expect((await roundStub(job.id, 0, 0).status())?.phase).toBe("running");
      ps[2].conn.ws.send(broadcast(ps[2], "maccheck.open", new Uint8Array([...cs[2]!.opening, ...utf8("s2-changed")])));
      await until(() => ps[0].conn.texts.some((t) => t.kind === "aborted"), 5000, "abort");
      expect(ps[0].conn.texts.find((t) => t.kind === "aborted")).toMatchObject({ code: "commitment-mismatch", culprits: [2] });
    }
  });

  it("MAC check: the relay rechecks Σσ_i = 0 once every party opened, and aborts `mac-check-failed` otherwise", async () => {
    const { job, nodes } = await setup(3, { retryBudget: 0 });
    const ps = (await join(nodes, job.id)) as [Party, Party, Party];
    const p = m61.p;
    const batch = async (sigmas: bigint[], expectOpenings: number) => {
      const cs = sigmas.map((sg) => commitSigma(m61, ((sg % p) + p) % p, cryptoRng));
      ps.forEach((q, i) => q.conn.ws.send(broadcast(q, "maccheck.commit", cs[i]!.commitPayload)));
      await until(async () => (await roundStub(job.id, 0, 0).status())?.mailboxSizes.every((x) => x === expectOpenings - 2) ?? false, 5000, "commits");
      ps.forEach((q, i) => q.conn.ws.send(broadcast(q, "maccheck.open", cs[i]!.openPayload)));
    };
    await batch([5n, 7n, -12n], 4); // sums to 0
    await until(async () => (await roundStub(job.id, 0, 0).status())?.mailboxSizes.every((x) => x === 4) ?? false, 5000, "openings");
    expect((await roundStub(job.id, 0, 0).status())?.phase).toBe("running");
    await batch([5n, 7n, -11n], 8); // does not
    await until(() => ps[0].conn.texts.some((t) => t.kind === "aborted"), 5000, "abort");
    expect(ps[0].conn.texts.find((t) => t.kind === "aborted")).toMatchObject({ code: "mac-check-failed", culprits: [] });
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
