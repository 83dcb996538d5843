/**
 * Fault 1 of issue 15: a node always comes back. Three real parties run through
 * runRelaySession against the real local coordinator, but reach its relay through a TCP proxy
 * this test controls. The proxy refuses connections for ~3 s (its listener closed, every open
 * connection reset) — at the start of the round and again in the middle of it — and then
 * listens again on the same port. Node 22's WebSocket fires only `error` (no `close`) on a
 * refused connection, so a session that reconnected only on `close` stayed stuck; every
 * session must resume and the round must be accepted with the right sum.
 */
import net from "node:net";
import path from "node:path";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { NodeAgent, type AgentEvent } from "../../../client/agent/agent.ts";
import { Ledger, memoryLedgerStore } from "../../../client/agent/ledger.ts";
import { NodePolicySchema } from "../../../client/agent/policy.ts";
import { datasetCommitment } from "../../../client/data/commitment.ts";
import { parseData } from "../../../client/data/parse.ts";
import { generateNodeKeys, identityPublicKey } from "../../../protocol/crypto/identity.ts";
import { parseDatasetSchema } from "../../../protocol/stats/schema.ts";
import { toHex } from "../../../protocol/encoding.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconnectDelay, RoundAborted } from "../../../client/agent/relay-session.ts";
import { fieldByName } from "../../../protocol/field/index.ts";
import { cryptoRng, seededRng } from "../../../protocol/rng.ts";
import { freePort, startCoordinator, type LocalCoordinator } from "../../../scripts/lib/coordinator.ts";
import { newRound, startMember, type Member } from "./harness.ts";

/** A TCP proxy to `target` that can refuse connections for a while (listener closed, sockets reset). */
class FlakyProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  connections = 0;
  constructor(readonly port: number, private readonly targetPort: number) {}
  get url(): string { return `http://127.0.0.1:${this.port}`; }
  async up(): Promise<void> {
    const server = net.createServer((client) => {
      this.connections++;
      const upstream = net.connect(this.targetPort, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(this.port, "127.0.0.1", () => resolve()); });
    this.server = server;
  }
  /** Stops listening (new connections are refused) and resets every open connection. */
  async down(): Promise<void> {
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

let coord: LocalCoordinator;
beforeAll(async () => {
  // A 20 s progress timeout (the deployed default is 10 s): these tests are about coming back,
  // and their three parties compute on this test's one thread, so a party's pings wait for the
  // others' steps (a node process computes in a worker thread and keeps pinging). A member
  // that never resumes still fails them (the 40–60 s local deadlines). The fast naming of a
  // stalled member is tested with 8 s in stalled-member.test.ts.
  coord = await startCoordinator({ apiToken: `reconnect-${Date.now()}`, vars: { LIVENESS_WINDOW_S: "600", ROUND_PROGRESS_TIMEOUT_MS: "20000" } });
});
afterAll(async () => {
  await coord?.stop();
});

async function outcomes(ms: Member[]): Promise<string[]> {
  return Promise.all(ms.map((m) => m.run.then(() => "accepted", (e: unknown) => (e instanceof RoundAborted ? e.code : `error: ${(e as Error).message}`))));
}

describe("reconnect backoff", () => {
  it("grows exponentially from the base, is capped, and is jittered within [d/2, d)", () => {
    const rng = seededRng("backoff");
    for (let a = 1; a <= 12; a++) {
      const d = Math.min(2000, 200 * 2 ** (a - 1));
      for (let k = 0; k < 20; k++) {
        const x = reconnectDelay(a, rng);
        expect(x).toBeGreaterThanOrEqual(d / 2);
        expect(x).toBeLessThanOrEqual(d);
      }
    }
    const spread = new Set(Array.from({ length: 20 }, () => reconnectDelay(5, rng)));
    expect(spread.size).toBeGreaterThan(10);
    expect(() => reconnectDelay(0, rng)).toThrow(RangeError);
  });
});

describe("a node always comes back after the coordinator refuses connections for 3 s", () => {
  it("sessions started while the relay refuses connections join once it is back, and the round is accepted", async () => {
    const proxy = new FlakyProxy(await freePort(), Number(new URL(coord.url).port));
    const { nodes, assignments, length } = await newRound(coord, 3, "linear-only");
    const field = fieldByName(assignments[0]!.manifest.field);
    const inputs = assignments.map((_, i) => field.fromInts(Array.from({ length }, (_, j) => i + j)));
    const local = { url: proxy.url, apiToken: coord.apiToken } as LocalCoordinator;
    const deadlineMs = Date.now() + 40_000; // on a session that never reconnects this is where it ends
    const members = assignments.map((a, i) => startMember(local, nodes[i]!, a, inputs[i]!, { opts: { deadlineMs, rng: cryptoRng } }));
    await new Promise((r) => setTimeout(r, 3000));
    await proxy.up();
    try {
      expect(await outcomes(members)).toEqual(["accepted", "accepted", "accepted"]);
    } finally {
      await proxy.down();
    }
    expect(field.toBigInts(members[0]!.party.result!.sum)).toEqual(field.toBigInts(inputs.reduce((acc, x) => field.add(acc, x))));
  });

  it("a 3 s outage in the middle of the round (connections reset, then refused) is survived: every session resumes and the round is accepted", async () => {
    const proxy = new FlakyProxy(await freePort(), Number(new URL(coord.url).port));
    await proxy.up();
    const { nodes, assignments, length } = await newRound(coord, 3, "validated");
    const field = fieldByName(assignments[0]!.manifest.field);
    const inputs = assignments.map((_, i) => field.fromInts(Array.from({ length }, (_, j) => 2 * i + j)));
    const local = { url: proxy.url, apiToken: coord.apiToken } as LocalCoordinator;
    const deadlineMs = Date.now() + 60_000;
    let cut: Promise<void> | undefined;
    const members = assignments.map((a, i) => startMember(local, nodes[i]!, a, inputs[i]!, {
      opts: {
        deadlineMs,
        rng: cryptoRng,
        // Cut everyone off once member 0's party is past its first phase.
        onPhase: (p) => {
          if (i === 0 && !cut && p !== "" && p !== "init") {
            cut = (async () => { await proxy.down(); await new Promise((r) => setTimeout(r, 3000)); await proxy.up(); })();
          }
        },
      },
    }));
    try {
      expect(await outcomes(members)).toEqual(["accepted", "accepted", "accepted"]);
      expect(cut).toBeDefined();
    } finally {
      await cut;
      await proxy.down();
    }
    expect(proxy.connections).toBeGreaterThan(3); // everyone reconnected
    expect(field.toBigInts(members[0]!.party.result!.sum)).toEqual(field.toBigInts(inputs.reduce((acc, x) => field.add(acc, x))));
  });
});

describe("the node agent survives a coordinator that is away", () => {
  it("started while the coordinator refuses connections, it registers once it is back; heartbeats resume after a second outage", async () => {
    const proxy = new FlakyProxy(await freePort(), Number(new URL(coord.url).port));
    const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");
    const schema = parseDatasetSchema(JSON.parse(readFileSync(path.join(ROOT, "examples/schemas/adult.json"), "utf8")), "adult.json");
    const text = readFileSync(path.join(ROOT, "examples/data/adult-test.csv"), "utf8").split("\n").slice(0, 20).join("\n");
    const rows = parseData(text, schema, "csv", { file: "adult-test.csv" });
    const events: AgentEvent[] = [];
    const agent = new NodeAgent({
      coordinatorUrl: proxy.url, keys: generateNodeKeys(), datasets: [{ source: "adult-test.csv", schema, rows, commitment: datasetCommitment(schema, rows) }],
      heartbeatSeconds: 1, onEvent: (e) => events.push(e),
      host: { capabilities: { cores: 2, memoryMb: 4096, bandwidthMbps: 100 }, conditions: () => ({ load: 0, freeMemoryMb: 1000, onBattery: false, online: true }), coordinatorKey: async () => identityPublicKey(cryptoRng.bytes(32)) },
      policy: NodePolicySchema.parse({ submitters: [] }), ledger: await Ledger.open(memoryLedgerStore()),
    });
    const running = agent.run();
    const lastSeen = async () => {
      const r = await fetch(`${coord.url}/v1/nodes/${agent.client.nodeId}`, { headers: { authorization: `Bearer ${coord.apiToken}` } });
      return r.status === 200 ? ((await r.json()) as { node: { lastSeen: number } }).node.lastSeen : 0;
    };
    try {
      await new Promise((r) => setTimeout(r, 3000));
      expect(events.some((e) => e.kind === "registered")).toBe(false);
      await proxy.up();
      await expect.poll(() => events.some((e) => e.kind === "registered"), { timeout: 10_000 }).toBe(true);
      await expect.poll(lastSeen, { timeout: 10_000 }).toBeGreaterThan(0);
      await proxy.down();
      await new Promise((r) => setTimeout(r, 3000));
      const before = await lastSeen();
      await proxy.up();
      await expect.poll(lastSeen, { timeout: 10_000 }).toBeGreaterThan(before);
    } finally {
      await agent.stop(false);
      await proxy.down();
      await running.catch(() => undefined);
    }
  });
});

describe("the node agent does not retry what is not a transport failure", () => {
  it("a changed pinned coordinator key ends run() at once", async () => {
    const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");
    const schema = parseDatasetSchema(JSON.parse(readFileSync(path.join(ROOT, "examples/schemas/adult.json"), "utf8")), "adult.json");
    const rows = parseData(readFileSync(path.join(ROOT, "examples/data/adult-test.csv"), "utf8").split("\n").slice(0, 5).join("\n"), schema, "csv", { file: "adult-test.csv" });
    const agent = new NodeAgent({
      coordinatorUrl: coord.url, keys: generateNodeKeys(), datasets: [{ source: "adult-test.csv", schema, rows, commitment: datasetCommitment(schema, rows) }],
      heartbeatSeconds: 60, onEvent: () => undefined,
      host: { capabilities: { cores: 2, memoryMb: 4096, bandwidthMbps: 100 }, conditions: () => ({ load: 0, freeMemoryMb: 1000, onBattery: false, online: true }), coordinatorKey: async () => { throw new Error("the coordinator's log key changed since it was pinned"); } },
      policy: NodePolicySchema.parse({ submitters: [] }), ledger: await Ledger.open(memoryLedgerStore()),
    });
    const t0 = Date.now();
    await expect(agent.run()).rejects.toThrow(/log key changed/);
    expect(Date.now() - t0).toBeLessThan(5000);
    await agent.stop(false);
  });
});

describe("the coordinator killed and restarted mid-round (same state, same port)", () => {
  it("every session reconnects to the restarted coordinator, resumes, and the round is accepted with no one blamed", async () => {
    const persistDir = mkdtempSync(path.join(os.tmpdir(), "2pm-restart-"));
    const port = await freePort();
    const opts = { apiToken: `restart-${Date.now()}`, persistDir, port, signingKeyHex: toHex(cryptoRng.bytes(32)), vars: { LIVENESS_WINDOW_S: "600" } };
    let c = await startCoordinator(opts);
    try {
      const { jobId, nodes, assignments, length } = await newRound(c, 3, "validated");
      const field = fieldByName(assignments[0]!.manifest.field);
      const inputs = assignments.map((_, i) => field.fromInts(Array.from({ length }, (_, j) => 3 * i + j)));
      let restart: Promise<void> | undefined;
      let midRound = false;
      const members: Member[] = assignments.map((a, i) => startMember(c, nodes[i]!, a, inputs[i]!, {
        opts: {
          rng: cryptoRng,
          deadlineMs: Date.now() + 240_000,
          onPhase: (p) => {
            if (i === 0 && !restart && p !== "" && p !== "init") {
              restart = (async () => {
                midRound = members.every((m) => m.elapsedMs === undefined);
                await c.stop();
                c = await startCoordinator(opts);
              })();
            }
          },
        },
      }));
      expect(await outcomes(members)).toEqual(["accepted", "accepted", "accepted"]);
      await restart;
      expect(midRound).toBe(true);
      expect(field.toBigInts(members[0]!.party.result!.sum)).toEqual(field.toBigInts(inputs.reduce((acc, x) => field.add(acc, x))));
      const r = await fetch(`${c.url}/v1/jobs/${jobId}/rounds`, { headers: { authorization: `Bearer ${c.apiToken}` } });
      const rs = ((await r.json()) as { rounds: Array<{ status: string; abort?: unknown }> }).rounds;
      expect(rs.map((x) => x.status)).toEqual(["accepted"]);
    } finally {
      await c.stop();
      rmSync(persistDir, { recursive: true, force: true });
    }
  }, 300_000);
});
