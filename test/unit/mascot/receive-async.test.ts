/**
 * SecureSumParty.receiveAsync (the node agent's path: offline messages through WebCrypto
 * AES) gives the same result and transcript as the sync path, and a cheater is still caught.
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import type { OutboundMessage, SecureSumParty } from "../../../protocol/mascot/party.ts";
import { makeParties, plainSum, randInputs, run } from "./helpers.ts";

/** Delivers messages one at a time in FIFO order, awaiting receiveAsync; returns per-party errors. */
async function runAsync(parties: SecureSumParty[], tamper?: (from: number, m: OutboundMessage) => OutboundMessage): Promise<Array<unknown>> {
  const n = parties.length;
  const seq = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const queue: Array<{ to: number; from: number; m: OutboundMessage }> = [];
  const errors: unknown[] = new Array(n).fill(undefined);
  const post = (from: number, out: OutboundMessage[]) => {
    for (const raw of out) {
      const m = tamper ? tamper(from, raw) : raw;
      const to = m.to === "all" ? [...Array(n).keys()].filter((j) => j !== from) : [m.to];
      for (const t of to) queue.push({ to: t, from, m });
    }
  };
  parties.forEach((p, i) => post(i, p.start()));
  while (queue.length) {
    const { to, from, m } = queue.shift()!;
    if (errors[to] !== undefined) continue;
    try {
      post(to, await parties[to]!.receiveAsync({ from, phase: m.phase, payload: m.payload, seq: seq[to]![from]!++ }));
    } catch (e) {
      errors[to] = e;
    }
  }
  return errors;
}

describe("receiveAsync", () => {
  it("validated sum with range predicates: same sum and transcript hash as the sync path", async () => {
    const inputs = randInputs(m61, 3, 6, "ra", 200);
    const opts = { n: 3, inputs, mode: "validated" as const, predicates: [{ kind: "range" as const, bits: 8 }], seed: "ra" };
    const sync = run(opts).parties;
    const asyncParties = makeParties(opts);
    const errors = await runAsync(asyncParties);
    expect(errors.every((e) => e === undefined)).toBe(true);
    for (const [i, p] of asyncParties.entries()) {
      expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs));
      expect(p.result!.transcriptHash).toEqual(sync[i]!.result!.transcriptHash);
    }
  }, 120_000);

  it("a tampered offline message still aborts the round", async () => {
    const inputs = randInputs(m61, 2, 4, "rb", 200);
    const parties = makeParties({ n: 2, inputs, mode: "validated", predicates: [{ kind: "bits" }], seed: "rb" });
    let flipped = false;
    const errors = await runAsync(parties, (from, m) => {
      if (!flipped && from === 1 && m.phase.startsWith("offline.") && m.phase.endsWith(".cope") && m.payload.length > 40) {
        flipped = true;
        const p = m.payload.slice();
        p[40]! ^= 1;
        return { ...m, payload: p };
      }
      return m;
    });
    expect(flipped).toBe(true);
    expect(errors.some((e) => e instanceof ProtocolAbort)).toBe(true);
    expect(parties.some((p) => p.done)).toBe(false); // nobody outputs a sum
  }, 120_000);
});
