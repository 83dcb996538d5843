import { describe, expect, it } from "vitest";
import { m61, p128, type Field } from "../../../protocol/field/index.ts";
import { OfflineParty, type OfflineConfig, type OfflineInbound } from "../../../protocol/mascot/offline.ts";
import { offlineParty, type OfflineCheat } from "../../../protocol/mascot/testing/cheating-offline.ts";
import { runNetwork, runOfflineInMemory, runOfflineInMemoryAsync } from "../../../protocol/mascot/testing/transport.ts";
import { DIGIT_COPE_WIDTH } from "../../../protocol/mascot/digit-cope.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { utf8 } from "../../../protocol/encoding.ts";

function run(F: Field, n: number, count: number, batchSize: number, cheat?: { who: number; cheat: OfflineCheat }) {
  const parties = [...Array(n).keys()].map((me) =>
    offlineParty({ field: F, parties: n, me, sessionId: utf8("test-session"), count, batchSize }, seededRng(`p${me}-${n}-${count}`), me === cheat?.who ? { cheat: cheat.cheat } : {}));
  return runOfflineInMemory(parties);
}

function checkTriples(F: Field, r: ReturnType<typeof run>, count: number) {
  const alpha = r.alphas.reduce((s, a) => s + a, 0n) % F.p;
  const open = (k: "a" | "b" | "c", w: "value" | "mac") => {
    let acc = F.zeros(count);
    for (const t of r.triples) acc = F.add(acc, t[k][w]);
    return acc;
  };
  const a = open("a", "value"), b = open("b", "value"), c = open("c", "value");
  expect(F.toBigInts(c)).toEqual(F.toBigInts(F.mul(a, b)));
  for (const k of ["a", "b", "c"] as const) expect(F.toBigInts(open(k, "mac"))).toEqual(F.toBigInts(F.scale(open(k, "value"), alpha)));
  // not degenerate
  expect(new Set(F.toBigInts(a)).size).toBe(count);
}

describe("MASCOT offline phase (triples)", () => {
  it("n = 2, m61, two batches: c = a·b and MACs = α·x", () => {
    const r = run(m61, 2, 13, 8);
    checkTriples(m61, r, 13);
    expect(r.bytesSent[0]).toBeGreaterThan(0);
  });
  it("n = 3, m61", () => checkTriples(m61, run(m61, 3, 5, 5), 5));
  it("async (WebCrypto prefetch) path gives the same triples as the sync path", async () => {
    const mk = () => [0, 1].map((me) => new OfflineParty({ field: m61, parties: 2, me, sessionId: utf8("async"), count: 6, batchSize: 4 }, seededRng(`async${me}`)));
    const sync = runOfflineInMemory(mk());
    const asy = await runOfflineInMemoryAsync(mk());
    checkTriples(m61, asy as ReturnType<typeof run>, 6);
    expect(m61.toBigInts(asy.triples[1]!.c.mac)).toEqual(m61.toBigInts(sync.triples[1]!.c.mac));
  });
  it("n = 2, p128", () => checkTriples(p128, run(p128, 2, 3, 3), 3));
  it("count 0 gives α only", () => {
    const r = run(m61, 2, 0, 4);
    expect(r.triples[0]!.a.value.length).toBe(0);
  });
});

describe("MASCOT offline phase: a cheating party is caught", () => {
  const expectAbort = (f: () => unknown, code: string) => {
    try { f(); expect.unreachable(); } catch (e) {
      expect(e).toBeInstanceOf(ProtocolAbort);
      expect((e as ProtocolAbort).code).toBe(code);
      return e as ProtocolAbort;
    }
  };
  it("inconsistent OT-extension choice bits → ot-check-failed naming the cheater", () => {
    const e = expectAbort(() => run(m61, 2, 4, 4, { who: 1, cheat: { kosColumns: [...Array(64).keys()] } }), "ot-check-failed");
    expect(e!.culprits).toEqual([1]);
  });
  it("wrong COPE correction → cope-check-failed", () => {
    expectAbort(() => run(m61, 2, 4, 4, { who: 0, cheat: { copeBit: 7 } }), "cope-check-failed");
    expectAbort(() => run(m61, 3, 4, 4, { who: 2, cheat: { copeBit: 0 } }), "cope-check-failed");
  });
  it("bad triple → sacrifice-failed", () => {
    expectAbort(() => run(m61, 2, 4, 4, { who: 1, cheat: { badTriple: true } }), "sacrifice-failed");
  });
  it("digit COPE of Authenticate: a corrupted setup correction or a deviating digit → cope-check-failed; a malformed setup → bad-encoding naming the sender", () => {
    const digits = Math.ceil(m61.bits / DIGIT_COPE_WIDTH);
    for (const cheat of [{ copeSetup: 0 }, { copeSetup: 60 }, { copeBit: 0 }, { copeBit: digits - 1 }]) expectAbort(() => run(m61, 2, 4, 4, { who: 1, cheat }), "cope-check-failed");
    const parties = [0, 1].map((me) => offlineParty({ field: m61, parties: 2, me, sessionId: utf8("short"), count: 4, batchSize: 4 }, seededRng(`short/${me}`)));
    const net = runNetwork(parties, { tamper: (e) => (e.from === 1 && e.phase === "offline.0.cope" ? { ...e, payload: e.payload.subarray(0, 100) } : e) });
    const err = net.errors.find((e) => e !== undefined) as ProtocolAbort;
    expect(err).toBeInstanceOf(ProtocolAbort);
    expect(err.code).toBe("bad-encoding");
    expect(err.culprits).toEqual([1]);
    expect(parties.some((q) => q.done)).toBe(false);
  });
  it("replayed and unknown phases are refused", () => {
    const F = m61;
    const ps = [0, 1].map((me) => new OfflineParty({ field: F, parties: 2, me, sessionId: utf8("s"), count: 1 }, seededRng(`r${me}`)));
    const first = ps[0]!.start();
    ps[1]!.start();
    const m = { from: 0, phase: first[0]!.phase, seq: 0, payload: first[0]!.payload };
    ps[1]!.receive(m);
    expectAbort(() => ps[1]!.receive({ ...m, seq: 1 }), "replay");
    const q = new OfflineParty({ field: F, parties: 2, me: 1, sessionId: utf8("s"), count: 1 }, seededRng("q"));
    q.start();
    expectAbort(() => q.receive({ from: 0, phase: "offline.7.kos", seq: 0, payload: new Uint8Array(1) }), "unexpected-message");
  });
});

describe("MASCOT offline phase: SoftSpokenOT parameter k", () => {
  type Ote = Pick<OfflineConfig, "softspokenK">;
  const mk = (F: Field, n: number, count: number, ote: Ote, cheat?: { who: number; cheat: OfflineCheat }, tag = "ote") =>
    [...Array(n).keys()].map((me) => offlineParty({ field: F, parties: n, me, sessionId: utf8(`${tag}-session`), count, batchSize: 4, ...ote }, seededRng(`${tag}/${me}`), me === cheat?.who ? { cheat: cheat.cheat } : {}));
  const abortCode = (f: () => unknown) => { try { f(); return "no-throw"; } catch (e) { return e instanceof ProtocolAbort ? `${e.code}:${e.culprits.join(",")}` : `other:${String(e)}`; } };

  for (const ote of [{}, { softspokenK: 2 }, { softspokenK: 5 }, { softspokenK: 8 }] as Ote[]) {
    it(`k = ${ote.softspokenK ?? "default"}: correct triples (n = 3, two batches); inconsistent choice bits → ot-check-failed naming the cheater`, () => {
      checkTriples(m61, runOfflineInMemory(mk(m61, 3, 6, ote)) as ReturnType<typeof run>, 6);
      // 16 columns, one per SoftSpokenOT block or more: each inconsistent block is caught.
      expect(abortCode(() => runOfflineInMemory(mk(m61, 2, 4, ote, { who: 1, cheat: { kosColumns: [...Array(16).keys()].map((i) => 8 * i + 7) } })))).toBe("ot-check-failed:1");
    });
  }
  it("p128 with SoftSpokenOT", () => checkTriples(p128, runOfflineInMemory(mk(p128, 2, 3, { softspokenK: 3 })) as ReturnType<typeof run>, 3));
  it("SoftSpokenOT sends ⌈128/k⌉ bits per OT (plus a 32-byte check per extend)", () => {
    const batches = 2, perBit: number[] = [];
    for (const k of [2, 3, 4, 8]) {
      const ss = mk(m61, 2, 8, { softspokenK: k }, undefined, "bytes");
      runOfflineInMemory(ss);
      perBit.push(((ss[0]!.bytesByStep.kos! - 32 * batches) * 128) / Math.ceil(128 / k));
    }
    // (bytes − checks)·128/⌈128/k⌉ = 128 bits per padded OT, whatever k
    expect(new Set(perBit).size).toBe(1);
    expect(perBit[0]! % 16).toBe(0);
  });
  it("a bad k is refused", () => {
    for (const c of [{ softspokenK: 1 }, { softspokenK: 9 }, { softspokenK: 2.5 }]) {
      expect(() => new OfflineParty({ field: m61, parties: 2, me: 0, sessionId: utf8("s"), count: 1, ...(c as Ote) }, seededRng("bad"))).toThrow(RangeError);
    }
  });
  it("SoftSpokenOT setup3: a tampered GGM correction or τ → ot-check-failed; a short one → bad-encoding; peers with different k do not interoperate", () => {
    const drive = (parties: OfflineParty[], tamper: (m: OfflineInbound, to: number) => OfflineInbound) => {
      const q: Array<{ to: number; m: OfflineInbound }> = [];
      const seq = [[0, 0], [0, 0]];
      const post = (from: number, outs: ReturnType<OfflineParty["start"]>) => {
        for (const o of outs) for (const to of o.to === "all" ? [1 - from] : [o.to]) q.push({ to, m: { from, phase: o.phase, seq: seq[from]![to]!++, payload: o.payload } });
      };
      parties.forEach((p, i) => post(i, p.start()));
      while (q.length) { const { to, m } = q.shift()!; post(to, parties[to]!.receive(tamper(m, to))); }
    };
    const flip = (at: (len: number) => number) => (m: OfflineInbound, to: number) => {
      if (m.phase !== "offline.setup3" || to !== 0) return m;
      const p = m.payload.slice(); p[at(p.length)]! ^= 0x10; return { ...m, payload: p };
    };
    const ss: Ote = { softspokenK: 4 };
    // 32·128 + 32·blocks: τ; byte 32·128 + 1 sits in τ_0. Both GGM ciphertext sides of all levels: try every level's both halves, one must be read.
    expect(abortCode(() => drive(mk(m61, 2, 2, ss, undefined, "t1"), flip(() => 32 * 128 + 1)))).toBe("ot-check-failed:1");
    expect(abortCode(() => drive(mk(m61, 2, 2, ss, undefined, "t2"), flip(() => 32 * 128 + 32 * 32 + 3)))).toBe("ot-check-failed:1");
    const read = [0, 16].map((o) => abortCode(() => drive(mk(m61, 2, 2, ss, undefined, "t3"), flip(() => o))));
    expect(read.sort()).toEqual(["no-throw", "ot-check-failed:1"]);
    expect(abortCode(() => drive(mk(m61, 2, 2, ss, undefined, "t4"), (m, to) => (m.phase === "offline.setup3" && to === 0 ? { ...m, payload: m.payload.subarray(1) } : m)))).toBe("bad-encoding:1");
    const mixed = [...mk(m61, 2, 2, { softspokenK: 2 }, undefined, "mix").slice(0, 1), ...mk(m61, 2, 2, ss, undefined, "mix").slice(1)];
    expect(abortCode(() => drive(mixed, (m) => m))).toMatch(/^bad-encoding/);
  });
});

