/**
 * The relay as the attacker (DESIGN §1: "Everything relayed is ciphertext … a forked log
 * aborts"). Three real SecureSumParty instances run through runRelaySession against a REAL
 * local coordinator (Worker + D1 + R2 + JobDO + RoundDO on Miniflare), with jobs submitted
 * through the HTTP API by nodes this test registers itself. Every binary frame each session
 * sends and receives is recorded (the relay's complete view of the envelopes), and:
 *  (a) no plaintext field element of any input, of the opened sum, or of any broadcast a party
 *      emitted (openings, commitments, MAC-check values, echoes) appears anywhere in them —
 *      in validated, linear-only and plaintext-baseline modes;
 *  (b) two members shown forked logs (different view hashes) abort with view-mismatch before
 *      any party message is sent;
 *  (c) a substituted peer kx key in one member's committee aborts with view-mismatch;
 *  (d) a silent relay (a member never joins, or nothing answers) ends the session with a
 *      named local timeout within stallMs / at deadlineMs, and the relay is told.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RoundAborted, runRelaySession } from "../../../client/agent/relay-session.ts";
import { generateNodeKeys } from "../../../protocol/crypto/identity.ts";
import { fieldByName } from "../../../protocol/field/index.ts";
import type { FieldVec } from "../../../protocol/field/types.ts";
import type { AggregationMode } from "../../../protocol/mascot/party.ts";
import { SecureSumParty } from "../../../protocol/mascot/party.ts";
import { cryptoRng, seededRng } from "../../../protocol/rng.ts";
import { freePort, startCoordinator, type LocalCoordinator } from "../../../scripts/lib/coordinator.ts";
import { distinctive, NeedleSet, newRound, rounds, startMember, type Member } from "./harness.ts";

let coord: LocalCoordinator;

beforeAll(async () => {
  coord = await startCoordinator({ apiToken: `relay-attacks-${Date.now()}`, vars: { ALLOW_PLAINTEXT_AGGREGATION: "1", LIVENESS_WINDOW_S: "600" } });
});
afterAll(async () => {
  await coord?.stop();
});

/** Settles every member's run; returns the outcomes in member order. */
async function settle(ms: Member[]): Promise<Array<{ ok: true; value: unknown } | { ok: false; error: unknown }>> {
  return Promise.all(ms.map((m) => m.run.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))));
}

function abortCode(r: { ok: boolean; error?: unknown }): string {
  if (r.ok) return "accepted";
  return r.error instanceof RoundAborted ? r.error.code : `error: ${(r.error as Error).message}`;
}

describe("the relay's bytes contain no plaintext", () => {
  for (const mode of ["validated", "linear-only", "plaintext"] as AggregationMode[]) {
    it(`${mode}: no input element, no element of the sum and no broadcast plaintext appears in any relayed frame`, async () => {
      const { nodes, assignments, length } = await newRound(coord, 3, mode);
      const field = fieldByName(assignments[0]!.manifest.field);
      // distinctive inputs: uniform 61-bit field elements (an accidental 8-byte match has probability ~2^-61 per offset)
      const inputs: FieldVec[] = assignments.map((a) => field.random(length, seededRng(`input-${a.jobId}-${a.index}`)));
      const members = assignments.map((a, i) => startMember(coord, nodes[i]!, a, inputs[i]!));
      const outcomes = await settle(members);
      expect(outcomes.map(abortCode)).toEqual(["accepted", "accepted", "accepted"]);
      const sum = members[0]!.party.result!.sum;
      expect(field.toBigInts(sum)).toEqual(field.toBigInts(inputs.reduce((acc, x) => field.add(acc, x))));

      const needles = new NeedleSet();
      const addVec = (v: FieldVec, label: string) => {
        const enc = field.encode(v);
        for (let k = 0; k + 8 <= enc.length; k += 8) needles.add(enc.subarray(k, k + 8), `${label}[${k / 8}]`);
      };
      inputs.forEach((x, i) => addVec(x, `input ${i}`));
      addVec(sum, "sum");
      let broadcastNeedles = 0;
      for (const m of members) {
        for (const b of m.broadcasts) {
          for (let k = 0; k + 8 <= b.payload.length; k += 8) {
            const w = b.payload.subarray(k, k + 8);
            if (distinctive(w)) { needles.add(w, `party ${m.index} ${b.phase} @${k}`); broadcastNeedles++; }
          }
        }
      }
      // the test is not vacuous: the parties did broadcast their openings, and there are frames to search
      const outputPhase = mode === "validated" ? "open.sum" : mode === "linear-only" ? "lin.open" : "plain.open";
      for (const m of members) expect(m.broadcasts.some((b) => b.phase === outputPhase)).toBe(true);
      expect(broadcastNeedles).toBeGreaterThan(0);
      // positive control: the search finds a needle where it is
      const own = members[1]!.broadcasts.find((b) => b.phase === outputPhase)!.payload;
      expect(needles.find(own).length).toBeGreaterThan(0);
      if (mode === "plaintext") expect(needles.find(field.encode(inputs[1]!)).map((f) => f.label)).toContain("input 1[0]");

      let frames = 0, bytes = 0;
      const found: string[] = [];
      for (const m of members) {
        expect(m.frames.some((f) => f.dir === "sent")).toBe(true);
        expect(m.frames.some((f) => f.dir === "received")).toBe(true);
        for (const f of m.frames) {
          frames++; bytes += f.bytes.length;
          for (const hit of needles.find(f.bytes)) found.push(`${hit.label} in a frame party ${m.index} ${f.dir} (offset ${hit.offset})`);
        }
      }
      expect(frames).toBeGreaterThan(6);
      expect(bytes).toBeGreaterThan(0);
      expect(found.slice(0, 10)).toEqual([]);
    });
  }
});

describe("view binding", () => {
  it("a forked log between committee members (different view hashes) aborts with view-mismatch before any party message", async () => {
    const { jobId, nodes, assignments, length } = await newRound(coord, 3, "linear-only");
    const field = fieldByName(assignments[0]!.manifest.field);
    const members = assignments.map((a, i) => startMember(coord, nodes[i]!, a, field.random(length, cryptoRng), {
      // member 1 was shown another log: its manifest entry hashes differently
      ...(a.index === 1 ? { ctx: (c) => ({ ...c, viewHash: cryptoRng.bytes(32) }) } : {}),
    }));
    const outcomes = await settle(members);
    expect(outcomes.map(abortCode)).toEqual(["view-mismatch", "view-mismatch", "view-mismatch"]);
    for (const m of members) {
      // only the view envelope ever left: no party message was sealed under the forked keys
      expect(m.frames.filter((f) => f.dir === "sent")).toHaveLength(1);
      expect(m.broadcasts).toEqual([]);
      expect(m.party.phase).toBe("init");
    }
    const rs = await rounds(coord, jobId);
    expect(rs[0]).toMatchObject({ status: "aborted", abort: { code: "view-mismatch", culprits: [] } });
  });

  it("a substituted peer key in one member's committee aborts with view-mismatch", async () => {
    const { jobId, nodes, assignments, length } = await newRound(coord, 3, "validated");
    const field = fieldByName(assignments[0]!.manifest.field);
    const mallory = generateNodeKeys(cryptoRng); // the coordinator's key, put in place of member 1's for member 0
    const members = assignments.map((a, i) => startMember(coord, nodes[i]!, a, field.random(length, cryptoRng), {
      ...(a.index === 0 ? { ctx: (c) => ({ ...c, committee: c.committee.map((m, j) => (j === 1 ? { ...m, kxPublicKey: mallory.kxPublicKey } : m)) }) } : {}),
    }));
    const outcomes = await settle(members);
    expect(outcomes.map(abortCode)).toEqual(["view-mismatch", "view-mismatch", "view-mismatch"]);
    // members 0 and 1 never start their parties; nothing but the view left them
    for (const m of members.filter((x) => x.index !== 2)) {
      expect(m.frames.filter((f) => f.dir === "sent")).toHaveLength(1);
      expect(m.party.phase).toBe("init");
    }
    const rs = await rounds(coord, jobId);
    expect(rs[0]).toMatchObject({ status: "aborted", abort: { code: "view-mismatch", culprits: [] } });
  });

  it("a low-order (unusable) peer key in one member's committee: it tells the relay, and the round aborts with view-mismatch", async () => {
    const { jobId, nodes, assignments, length } = await newRound(coord, 3, "linear-only");
    const field = fieldByName(assignments[0]!.manifest.field);
    const members = assignments.map((a, i) => startMember(coord, nodes[i]!, a, field.random(length, cryptoRng), {
      ...(a.index === 2 ? { ctx: (c) => ({ ...c, committee: c.committee.map((m, j) => (j === 0 ? { ...m, kxPublicKey: new Uint8Array(32) } : m)) }) } : {}),
    }));
    const outcomes = await settle(members);
    expect(outcomes.map(abortCode)).toEqual(["view-mismatch", "view-mismatch", "view-mismatch"]);
    expect(members.find((m) => m.index === 2)!.frames.filter((f) => f.dir === "sent")).toHaveLength(0);
    const rs = await rounds(coord, jobId);
    expect(rs[0]).toMatchObject({ status: "aborted", abort: { code: "view-mismatch", culprits: [] } });
  });
});

describe("optimistic relay verification: a bad signature is found by the recipients and settled by the relay", () => {
  it("a member whose envelopes carry a bad signature is named (bad-signature) by the relay on the honest recipients' disputes", async () => {
    const { jobId, nodes, assignments, length } = await newRound(coord, 3, "validated");
    const field = fieldByName(assignments[0]!.manifest.field);
    const culprit = assignments.find((a) => a.index === 2)!;
    const members = assignments.map((a, i) => startMember(coord, nodes[i]!, a, field.random(length, cryptoRng), {
      // member 2's first party message (after its view) goes out with a corrupted signature
      ...(a.index === 2 ? { opts: { tamperEnvelope: (e: Uint8Array, seq: number) => { if (seq !== 1) return e; const t = e.slice(); t[t.length - 1]! ^= 1; return t; } } } : {}),
    }));
    const outcomes = await settle(members);
    expect(outcomes.map(abortCode)).toEqual(["bad-signature", "bad-signature", "bad-signature"]);
    for (const o of outcomes) expect((o as { error: RoundAborted }).error.culprits).toEqual([2]);
    const rs = await rounds(coord, jobId);
    expect(rs[0]).toMatchObject({ status: "aborted", abort: { code: "bad-signature", culprits: [nodes[assignments.indexOf(culprit)]!.id] } });
  });
});

describe("local deadlines: a silent relay never makes a session hang", () => {
  it("a member that never joins: the others end within stallMs with a named timeout, and tell the relay", async () => {
    const { jobId, nodes, assignments, length } = await newRound(coord, 3, "linear-only");
    const field = fieldByName(assignments[0]!.manifest.field);
    const stallMs = 1500;
    const t0 = Date.now();
    const members = assignments.slice(0, 2).map((a, i) => startMember(coord, nodes[i]!, a, field.random(length, cryptoRng), { opts: { stallMs } }));
    const outcomes = await settle(members);
    const elapsed = Date.now() - t0;
    expect(outcomes.map(abortCode)).toEqual(["timeout", "timeout"]);
    const messages = outcomes.map((o) => (o.ok ? "" : (o.error as Error).message));
    expect(messages.some((msg) => /local deadline: no progress for 1500 ms/.test(msg))).toBe(true);
    expect(elapsed).toBeLessThan(stallMs + 8000);
    expect(elapsed).toBeGreaterThanOrEqual(stallMs);
    // the relay was told at once (it would otherwise wait for its own 60 s join deadline)
    const deadline = Date.now() + 10_000;
    let rs = await rounds(coord, jobId);
    while (rs[0]?.status !== "aborted" && Date.now() < deadline) { await new Promise((r) => setTimeout(r, 100)); rs = await rounds(coord, jobId); }
    expect(rs[0]).toMatchObject({ status: "aborted", abort: { code: "timeout" } });
    expect(rs[0]!.abort!.detail).toMatch(/no progress/);
  });

  it("the absolute deadline ends a session that would otherwise wait (stall guard far away)", async () => {
    const { nodes, assignments, length } = await newRound(coord, 3, "linear-only");
    const field = fieldByName(assignments[0]!.manifest.field);
    const t0 = Date.now();
    const [m] = [startMember(coord, nodes[0]!, assignments[0]!, field.random(length, cryptoRng), { opts: { deadlineMs: t0 + 1200, stallMs: 600_000 } })];
    const [outcome] = await settle([m!]);
    expect(abortCode(outcome!)).toBe("timeout");
    expect((outcome as { error: Error }).error.message).toMatch(/local deadline: finalize deadline passed/);
    expect(Date.now() - t0).toBeLessThan(6000);
  });

  it("an unreachable relay: the session keeps reconnecting (with backoff) and gives up only at its deadline, not at the stall guard", async () => {
    const port = await freePort();
    let attempts = 0;
    const refusing = net.createServer((s) => { attempts++; s.destroy(); }); // accepts TCP, then resets: the upgrade fails every time
    await new Promise<void>((r) => refusing.listen(port, "127.0.0.1", () => r()));
    const field = fieldByName("m61");
    const keys = generateNodeKeys(cryptoRng);
    const peer = generateNodeKeys(cryptoRng);
    const sessionId = cryptoRng.bytes(32);
    const party = new SecureSumParty({ field, parties: 2, me: 0, mode: "linear-only", length: 1, predicates: [], sessionId }, field.fromInts([1]), cryptoRng);
    const t0 = Date.now();
    const run = runRelaySession({
      coordinatorUrl: `http://127.0.0.1:${port}`, nodeId: "0".repeat(32), keys, field, party, stallMs: 300, deadlineMs: t0 + 2500,
      ctx: { jobId: "nojob", round: 0, attempt: 0, me: 0, sessionId, viewHash: cryptoRng.bytes(32),
        committee: [keys, peer].map((k, i) => ({ nodeId: String(i).repeat(32), identityPublicKey: k.identityPublicKey, kxPublicKey: k.kxPublicKey })) },
    });
    try {
      await expect(run).rejects.toMatchObject({ name: "RoundAborted", code: "timeout", message: expect.stringMatching(/finalize deadline passed/) });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2500);
      expect(Date.now() - t0).toBeLessThan(6000);
      expect(attempts).toBeGreaterThanOrEqual(3); // it kept trying, backing off
    } finally {
      refusing.close();
    }
  });

  it("refuses a malformed view hash up front", async () => {
    const field = fieldByName("m61");
    const keys = generateNodeKeys(cryptoRng);
    const sessionId = cryptoRng.bytes(32);
    const party = new SecureSumParty({ field, parties: 2, me: 0, mode: "linear-only", length: 1, predicates: [], sessionId }, field.fromInts([1]), cryptoRng);
    await expect(runRelaySession({
      coordinatorUrl: "http://127.0.0.1:1", nodeId: "0".repeat(32), keys, field, party,
      ctx: { jobId: "j", round: 0, attempt: 0, me: 0, sessionId, viewHash: new Uint8Array(16), committee: [] },
    })).rejects.toThrow(RangeError);
  });
});
