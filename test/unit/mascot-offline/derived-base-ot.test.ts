/**
 * Public-key base OTs in one direction per pair (offline.ts `derivedBaseOts`, default): the
 * extension with the lower party index as sender runs on MRR21 base OTs; the other
 * direction's κ base OTs are κ extra OTs of that extension (the higher party chooses with
 * its fresh Δ'), and its setup rides ahead of batch 0's extension message. Same triples as
 * both directions public-key; half the public-key messages; the derived direction's checks
 * (tampered or short setup, inconsistent choice bits, stray messages) still fire.
 */
import { describe, expect, it } from "vitest";
import { m61, type Field } from "../../../protocol/field/index.ts";
import { OfflineParty, type OfflineConfig, type OfflineInbound } from "../../../protocol/mascot/offline.ts";
import { offlineParty, type OfflineCheat } from "../../../protocol/mascot/testing/cheating-offline.ts";
import { runOfflineInMemory, runOfflineInMemoryAsync } from "../../../protocol/mascot/testing/transport.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { utf8 } from "../../../protocol/encoding.ts";

type Opts = Pick<OfflineConfig, "softspokenK" | "derivedBaseOts">;

function mk(n: number, count: number, opts: Opts, seed: string, cheat?: { who: number; cheat: OfflineCheat }): OfflineParty[] {
  return [...Array(n).keys()].map((me) => offlineParty({ field: m61, parties: n, me, sessionId: utf8(`derived/${seed}`), count, batchSize: 4, ...opts },
    seededRng(`${seed}/${me}`), me === cheat?.who ? { cheat: cheat.cheat } : {}));
}

function checkTriples(F: Field, r: ReturnType<typeof runOfflineInMemory>, count: number): void {
  const alpha = r.alphas.reduce((s, a) => s + a, 0n) % F.p;
  const open = (k: "a" | "b" | "c", w: "value" | "mac") => r.triples.reduce((acc, t) => F.add(acc, t[k][w]), F.zeros(count));
  expect(F.toBigInts(open("c", "value"))).toEqual(F.toBigInts(F.mul(open("a", "value"), open("b", "value"))));
  for (const k of ["a", "b", "c"] as const) expect(F.toBigInts(open(k, "mac"))).toEqual(F.toBigInts(F.scale(open(k, "value"), alpha)));
}

const abortCode = (f: () => unknown) => { try { f(); return "no-throw"; } catch (e) { return e instanceof ProtocolAbort ? `${e.code}:${e.culprits.join(",")}` : `other:${String(e)}`; } };

/** FIFO delivery with a tamper hook; returns the payloads seen per phase. */
function drive(parties: OfflineParty[], tamper: (m: OfflineInbound, to: number) => OfflineInbound = (m) => m): Map<string, number[]> {
  const n = parties.length, seen = new Map<string, number[]>();
  const q: Array<{ to: number; m: OfflineInbound }> = [];
  const seq = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const post = (from: number, outs: ReturnType<OfflineParty["start"]>) => {
    for (const o of outs) for (const to of o.to === "all" ? [...Array(n).keys()].filter((j) => j !== from) : [o.to]) {
      const key = `${o.phase} ${from}→${to}`;
      seen.set(key, [...(seen.get(key) ?? []), o.payload.length]);
      q.push({ to, m: { from, phase: o.phase, seq: seq[from]![to]!++, payload: o.payload } });
    }
  };
  parties.forEach((p, i) => post(i, p.start()));
  while (q.length) { const { to, m } = q.shift()!; post(to, parties[to]!.receive(tamper(m, to))); }
  return seen;
}

describe("derived base OTs (one public-key direction per pair)", () => {
  for (const ote of [{ softspokenK: 3 }, { softspokenK: 5 }] as Opts[]) {
    it(`k = ${ote.softspokenK}: correct triples at n = 3 (sync and async alike); only the lower index's extension runs public-key base OTs`, async () => {
      const seen = drive(mk(3, 6, ote, `ok-${ote.softspokenK}`));
      // setup1 (A ‖ tag) flows from the higher to the lower index only; setup2 (φ) back.
      expect(seen.get("offline.setup1 2→0")).toEqual([96]);
      expect(seen.get("offline.setup1 0→2")).toEqual([0]);
      expect(seen.get("offline.setup2 0→2")).toEqual([64 * 128]);
      expect(seen.get("offline.setup2 2→0")).toEqual([0]);
      expect(seen.get("offline.setup3 0→1")).toEqual([0]);
      checkTriples(m61, runOfflineInMemory(mk(3, 6, ote, `ok-${ote.softspokenK}`)), 6);
      const sync = runOfflineInMemory(mk(3, 6, ote, "same"));
      const asy = await runOfflineInMemoryAsync(mk(3, 6, ote, "same"));
      expect(m61.toBigInts(asy.triples[2]!.c.mac)).toEqual(m61.toBigInts(sync.triples[2]!.c.mac));
    });
  }

  it("the same triples' correctness with derivedBaseOts: false (both directions public-key) and with count 0 (always both)", () => {
    checkTriples(m61, runOfflineInMemory(mk(3, 5, { derivedBaseOts: false }, "both")), 5);
    const seen = drive(mk(2, 0, {}, "zero"));
    expect(seen.get("offline.setup1 0→1")).toEqual([96]);
    expect(seen.get("offline.setup1 1→0")).toEqual([96]);
  });

  it("half the public-key bytes: setup bytes fall by ≈ 64·128 per pair", () => {
    const a = mk(2, 4, {}, "bytes"), b = mk(2, 4, { derivedBaseOts: false }, "bytes");
    runOfflineInMemory(a); runOfflineInMemory(b);
    const setup = (p: OfflineParty) => (p.bytesByStep.setup1 ?? 0) + (p.bytesByStep.setup2 ?? 0);
    expect(setup(a[0]!) + setup(a[1]!)).toBe(96 + 64 * 128);
    expect(setup(b[0]!) + setup(b[1]!)).toBe(2 * (96 + 64 * 128));
  });

  it("an inconsistent receiver in the derived direction (party 0 receiving from 1) → ot-check-failed naming it", () => {
    for (const ote of [{ softspokenK: 3 }, { softspokenK: 5 }] as Opts[]) {
      expect(abortCode(() => runOfflineInMemory(mk(2, 4, ote, "cheat", { who: 0, cheat: { kosColumns: [...Array(16).keys()].map((i) => 8 * i + 3) } })))).toBe("ot-check-failed:0");
    }
  });

  it("the derived setup ahead of batch 0: tampered → ot-check-failed, truncated → bad-encoding, stray setup messages → bad-encoding", () => {
    const ss: Opts = { softspokenK: 3 };
    const at0kos = (f: (p: Uint8Array) => Uint8Array) => (m: OfflineInbound, to: number) => (m.phase === "offline.0.kos" && to === 1 ? { ...m, payload: f(m.payload) } : m);
    // Byte 32·128 + 1 of the setup sits in τ_0 (the PPRF consistency value).
    expect(abortCode(() => drive(mk(2, 4, ss, "t1"), at0kos((p) => { const q = p.slice(); q[32 * 128 + 1]! ^= 4; return q; })))).toBe("ot-check-failed:0");
    // A COPE-Initialize correction bit of the derived extend: caught by the consistency check.
    expect(abortCode(() => drive(mk(2, 4, ss, "t2"), at0kos((p) => { const q = p.slice(); q[32 * 128 + 32 * 43 + 32 + 5]! ^= 1; return q; })))).toBe("ot-check-failed:0");
    expect(abortCode(() => drive(mk(2, 4, ss, "t3"), at0kos((p) => p.subarray(0, 100))))).toBe("bad-encoding:0");
    for (const phase of ["offline.setup1", "offline.setup2", "offline.setup3"]) {
      // The lower party must send empty setup messages where its direction is derived … except
      // setup2, which carries its φ; the higher party's empty setup2 / setup3 go the other way.
      const from = phase === "offline.setup2" ? 1 : 0;
      const stray = (m: OfflineInbound) => (m.phase === phase && m.from === from ? { ...m, payload: Uint8Array.of(1) } : m);
      expect(abortCode(() => drive(mk(2, 4, ss, `stray-${phase}`), stray))).toBe(`bad-encoding:${from}`);
    }
  });
});
