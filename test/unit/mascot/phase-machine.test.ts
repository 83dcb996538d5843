/**
 * The strict phase machine, tested over every (position, phase) pair: replaying the honest
 * peer's real message stream into a fresh party up to position k, then delivering a message
 * of any other phase (with the right seq) must abort with "unexpected-message"; the right
 * one with a stale seq must abort with "replay", and a skipped seq with "unexpected-message".
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { SecureSumParty, type AggregationMode, type InboundMessage } from "../../../protocol/mascot/party.ts";
import { runNetwork } from "../../../protocol/mascot/testing/transport.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { SID, dealer } from "./helpers.ts";

const ALL_PHASES = ["lin.seed", "lin.commit", "lin.open", "offline.setup1", "input.seed", "input.cope", "coin.commit", "coin.open",
  "input.y", "input.mask", "open.sum", "valid.open", "maccheck.commit", "maccheck.open", "echo", "offline.0.kos", "bogus"];

function make(mode: AggregationMode, me: number): SecureSumParty {
  const x = m61.fromInts([1, 0, 1]);
  return new SecureSumParty({ field: m61, parties: 2, me, mode, length: 3, predicates: [], sessionId: SID }, x, seededRng(`pm/${me}`),
    mode === "validated" ? { offline: dealer(m61, 2, me, "pm") } : {});
}

function code(f: () => unknown): string {
  try { f(); return "no-throw"; } catch (e) { return e instanceof ProtocolAbort ? e.code : `other:${String(e)}`; }
}

describe("phase machine: every (position, phase) pair", () => {
  for (const mode of ["linear-only", "validated"] as const) {
    it(mode, () => {
      // Record what party 1 sends to party 0 in an honest run.
      const stream: InboundMessage[] = [];
      const parties = [make(mode, 0), make(mode, 1)];
      runNetwork(parties, { tamper: (e) => { if (e.from === 1) stream.push({ from: 1, phase: e.phase, seq: e.seq, payload: e.payload }); return e; } });
      expect(parties[0]!.done).toBe(true);
      let checked = 0;
      for (let k = 0; k < stream.length; k++) {
        const fresh = () => { const p = make(mode, 0); p.start(); for (let j = 0; j < k; j++) p.receive(stream[j]!); return p; };
        for (const phase of ALL_PHASES) {
          if (phase === stream[k]!.phase) continue;
          const p = fresh();
          expect(code(() => p.receive({ ...stream[k]!, phase }))).toBe("unexpected-message");
          expect(p.phase).toBe("aborted");
          checked++;
        }
        if (k > 0) expect(code(() => fresh().receive({ ...stream[k]!, seq: k - 1 }))).toBe("replay");
        expect(code(() => fresh().receive({ ...stream[k]!, seq: k + 1 }))).toBe("unexpected-message");
      }
      // After the last message the party is done and rejects anything further without losing its result.
      const done = make(mode, 0); done.start(); for (const m of stream) done.receive(m);
      expect(done.done).toBe(true);
      expect(code(() => done.receive({ ...stream[0]!, seq: stream.length }))).toBe("unexpected-message");
      expect(done.result).toBeDefined();
      expect(checked).toBeGreaterThan(30);
    });
  }
});
