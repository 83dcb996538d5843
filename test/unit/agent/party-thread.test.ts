/**
 * The agent's party thread (client/agent/party-thread.ts): a validated secure sum whose
 * parties run in worker threads gives the same sum as the protocol in process; a protocol
 * abort in the thread reaches the caller as the same ProtocolAbort (code, culprits); a thread
 * that dies fails the pending call; and — the reason it exists — the caller's event loop keeps
 * running while a party computes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import type { OutboundMessage, SecureSumConfig } from "../../../protocol/mascot/party.ts";
import { PartyThread, type ThreadParty } from "../../../client/agent/party-thread.ts";
import { deliverAsync, plainSum, randInputs } from "../mascot/helpers.ts";

const threads: PartyThread[] = [];
afterEach(async () => { await Promise.all(threads.splice(0).map((t) => t.close())); });

/** Runs the parties to the end ({@link deliverAsync}) while a 5 ms timer counts how often this thread's event loop got to run. */
async function runThreaded(parties: ThreadParty[], tamper?: (from: number, m: OutboundMessage) => OutboundMessage): Promise<{ errors: unknown[]; ticks: number; ms: number }> {
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 5);
  const t0 = Date.now();
  try {
    const errors = await deliverAsync(parties, tamper);
    return { errors, ticks, ms: Date.now() - t0 };
  } finally {
    clearInterval(timer);
  }
}

async function threadedParties(n: number, inputs: ReturnType<typeof randInputs>, cfg: Omit<SecureSumConfig, "field" | "parties" | "me" | "length">): Promise<ThreadParty[]> {
  const committee = Array.from({ length: n }, (_, i) => `node-${i}`);
  return Promise.all(inputs.map((x, me) => {
    const t = new PartyThread();
    threads.push(t);
    return t.party({ field: m61, parties: n, me, length: x.length, ...cfg }, x, committee);
  }));
}

describe("party thread", () => {
  it("a validated sum in threads equals the plaintext sum, and the caller's event loop keeps running", async () => {
    const inputs = randInputs(m61, 3, 64, "pt", 200);
    const parties = await threadedParties(3, inputs, { mode: "validated", predicates: [{ kind: "range", bits: 8 }], sessionId: new Uint8Array([1, 2, 3]) });
    const { errors, ticks, ms } = await runThreaded(parties);
    expect(errors).toEqual([undefined, undefined, undefined]);
    for (const p of parties) {
      expect(p.done).toBe(true);
      expect(p.outputReleased).toBe(true);
      expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs));
      expect(p.result!.excluded).toEqual([]);
    }
    expect(parties[1]!.result!.transcriptHash).toEqual(parties[0]!.result!.transcriptHash);
    // The 5 ms timer fired through the run: at least a third of the ticks a free loop would see.
    expect(ticks).toBeGreaterThan(ms / 5 / 3);
  }, 120_000);

  it("TWOPM_BASE_OT_MAX_USES=0: a second session with the same peers runs fresh base OTs; by default it reuses them", async () => {
    /**
     * setup2 payload sizes of two sessions on the same threads: ≥ 4 KiB = a fresh base-OT answer
     * (φ_1..φ_128; a new pair runs one direction on public-key base OTs, the other derived, whose
     * setup2 is empty), a few bytes = "reuse".
     */
    const setup2Sizes = async (): Promise<number[][]> => {
      const ts = [new PartyThread(), new PartyThread()];
      threads.push(...ts);
      const committee = ["node-a", "node-b"];
      const sizes: number[][] = [];
      for (const sid of [7, 8]) {
        const inputs = randInputs(m61, 2, 16, `reuse-${sid}`, 200);
        const parties = await Promise.all(inputs.map((x, me) => ts[me]!.party({ field: m61, parties: 2, me, length: x.length, mode: "validated", predicates: [], sessionId: new Uint8Array([sid]) }, x, committee)));
        const seen: number[] = [];
        const errors = await deliverAsync(parties, (_from, m) => { if (m.phase === "offline.setup2") seen.push(m.payload.length); return m; });
        expect(errors).toEqual([undefined, undefined]);
        sizes.push(seen);
      }
      return sizes;
    };
    const kept = await setup2Sizes();
    expect(Math.max(...kept[0]!)).toBeGreaterThanOrEqual(4096);
    expect(Math.max(...kept[1]!)).toBeLessThan(64);
    process.env.TWOPM_BASE_OT_MAX_USES = "0"; // read by the party thread when it starts
    try {
      const fresh = await setup2Sizes();
      for (const session of fresh) expect(Math.max(...session)).toBeGreaterThanOrEqual(4096);
    } finally {
      delete process.env.TWOPM_BASE_OT_MAX_USES;
    }
  }, 120_000);

  it("warm() runs a sum inside the thread and keeps nothing: the first real session after it still runs fresh base OTs and sums right", async () => {
    const ts = [new PartyThread(), new PartyThread()];
    threads.push(...ts);
    await Promise.all(ts.map((t) => t.warm()));
    const inputs = randInputs(m61, 2, 16, "after-warm", 200);
    const parties = await Promise.all(inputs.map((x, me) => ts[me]!.party({ field: m61, parties: 2, me, length: x.length, mode: "validated", predicates: [{ kind: "range", bits: 8 }], sessionId: new Uint8Array([9]) }, x, ["warm-up-0", "warm-up-1"])));
    const setup2: number[] = [];
    const errors = await deliverAsync(parties, (_from, m) => { if (m.phase === "offline.setup2") setup2.push(m.payload.length); return m; });
    expect(errors).toEqual([undefined, undefined]);
    expect(m61.toBigInts(parties[0]!.result!.sum)).toEqual(plainSum(m61, inputs));
    expect(Math.max(...setup2)).toBeGreaterThanOrEqual(4096); // fresh base-OT answers: the warm-up's base OTs were not kept under its committee ids
  }, 120_000);

  it("prepares base-OT receiver halves only while the agent is idle: an assignment stops it within one chunk, a first meeting as base-OT receiver takes 128, idle again refills", async () => {
    const before = process.env.TWOPM_BASE_OT_PREPARE_DELAY_MS;
    process.env.TWOPM_BASE_OT_PREPARE_DELAY_MS = "0"; // the threads read it when they start
    const ts = [new PartyThread(), new PartyThread()];
    if (before === undefined) delete process.env.TWOPM_BASE_OT_PREPARE_DELAY_MS; else process.env.TWOPM_BASE_OT_PREPARE_DELAY_MS = before;
    threads.push(...ts);
    await Promise.all(ts.map((t) => t.warm())); // the threads start preparing after the warm-up
    const deadline = Date.now() + 60_000;
    while ((await ts[0]!.setIdle(true)) < 256 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const n1 = await ts[0]!.setIdle(false); // an assignment arrived
    expect(n1).toBeGreaterThanOrEqual(256);
    await new Promise((r) => setTimeout(r, 400));
    const n2 = await ts[0]!.setIdle(false);
    expect(n2 - n1).toBeLessThanOrEqual(32); // at most the chunk that was under way
    await new Promise((r) => setTimeout(r, 400));
    expect(await ts[0]!.setIdle(false)).toBe(n2); // stopped
    await ts[1]!.setIdle(false);
    const inputs = randInputs(m61, 2, 16, "prepared", 200);
    const parties = await Promise.all(inputs.map((x, me) => ts[me]!.party({ field: m61, parties: 2, me, length: x.length, mode: "validated", predicates: [{ kind: "range", bits: 8 }], sessionId: new Uint8Array([7]) }, x, ["prep-0", "prep-1"])));
    expect(await deliverAsync(parties)).toEqual([undefined, undefined]);
    expect(m61.toBigInts(parties[0]!.result!.sum)).toEqual(plainSum(m61, inputs));
    await Promise.all(parties.map((p) => p.dispose()));
    expect(await ts[0]!.setIdle(false)).toBe(n2 - 128); // party 0 was the pair's base-OT receiver
    await ts[0]!.setIdle(true);
    while ((await ts[0]!.setIdle(true)) <= n2 - 128 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await ts[0]!.setIdle(true)).toBeGreaterThan(n2 - 128);
  }, 120_000);

  it("a protocol abort in the thread arrives as the same ProtocolAbort", async () => {
    const inputs = randInputs(m61, 2, 8, "pu", 200);
    const parties = await threadedParties(2, inputs, { mode: "validated", predicates: [{ kind: "bits" }], sessionId: new Uint8Array([4]) });
    let flipped = false;
    const { errors } = await runThreaded(parties, (from, m) => {
      if (!flipped && from === 1 && m.phase === "offline.setup3" && m.payload.length > 40) {
        flipped = true;
        // Every byte inverted: a single flipped bit is harmless whenever the receiver's Δ bit it
        // meets is 0 (MASCOT's selective-failure leak), and the thread's randomness is not seeded.
        const p = m.payload.map((b) => b ^ 0xff);
        return { ...m, payload: p };
      }
      return m;
    });
    expect(flipped).toBe(true);
    const aborts = errors.filter((e): e is ProtocolAbort => e instanceof ProtocolAbort);
    expect(aborts.length).toBeGreaterThan(0);
    expect(aborts[0]!.message).toMatch(/^protocol abort \(/);
    expect(parties.some((p) => p.done)).toBe(false);
  }, 120_000);

  it("a bad configuration is refused by the party's own checks", async () => {
    const t = new PartyThread();
    threads.push(t);
    await expect(t.party({ field: m61, parties: 2, me: 5, mode: "validated", length: 1, predicates: [], sessionId: new Uint8Array([1]) }, m61.fromInts([1]), ["a", "b"])).rejects.toThrow(/party thread: .*me/i);
  });

  it("a thread that dies fails the pending call instead of hanging", async () => {
    const inputs = randInputs(m61, 2, 4, "pv", 200);
    const t = new PartyThread();
    threads.push(t);
    const p = await t.party({ field: m61, parties: 2, me: 0, mode: "validated", length: 4, predicates: [], sessionId: new Uint8Array([9]) }, inputs[0]!, ["a", "b"]);
    const pending = p.start().then(() => p.receiveAsync({ from: 1, phase: "never", seq: 0, payload: new Uint8Array(0) }));
    const closing = t.close();
    await expect(pending).rejects.toThrow(/party thread/);
    await closing;
  });

  it("starts (loads the protocol modules) at construction unless told not to, so the first round does not pay for it", async () => {
    const warm = new PartyThread(), cold = new PartyThread({ warm: false });
    threads.push(warm, cold);
    const workerOf = (t: PartyThread) => (t as unknown as { worker?: unknown }).worker;
    expect(workerOf(warm)).toBeDefined();
    expect(workerOf(cold)).toBeUndefined();
    await warm.forget(["x"]); // the warm thread answers without being started again
    expect(workerOf(warm)).toBeDefined();
  });
});
