/**
 * PINE norm check (validation.ts, `l2-norm` with method "pine"): the exact Σx² check plus r
 * wraparound checks with success bits. Honest inputs pass; each check has a negative test
 * that fails if that check is removed:
 *  - exact check: an input just over the bound (no wrap) is excluded;
 *  - wraparound checks: an input with a huge entry whose square wraps mod p (Σx² mod p ≤ B,
 *    accepted by the exact check alone — shown with method "exact") is excluded;
 *  - g_k·(⟨z_k, x⟩ + h − Σ 2^t v_{k,t}) = 0: an owner claiming success on a failed check;
 *  - window bits are bits: an owner writing the out-of-window value with a non-bit "bit";
 *  - success bits are bits: an owner using g = 2 and g = 0 to keep Σg = τ;
 *  - Σ g_k = τ: an honest input with τ − 1 or τ + 1 claimed successes.
 * Cheats are injected by overriding ValidationPlan.lateInput for one party (vi.mock).
 */
import { describe, expect, it, vi } from "vitest";
import { m61, p128 } from "../../../protocol/field/index.ts";
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import type { Predicate } from "../../../protocol/mascot/party.ts";
import {
  binomialTailLog2, PINE_ALPHA, PINE_CHECKS, PINE_SUCCESSES, pineShape, ValidationPlan, type LateCoins,
} from "../../../protocol/mascot/validation.ts";
import { buildValidatedSteps } from "../../../protocol/mascot/online.ts";
import { Transcript } from "../../../protocol/mascot/echo.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { SecureSumParty } from "../../../protocol/mascot/party.ts";
import { runNetwork, type MessageParty } from "../../../protocol/mascot/testing/transport.ts";
import { dealer, plainSum, SID } from "./helpers.ts";

type Cheat = "none" | "claim-failing" | "non-bit-window" | "non-bit-success" | "count-low" | "count-high";
const spy = vi.hoisted(() => ({ current: -1, cheater: -1, cheat: "none" as Cheat, passing: -1 }));

vi.mock("../../../protocol/mascot/validation.ts", async (importOriginal) => {
  const orig = await importOriginal<typeof import("../../../protocol/mascot/validation.ts")>();
  class CheatPlan extends orig.ValidationPlan {
    override lateInput(x: FieldVec, masks: FieldVec, coins: LateCoins): FieldVec {
      const e = super.lateInput(x, masks, coins);
      if (spy.current !== spy.cheater || spy.cheat === "none") return e;
      const f = this.field;
      const c = f.add(e, masks); // the honest late values
      const it = (this as unknown as { items: Array<{ kind: string; start: number; end: number; checks: number; successes: number; half: bigint; wrapBits: number; maskOffset: number; wrapIndex: number }> }).items.find((i) => i.kind === "wrap")!;
      const ys = f.toBigInts(coins.wrap[it.wrapIndex]!.apply(f, f.slice(x, it.start, it.end)));
      const vs = ys.map((y) => (y + it.half) % f.p);
      const top = 1n << BigInt(it.wrapBits);
      const pass = vs.map((v) => v < top);
      spy.passing = pass.filter(Boolean).length;
      const g = (k: number) => it.maskOffset + k;
      const bit = (k: number, t: number) => it.maskOffset + it.checks + k * it.wrapBits + t;
      const setWindow = (k: number, v: bigint) => { for (let t = 0; t < it.wrapBits; t++) f.set(c, bit(k, t), (v >> BigInt(t)) & 1n); };
      const clearAll = () => { for (let k = 0; k < it.checks; k++) { f.set(c, g(k), 0n); setWindow(k, 0n); } };
      switch (spy.cheat) {
        case "claim-failing": {
          // τ successes: every passing check, then failing ones with the low bits of v (≠ v).
          clearAll();
          const order = [...pass.keys()].sort((a, b) => Number(pass[b]) - Number(pass[a])).slice(0, it.successes);
          for (const k of order) { f.set(c, g(k), 1n); setWindow(k, vs[k]! % top); }
          break;
        }
        case "non-bit-window": {
          // τ successes; on failing checks the "bits" recompose v exactly: v_0 = v − Σ_{t≥1} 2^t·bit_t.
          clearAll();
          const order = [...pass.keys()].sort((a, b) => Number(pass[b]) - Number(pass[a])).slice(0, it.successes);
          for (const k of order) {
            f.set(c, g(k), 1n);
            setWindow(k, vs[k]! % top);
            if (!pass[k]) f.set(c, bit(k, 0), ((vs[k]! - ((vs[k]! % top) >> 1n << 1n)) % f.p + f.p) % f.p);
          }
          break;
        }
        case "non-bit-success": {
          // Honest claims, but one success moved: g = 2 on one claimed check, 0 on another (Σg = τ).
          const claimed = [...Array(it.checks).keys()].filter((k) => f.get(c, g(k)) === 1n);
          f.set(c, g(claimed[0]!), 2n);
          f.set(c, g(claimed[1]!), 0n); setWindow(claimed[1]!, 0n);
          break;
        }
        case "count-low": {
          const claimed = [...Array(it.checks).keys()].filter((k) => f.get(c, g(k)) === 1n);
          f.set(c, g(claimed[0]!), 0n); setWindow(claimed[0]!, 0n);
          break;
        }
        case "count-high": {
          const extra = [...Array(it.checks).keys()].find((k) => f.get(c, g(k)) === 0n && pass[k]);
          if (extra === undefined) throw new Error("no spare passing check");
          f.set(c, g(extra), 1n); setWindow(extra, vs[extra]!);
          break;
        }
      }
      return f.sub(c, masks);
    }
  }
  return { ...orig, ValidationPlan: CheatPlan };
});

function runPine(inputs: bigint[][], predicates: Predicate[], seed: string, cheater = -1, cheat: Cheat = "none", f: Field = m61) {
  const n = inputs.length;
  const xs = inputs.map((x) => f.fromBigInts(x.map((v) => ((v % f.p) + f.p) % f.p)));
  Object.assign(spy, { current: -1, cheater, cheat, passing: -1 });
  const parties = xs.map((x, me) => new SecureSumParty(
    { field: f, parties: n, me, mode: "validated", length: x.length, predicates, sessionId: SID },
    x, seededRng(`${seed}/${me}`), { offline: dealer(f, n, me, seed) }));
  const wrapped: MessageParty[] = parties.map((p, i) => ({
    start: () => { spy.current = i; return p.start(); },
    receive: (m) => { spy.current = i; return p.receive(m); },
    get done() { return p.done; },
  }));
  const net = runNetwork(wrapped);
  expect(net.errors).toEqual(new Array(n).fill(undefined));
  return { parties, xs };
}

const d = 48;
const B = 1n << 30n;
const pine: Predicate[] = [{ kind: "l2-norm", bound: B, method: "pine" }];
/** Signed entries in [−3000, 3000]: Σx² ≤ 48·9·10^6 < 2^30. */
function honest(seed: string): bigint[] {
  const rng = seededRng(seed);
  const b = rng.bytes(2 * d);
  return Array.from({ length: d }, (_, k) => BigInt(((b[2 * k]! | (b[2 * k + 1]! << 8)) % 6001) - 3000));
}
const sq = (x: bigint[]) => x.reduce((a, v) => a + v * v, 0n);

function expectExcluded(r: ReturnType<typeof runPine>, who: number[]) {
  for (const p of r.parties) {
    expect(p.result!.excluded).toEqual(who);
    expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, r.xs, who));
  }
}

describe("PINE parameters (m61)", () => {
  it("defaults: a wrapped input passes w.p. ≤ 2^-64, an honest one fails w.p. ≤ 2^-40", () => {
    expect(binomialTailLog2(PINE_CHECKS, PINE_SUCCESSES, 0.5)).toBeLessThan(-64);
    const eta = 2 * Math.exp(-PINE_ALPHA * PINE_ALPHA);
    expect(binomialTailLog2(PINE_CHECKS, PINE_CHECKS - PINE_SUCCESSES + 1, eta)).toBeLessThan(-40);
    // exact against a direct sum: Pr[Bin(76, 1/2) ≥ 74] = (C(76,2) + 76 + 1)/2^76
    expect(binomialTailLog2(76, 74, 0.5)).toBeCloseTo(Math.log2(2850 + 76 + 1) - 76, 9);
  });
  it("window: h ≥ α√B, [0, 2h] inside [0, 2^b1), and the field condition m·D² + 2^L < p", () => {
    const s = pineShape(m61.p, d, B);
    expect(Number(s.half)).toBeGreaterThanOrEqual(PINE_ALPHA * Math.sqrt(Number(B)));
    expect(2n * s.half).toBeLessThan(1n << BigInt(s.wrapBits));
    expect(s.fits).toBe(true);
    expect(BigInt(d) * s.diameter * s.diameter + (1n << BigInt(s.slackBits))).toBeLessThan(m61.p);
    // too large a bound for the field is refused
    expect(pineShape(m61.p, 2412, 1n << 50n).fits).toBe(false);
    expect(() => new ValidationPlan(m61, 2412, [{ kind: "l2-norm", bound: 1n << 50n, method: "pine" }])).toThrow(/field too small/);
    expect(() => new ValidationPlan(m61, 10, [{ kind: "l2-norm", bound: 100n, method: "pine", pine: { checks: 10, successes: 11 } }])).toThrow(/successes/);
    expect(() => new ValidationPlan(m61, 200, [{ kind: "l2-norm", bound: 100n, method: "pine", projection: { rows: 200 } }])).toThrow(/exclusive/);
    expect(() => new ValidationPlan(m61, 10, [{ kind: "l2-norm", bound: 100n, method: "bogus" as "pine" }])).toThrow(/unknown method/);
  });
  it("witness size does not grow with d: L + r·(b1 + 1) late and aux values", () => {
    const small = new ValidationPlan(m61, 100, pine), large = new ValidationPlan(m61, 10_000, [{ kind: "l2-norm", bound: 1n << 28n, method: "pine" }]);
    expect(small.lateMaskLength).toBe(PINE_CHECKS * (1 + pineShape(m61.p, 100, B).wrapBits));
    expect(large.lateMaskLength + large.auxLength).toBeLessThan(2500);
    expect(small.wrapSets).toBe(1);
  });
  it("the late inputs depend on coin A, so γ comes from coin G (opened after every owner's late inputs)", () => {
    const steps = buildValidatedSteps({ field: m61, parties: 2, me: 0, mode: "validated", length: 8, predicates: [{ kind: "l2-norm", bound: 100n, method: "pine" }], sessionId: SID },
      m61.zeros(8), seededRng("steps"), new Transcript(SID), () => undefined, dealer(m61, 2, 0, "steps")).steps.map((s) => s.name);
    expect(steps.indexOf("slack")).toBeGreaterThan(steps.indexOf("coin.A"));
    expect(steps.indexOf("coin.G")).toBe(steps.indexOf("slack") + 1);
    expect(steps.indexOf("proof")).toBeGreaterThan(steps.indexOf("coin.G"));
  });
});

describe("PINE norm check in the validated sum", () => {
  it("honest inputs pass (n = 3, signed entries), including one exactly at the bound", () => {
    const inputs = [honest("h0"), honest("h1"), honest("h2")];
    inputs[2] = [...Array(d).keys()].map((k) => (k === 0 ? 1n << 15n : 0n)); // Σx² = 2^30 = B
    expect(sq(inputs[2]!)).toBe(B);
    const r = runPine(inputs, pine, "honest");
    expectExcluded(r, []);
  });
  it("honest inputs pass over several seeds (n = 2)", () => {
    for (let s = 0; s < 4; s++) expectExcluded(runPine([honest(`a${s}`), honest(`b${s}`)], pine, `seeds/${s}`), []);
  });
  it("exact check: an input just over the bound (Σx² = B + 1, no wrap) is excluded", () => {
    const over = [...Array(d).keys()].map((k) => (k === 0 ? 1n << 15n : k === 1 ? 1n : 0n));
    expect(sq(over)).toBe(B + 1n);
    expectExcluded(runPine([honest("o0"), over, honest("o2")], pine, "over"), [1]);
  });
  it("wraparound checks: a huge entry whose square wraps mod p (Σx² mod p ≤ B) is excluded; the exact check alone accepts it", () => {
    const p = m61.p;
    let t = BigInt(Math.floor(Math.sqrt(Number(p))));
    while (t * t < p) t++;
    const wrapping = [...Array(d).keys()].map((k) => (k === 0 ? t : k === 1 ? -5n : 0n));
    const modSq = sq(wrapping) % p;
    expect(modSq).toBeLessThanOrEqual(B); // the mod-p norm is within the bound
    expect(sq(wrapping)).toBeGreaterThan(p); // the integer norm is ≈ 2^61
    const exact = runPine([honest("w0"), wrapping], [{ kind: "l2-norm", bound: B }], "wrap-exact");
    expectExcluded(exact, []); // accepted without the wraparound checks
    const r = runPine([honest("w0"), wrapping], pine, "wrap");
    expectExcluded(r, [1]);
  });
});

describe("PINE over p128 (generic field path)", () => {
  it("honest inputs pass; a huge entry whose square wraps mod p is excluded", () => {
    const p = p128.p;
    let t = BigInt(Math.floor(Math.sqrt(Number(p)))); // ≈ √p, then exact: the least t with t² ≥ p
    while (t * t >= p) t--;
    while (t * t < p) t++;
    const bound = 1n << 70n;
    const preds: Predicate[] = [{ kind: "l2-norm", bound, method: "pine" }];
    const wrapping = [...Array(d).keys()].map((k) => (k === 0 ? t : 0n));
    expect(sq(wrapping) % p).toBeLessThanOrEqual(bound);
    const r = runPine([honest("p0"), wrapping, honest("p2")], preds, "p128", -1, "none", p128);
    for (const party of r.parties) {
      expect(party.result!.excluded).toEqual([1]);
      expect(p128.toBigInts(party.result!.sum)).toEqual(plainSum(p128, r.xs, [1]));
    }
  });
});

describe("PINE: a cheating owner's late inputs (each fails if its check is removed)", () => {
  const p = m61.p;
  let t = BigInt(Math.floor(Math.sqrt(Number(p))));
  while (t * t < p) t++;
  const wrapping = [...Array(d).keys()].map((k) => (k === 0 ? t : 0n));
  it("g_k·S_k = 0: claiming success on failed checks (window bits of the wrong value) → excluded", () => {
    const r = runPine([honest("c0"), wrapping, honest("c2")], pine, "claim", 1, "claim-failing");
    expect(spy.passing).toBeLessThan(PINE_SUCCESSES);
    expectExcluded(r, [1]);
  });
  it("window bits are bits: a failed check written exactly with a non-bit \"bit\" → excluded", () => {
    const r = runPine([honest("c0"), wrapping], pine, "nonbit", 1, "non-bit-window");
    expect(spy.passing).toBeLessThan(PINE_SUCCESSES);
    expectExcluded(r, [1]);
  });
  it("success bits are bits: g = 2 on one check and 0 on another (Σg = τ) → excluded", () => {
    expectExcluded(runPine([honest("c0"), honest("c1")], pine, "gbit", 0, "non-bit-success"), [0]);
  });
  it("Σg = τ: an honest input with τ − 1 claimed successes → excluded", () => {
    expectExcluded(runPine([honest("c0"), honest("c1")], pine, "low", 1, "count-low"), [1]);
  });
  it("Σg = τ: an honest input with τ + 1 claimed successes → excluded", () => {
    expectExcluded(runPine([honest("c0"), honest("c1"), honest("c3")], pine, "high", 2, "count-high"), [2]);
  });
});
