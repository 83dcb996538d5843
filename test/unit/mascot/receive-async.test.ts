/**
 * SecureSumParty.receiveAsync (the node agent's path: offline messages through WebCrypto
 * AES) gives the same result and transcript as the sync path, and a cheater is still caught.
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { setNativeAesCtr } from "../../../protocol/mascot/prg.ts";
import { nodeAesCtr, uninstallNodeAes } from "../../../client/agent/party-aes.ts";
import { deliverAsync, makeParties, plainSum, randInputs, run } from "./helpers.ts";

// The portable path is compared here: not the node project's node:crypto setup
// (test/unit/native-crypto.setup.ts).
uninstallNodeAes();

describe("receiveAsync", () => {
  it("validated sum with range predicates: same sum and transcript hash as the sync path", async () => {
    const inputs = randInputs(m61, 3, 6, "ra", 200);
    const opts = { n: 3, inputs, mode: "validated" as const, predicates: [{ kind: "range" as const, bits: 8 }], seed: "ra" };
    const sync = run(opts).parties;
    const asyncParties = makeParties(opts);
    const errors = await deliverAsync(asyncParties);
    expect(errors.every((e) => e === undefined)).toBe(true);
    for (const [i, p] of asyncParties.entries()) {
      expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs));
      expect(p.result!.transcriptHash).toEqual(sync[i]!.result!.transcriptHash);
    }
  }, 120_000);

  it("with node:crypto AES for the PRG streams (the party thread's setting): same sum and transcript hash", async () => {
    const inputs = randInputs(m61, 3, 6, "rn", 200);
    const opts = { n: 3, inputs, mode: "validated" as const, predicates: [{ kind: "range" as const, bits: 8 }], seed: "rn" };
    const sync = run(opts).parties;
    setNativeAesCtr(nodeAesCtr);
    try {
      const parties = makeParties(opts);
      const errors = await deliverAsync(parties);
      expect(errors.every((e) => e === undefined)).toBe(true);
      for (const [i, p] of parties.entries()) {
        expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs));
        expect(p.result!.transcriptHash).toEqual(sync[i]!.result!.transcriptHash);
      }
    } finally {
      setNativeAesCtr(undefined);
    }
  }, 120_000);

  it("a tampered offline message still aborts the round", async () => {
    const inputs = randInputs(m61, 2, 4, "rb", 200);
    const parties = makeParties({ n: 2, inputs, mode: "validated", predicates: [{ kind: "bits" }], seed: "rb" });
    let flipped = false;
    const errors = await deliverAsync(parties, (from, m) => {
      if (!flipped && from === 1 && m.phase === "offline.setup3" && m.payload.length > 40) {
        flipped = true;
        const p = m.payload.slice();
        p[40]! ^= 1; // setup3 starts with SoftSpokenOT's GGM-tree setup: both halves of one
        p[56]! ^= 1; // correction, so whichever choice bit picks it is wrong
        return { ...m, payload: p };
      }
      return m;
    });
    expect(flipped).toBe(true);
    expect(errors.some((e) => e instanceof ProtocolAbort)).toBe(true);
    expect(parties.some((p) => p.done)).toBe(false); // nobody outputs a sum
  }, 120_000);
});
