/**
 * Adaptive late-input attacks on validated mode (online.ts buildValidatedSteps): a malicious
 * owner that sees every coin opened so far and chooses its late inputs — the projection slack
 * bits of an `l2-norm` predicate with `projection` (input.mask) and its product proof H
 * (input.mask) — so that an invalid input passes. Soundness requires that every fold or
 * challenge coefficient is drawn only after every value it covers is fixed (DESIGN §1).
 *
 * The attacker plays honestly except for its late inputs; it is given the joint seed of every
 * coin toss it has seen (recorded by wrapping coinFinish per party) and derives the fold
 * coefficients γ_j from the newest one, exactly as online.ts derives them
 * (expandSeed(seed, "validation/<owner>")). Then:
 *  - "slack": it picks projection slack values c (not bits) that make the folded check of
 *    its out-of-bound input vanish: Σ_t γ_t·c_t(c_t − 1) + γ_T·(‖Rx‖² + Σ 2^t c_t − T) = 0,
 *    a quadratic in c_0 (retrying c_1 until the discriminant is a square);
 *  - "proof": it moves the claimed inner product Σ_{l≤L} H(l) by −fold so that the fold part
 *    of z_j vanishes (the proof challenge at r must then catch H ≠ Σ A_i·B_i).
 * Before the fix the slack attack passed (γ came from coin A, before the slack bits were
 * sent); the proof attack must be caught in every case (coin C is opened after H).
 */
import { describe, expect, it, vi } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import { modPow } from "../../../protocol/field/modular.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { SecureSumParty, type Predicate } from "../../../protocol/mascot/party.ts";
import { runNetwork, type MessageParty } from "../../../protocol/mascot/testing/transport.ts";
import { expandSeed } from "../../../protocol/mascot/shares.ts";
import { foldTerms, type LateCoins, type Projection, type ValidationPlan as PlanType } from "../../../protocol/mascot/validation.ts";
import { dealer, plainSum, SID } from "./helpers.ts";

type Mode = "none" | "slack" | "proof";
const spy = vi.hoisted(() => ({
  current: -1,
  attacker: -1,
  mode: "none" as Mode,
  /** Joint coin seeds each party has computed, in order. */
  seeds: [] as Uint8Array[][],
  /** The attacker's clear operands call (plan, extended input, projection) and its late projection input. */
  clear: undefined as undefined | { plan: unknown; ext: unknown; R: unknown },
  late: undefined as unknown,
  /** Times the attack ran and how many of them made the fold vanish under the guessed γ. */
  attacks: 0,
  foldZeroUnderGuess: 0,
}));

vi.mock("../../../protocol/mascot/coin-toss.ts", async (importOriginal) => {
  const orig = await importOriginal<typeof import("../../../protocol/mascot/coin-toss.ts")>();
  return {
    ...orig,
    coinFinish: (c: readonly Uint8Array[], o: readonly Uint8Array[]) => {
      const s = orig.coinFinish(c, o);
      (spy.seeds[spy.current] ??= []).push(s);
      return s;
    },
  };
});

vi.mock("../../../protocol/mascot/validation.ts", async (importOriginal) => {
  const orig = await importOriginal<typeof import("../../../protocol/mascot/validation.ts")>();
  class AttackPlan extends orig.ValidationPlan {
    override lateInput(x: FieldVec, masks: FieldVec, R: LateCoins): FieldVec {
      const honest = super.lateInput(x, masks, R);
      if (spy.current !== spy.attacker) return honest;
      if (spy.mode !== "slack") { spy.late = honest; return honest; }
      const f = this.field;
      const gamma = guessGamma(f, this.termCount);
      const c = craftSlack(this as unknown as PlanType, f, x, R.projection!, gamma);
      spy.attacks++;
      const e = f.sub(c, masks);
      spy.late = e;
      return e;
    }
    override operands(ctx: Parameters<PlanType["operands"]>[0], ext: Parameters<PlanType["operands"]>[1], R: LateCoins) {
      if (spy.current === spy.attacker && ctx.alpha === 0n) spy.clear = { plan: this, ext: ext.value, R };
      return super.operands(ctx, ext, R);
    }
  }
  return { ...orig, ValidationPlan: AttackPlan };
});

vi.mock("../../../protocol/mascot/product-proof.ts", async (importOriginal) => {
  const orig = await importOriginal<typeof import("../../../protocol/mascot/product-proof.ts")>();
  return {
    ...orig,
    proveProducts: (f: Field, shape: Parameters<typeof orig.proveProducts>[1], a: FieldVec, b: FieldVec, seeds: FieldVec) => {
      const h = orig.proveProducts(f, shape, a, b, seeds);
      if (spy.current !== spy.attacker || spy.mode !== "proof") return h;
      const fold = clearFold(f);
      spy.attacks++;
      // Σ_{l≤L} H(l) − fold: the fold part of z_j becomes 0 under the guessed γ.
      f.set(h, 0, (((f.get(h, 0) - fold) % f.p) + f.p) % f.p);
      spy.foldZeroUnderGuess++;
      return h;
    },
  };
});

/** γ_attacker from the newest coin seed the attacker has seen (online.ts's derivation). */
function guessGamma(f: Field, termCount: number): FieldVec {
  const seen = spy.seeds[spy.attacker] ?? [];
  if (seen.length === 0) throw new Error("attacker has seen no coin");
  return expandSeed(f, seen[seen.length - 1]!, `validation/${spy.attacker}`, termCount);
}

interface ItemView { kind: string; start: number; end: number; bits: number; slackBits: number; rows: number; rowsOffset: number; maskOffset: number; threshold: bigint }

/** Number of zero terms an item contributes (validation.ts ValidationPlan.terms order). */
function termsOf(it: ItemView): number {
  switch (it.kind) {
    case "bits": return it.end - it.start;
    case "group": return 1;
    case "range": return (it.end - it.start) * (it.bits + 1);
    default: return it.slackBits + 1; // l2, proj
  }
}

const mod = (x: bigint, p: bigint) => ((x % p) + p) % p;

/** Square root mod p ≡ 3 (mod 4), or undefined for a non-residue. */
function sqrtMod(d: bigint, p: bigint): bigint | undefined {
  const s = modPow(d, (p + 1n) / 4n, p);
  return (s * s) % p === d ? s : undefined;
}

/**
 * Slack values c (field elements, not bits) for every projection item such that the folded
 * terms of the item vanish under γ: Σ_t γ_t·c_t(c_t − 1) + γ_T·(S + Σ_t 2^t c_t − T) = 0.
 */
function craftSlack(plan: PlanType, f: Field, x: FieldVec, R: Projection, gamma: FieldVec): FieldVec {
  const p = f.p;
  const out = new Array<bigint>(plan.lateMaskLength).fill(0n);
  let k = 0;
  for (const it of (plan as unknown as { items: ItemView[] }).items) {
    if (it.kind === "proj") {
      const L = it.slackBits;
      expect(L).toBeGreaterThanOrEqual(2);
      let S = 0n;
      for (const y of f.toBigInts(R.apply(f, x, it.rowsOffset, it.rows))) S = (S + y * y) % p;
      const g = (t: number) => f.get(gamma, k + t);
      const gT = g(L);
      for (let v = 0n; ; v++) {
        const c0 = mod(g(1) * v * (v - 1n) + gT * (S + 2n * v - it.threshold), p);
        const a = g(0), b = mod(gT - g(0), p);
        const root = sqrtMod(mod(b * b - 4n * a * c0, p), p);
        if (root === undefined) continue;
        const c = mod((root - b) * modPow(mod(2n * a, p), p - 2n, p), p);
        out[it.maskOffset] = c;
        out[it.maskOffset + 1] = v;
        // Sanity: the crafted values zero this item's fold under γ.
        let fold = 0n;
        const cs = out.slice(it.maskOffset, it.maskOffset + L);
        cs.forEach((ct, t) => { fold += g(t) * ct * (ct - 1n); });
        let recomposed = 0n;
        cs.forEach((ct, t) => { recomposed += (1n << BigInt(t)) * ct; });
        fold += gT * (S + recomposed - it.threshold);
        if (mod(fold, p) === 0n) spy.foldZeroUnderGuess++;
        break;
      }
    }
    k += termsOf(it);
  }
  return f.fromBigInts(out);
}

/** The attacker's fold of its own zero terms (clear values, true products) under the guessed γ. */
function clearFold(f: Field): bigint {
  const { plan: p, ext, R } = spy.clear!;
  const plan = p as PlanType;
  const ctx0 = { field: f, me: 0, alpha: 0n };
  const share = { value: ext as FieldVec, mac: f.zeros((ext as FieldVec).length) };
  const ops = plan.operands(ctx0, share, R as LateCoins);
  const prods = f.mul(ops.left.value, ops.right.value);
  const e = plan.lateMaskLength > 0 ? (spy.late as FieldVec) : f.zeros(0);
  const terms = plan.terms(ctx0, share, { value: prods, mac: f.zeros(prods.length) }, e, R as LateCoins);
  return f.get(foldTerms(f, terms, guessGamma(f, plan.termCount)).value, 0);
}

/** Runs a validated sum (test dealer for triples and COPE) with party `attacker` playing `mode`. */
function runAttack(opts: { inputs: number[][]; predicates: Predicate[]; attacker: number; mode: Mode; seed: string }) {
  const f = m61;
  const n = opts.inputs.length;
  const inputs = opts.inputs.map((x) => f.fromInts(x));
  Object.assign(spy, { current: -1, attacker: opts.attacker, mode: opts.mode, seeds: [], clear: undefined, late: undefined, attacks: 0, foldZeroUnderGuess: 0 });
  const parties = inputs.map((x, me) => new SecureSumParty(
    { field: f, parties: n, me, mode: "validated", length: x.length, predicates: opts.predicates, sessionId: SID },
    x, seededRng(`${opts.seed}/${me}`), { offline: dealer(f, n, me, opts.seed) }));
  // Tell the mocks which party is running (the whole run is synchronous).
  const wrapped: MessageParty[] = parties.map((p, i) => ({
    start: () => { spy.current = i; return p.start(); },
    receive: (m) => { spy.current = i; return p.receive(m); },
    get done() { return p.done; },
  }));
  const net = runNetwork(wrapped);
  return { net, parties, inputs };
}

const d = 16;
const small: number[] = Array.from({ length: d }, (_, k) => (k % 4 === 0 ? 2 : 0)); // ‖x‖² = 16
const big: number[] = Array.from({ length: d }, () => 200); // ‖x‖² = 640000, every entry < 2^8

describe("adaptive late input: projection slack bits chosen after seeing the coins", () => {
  const cases: Array<{ name: string; predicates: Predicate[] }> = [
    { name: "l2-norm with projection alone", predicates: [{ kind: "l2-norm", bound: 100n, projection: { rows: 192 } }] },
    { name: "range + l2-norm with projection (the documented pairing)", predicates: [{ kind: "range", bits: 8 }, { kind: "l2-norm", bound: 100n, projection: { rows: 192 } }] },
  ];
  for (const c of cases) {
    for (const attacker of [0, 2]) {
      it(`${c.name}: the out-of-bound owner ${attacker} is excluded`, () => {
        const inputs = [small, small, small];
        inputs[attacker] = big;
        const { net, parties, inputs: xs } = runAttack({ inputs, predicates: c.predicates, attacker, mode: "slack", seed: `slack/${attacker}/${c.name}` });
        expect(net.errors).toEqual([undefined, undefined, undefined]);
        expect(spy.attacks).toBe(1);
        expect(spy.foldZeroUnderGuess).toBe(1); // the crafted slack zeroes the fold under the γ the attacker could see
        for (const p of parties) {
          expect(p.result!.excluded).toEqual([attacker]);
          expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, xs, [attacker]));
        }
      });
    }
  }
});

describe("adaptive late input: product proof H chosen after seeing the fold coefficients (every predicate kind)", () => {
  const cases: Array<{ name: string; predicates: Predicate[]; bad: number[]; good: number[] }> = [
    { name: "bits", predicates: [{ kind: "bits" }], bad: [1, 0, 2, 1], good: [1, 0, 1, 1] },
    { name: "one-hot (sum ≤ 1)", predicates: [{ kind: "one-hot", groups: [[0, 2], [2, 4]] }], bad: [1, 1, 0, 1], good: [0, 1, 0, 0] },
    { name: "one-hot exact", predicates: [{ kind: "one-hot", groups: [[0, 4]], exact: true }], bad: [0, 0, 0, 0], good: [0, 0, 1, 0] },
    { name: "range", predicates: [{ kind: "range", bits: 5 }], bad: [1, 40, 3, 4], good: [1, 2, 3, 4] },
    { name: "range with offset (signed)", predicates: [{ kind: "range", bits: 5, offset: 16n }], bad: [-17, 0, 3, 4], good: [-16, 15, 3, 4] },
    { name: "range + l2-norm", predicates: [{ kind: "range", bits: 5 }, { kind: "l2-norm", bound: 100n }], bad: [9, 9, 0, 0], good: [5, 5, 5, 5] },
    { name: "range + l2-norm with projection", predicates: [{ kind: "range", bits: 8 }, { kind: "l2-norm", bound: 100n, projection: { rows: 192 } }], bad: big, good: small },
    { name: "l2-norm with PINE wraparound checks", predicates: [{ kind: "l2-norm", bound: 100n, method: "pine" }], bad: [9, 9, 0, 0], good: [5, 5, 5, -5] },
  ];
  for (const c of cases) {
    it(`${c.name}: the forging owner is excluded`, () => {
      const attacker = 1;
      const { net, parties, inputs } = runAttack({ inputs: [c.good, c.bad, c.good], predicates: c.predicates, attacker, mode: "proof", seed: `proof/${c.name}` });
      expect(net.errors).toEqual([undefined, undefined, undefined]);
      expect(spy.attacks).toBe(1);
      for (const p of parties) {
        expect(p.result!.excluded).toEqual([attacker]);
        expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs, [attacker]));
      }
    });
  }
});
