/**
 * Differential-privacy noise inside the validated sum (protocol/mascot/noise.ts, online.ts):
 * each party inputs its own z_j ~ N_Z(0, σ²)^d next to x_j, ‖z_j‖² ≤ B is checked with PINE,
 * signs r come from a coin opened after every input, noise and exclusion is fixed, and only
 * Σ (x_j + r ⊙ z_j) is opened. Statistical tests state their false-alarm rate (10^-6 for
 * the χ² tests, 6 standard errors for means) and each has a power check.
 * Negative tests: a noise vector over the bound is excluded (fails without the noise
 * predicate), a huge wrapping noise entry is excluded (fails without PINE's wraparound part).
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import type { FieldVec } from "../../../protocol/field/types.ts";
import { SecureSumParty, type Predicate } from "../../../protocol/mascot/party.ts";
import { runNetwork, type NetworkHooks } from "../../../protocol/mascot/testing/transport.ts";
import { checkNoiseConfig, NOISE_TAIL_T, noiseNormBound, noisePredicate, sampleNoise, signVector, type NoiseConfig } from "../../../protocol/mascot/noise.ts";
import { planFor } from "../../../protocol/mascot/online.ts";
import { ValidationPlan } from "../../../protocol/mascot/validation.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { discreteGaussianPmf } from "../../../protocol/dp/discrete-gaussian.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { modPow } from "../../../protocol/field/modular.ts";
import { chiSquare } from "../dp/chi-square.ts";
import { dealer, randInputs, SID } from "./helpers.ts";

const f = m61;
const lift = (v: bigint): bigint => (v > f.p / 2n ? v - f.p : v);
const uniform = (d: number, s2: bigint): NoiseConfig => ({ segments: [{ start: 0, end: d, sigma2: { num: s2, den: 1n } }] });

function runNoised(opts: { inputs: FieldVec[]; noise: NoiseConfig; predicates?: Predicate[]; seed: string; z?: Array<FieldVec | undefined> }, hooks?: NetworkHooks) {
  const n = opts.inputs.length;
  const parties = opts.inputs.map((x, me) => new SecureSumParty(
    { field: f, parties: n, me, mode: "validated", length: x.length, predicates: opts.predicates ?? [], sessionId: SID, noise: opts.noise },
    x, seededRng(`${opts.seed}/${me}`), {
      offline: dealer(f, n, me, opts.seed),
      ...(opts.z?.[me] ? { noise: opts.z[me] } : {}),
    }));
  const net = runNetwork(parties, hooks);
  const errs = net.errors.filter((e) => e !== undefined);
  if (errs.length) throw errs[0];
  return parties;
}

/** The released noise y − Σ_{kept} x_j of one run, as signed integers. */
function releasedNoise(parties: SecureSumParty[], inputs: FieldVec[]): bigint[] {
  const r = parties[0]!.result!;
  for (const p of parties) expect(f.toBigInts(p.result!.sum)).toEqual(f.toBigInts(r.sum));
  const acc = f.zeros(inputs[0]!.length);
  inputs.forEach((x, j) => { if (!r.excluded.includes(j)) f.addInPlace(acc, x); });
  return f.toBigInts(f.sub(r.sum, acc)).map(lift);
}

describe("noise config and norm bound", () => {
  it("segments must tile [0, length) with positive σ²; noise needs validated mode; no projection on a noised input", () => {
    const ok: NoiseConfig = { segments: [{ start: 0, end: 3, sigma2: { num: 1n, den: 1n } }, { start: 3, end: 5, sigma2: { num: 9n, den: 4n } }] };
    expect(() => checkNoiseConfig(ok, 5)).not.toThrow();
    expect(() => checkNoiseConfig(ok, 6)).toThrow(/every opened entry must be noised/);
    expect(() => checkNoiseConfig({ segments: [{ start: 0, end: 2, sigma2: { num: 1n, den: 1n } }, { start: 3, end: 5, sigma2: { num: 1n, den: 1n } }] }, 5)).toThrow(/segments\[1\]/);
    expect(() => checkNoiseConfig({ segments: [{ start: 0, end: 5, sigma2: { num: 0n, den: 1n } }] }, 5)).toThrow(/positive rational/);
    const cfg = { field: f, parties: 2, me: 0, length: 5, predicates: [], sessionId: SID, noise: ok };
    expect(() => new SecureSumParty({ ...cfg, mode: "linear-only" }, f.zeros(5), seededRng("x"))).toThrow(/cannot add noise/);
    expect(() => new SecureSumParty({ ...cfg, mode: "plaintext" }, f.zeros(5), seededRng("x"))).toThrow(/cannot add noise/);
    expect(() => new SecureSumParty({ ...cfg, mode: "validated", length: 4 }, f.zeros(4), seededRng("x"))).toThrow(/every opened entry/);
    expect(() => planFor({ field: f, length: 200, predicates: [{ kind: "l2-norm", bound: 100n, projection: { rows: 200 } }], noise: uniform(200, 4n) })).toThrow(/projection/);
  });

  it("predicates without indices stay on x; the noise predicate covers exactly [d, 2d)", () => {
    const plan = planFor({ field: f, length: 6, predicates: [{ kind: "bits" }, { kind: "range", bits: 3 }], noise: uniform(6, 4n) });
    expect(plan.d).toBe(12);
    const items = (plan as unknown as { items: Array<{ kind: string; start: number; end: number }> }).items;
    expect(items.filter((i) => i.kind === "bits" || i.kind === "range").every((i) => i.start === 0 && i.end === 6)).toBe(true);
    expect(items.filter((i) => i.kind === "l2" || i.kind === "wrap").every((i) => i.start === 6 && i.end === 12)).toBe(true);
    expect(noisePredicate(f, uniform(6, 4n), 6)).toEqual({ kind: "l2-norm", bound: noiseNormBound(uniform(6, 4n)), indices: [6, 12], method: "pine" });
    expect(() => new ValidationPlan(f, 12, [], 13)).toThrow(/scope/);
  });

  it("B = ⌈Σσ² + 2√(tΣσ⁴) + 2t·max σ²⌉ (t ≥ 40 ln 2), and no honest vector of 4000 exceeds it", () => {
    expect(NOISE_TAIL_T).toBeGreaterThanOrEqual(40 * Math.LN2);
    const cfg: NoiseConfig = { segments: [{ start: 0, end: 30, sigma2: { num: 4n, den: 1n } }, { start: 30, end: 40, sigma2: { num: 100n, den: 1n } }] };
    const B = Number(noiseNormBound(cfg));
    const t = NOISE_TAIL_T, sum = 30 * 4 + 10 * 100, sq = 30 * 16 + 10 * 10000;
    expect(B).toBeGreaterThanOrEqual(sum + 2 * Math.sqrt(t * sq) + 2 * t * 100);
    expect(B).toBeLessThan((sum + 2 * Math.sqrt(t * sq) + 2 * t * 100) * 1.0001 + 3);
    const rng = seededRng("norms");
    let max = 0;
    for (let i = 0; i < 4000; i++) {
      const z = f.toBigInts(sampleNoise(f, rng, cfg)).map(lift);
      max = Math.max(max, z.reduce((a, v) => a + Number(v * v), 0));
    }
    expect(max).toBeLessThanOrEqual(B);
    expect(max).toBeGreaterThan(sum); // the bound is a tail bound, not the mean
  });

  it("signs are ±1, from the coin seed, about half each", () => {
    const s = f.toBigInts(signVector(f, new Uint8Array(32).fill(7), 4000)).map(lift);
    expect(s.every((v) => v === 1n || v === -1n)).toBe(true);
    const plus = s.filter((v) => v === 1n).length;
    expect(Math.abs(plus - 2000)).toBeLessThan(6 * Math.sqrt(1000));
    expect(f.toBigInts(signVector(f, new Uint8Array(32).fill(8), 64))).not.toEqual(f.toBigInts(signVector(f, new Uint8Array(32).fill(7), 64)));
  });
});

describe("noise inside the validated sum", () => {
  it("known answer: y = Σx + r ⊙ Σz exactly, r the same public signs at every party", () => {
    const d = 16;
    const inputs = randInputs(f, 3, d, "ka", 100);
    const z = [0, 1, 2].map((j) => f.fromInts(Array.from({ length: d }, (_, k) => ((k * 5 + j) % 9) - 4)));
    const parties = runNoised({ inputs, noise: uniform(d, 4n), seed: "ka", z });
    const r = parties[0]!.result!;
    expect(r.excluded).toEqual([]);
    for (const p of parties) expect(p.result!.signs).toEqual(r.signs);
    const want = Array.from({ length: d }, (_, k) => BigInt(r.signs![k]!) * z.reduce((a, v) => a + lift(f.get(v, k)), 0n));
    expect(releasedNoise(parties, inputs)).toEqual(want);
    expect(r.sum.length).toBe(d); // only d values are opened, never z
  });

  it("the released noise of honest parties matches N_Z(0, Σσ²) (χ², false alarm 1e-6; power: not N_Z(0, σ²) of one party, not N_Z(0, 2Σσ²))", () => {
    const d = 400, n = 3, s2 = 4;
    const samples: bigint[] = [];
    for (let run = 0; run < 8; run++) {
      const inputs = randInputs(f, n, d, `dist/${run}`, 1000);
      samples.push(...releasedNoise(runNoised({ inputs, noise: uniform(d, BigInt(s2)), seed: `dist/${run}` }), inputs));
    }
    const total = n * s2;
    const m = 12;
    const ok = chiSquare(samples, (x) => discreteGaussianPmf(total, x, 400), m);
    expect(ok.stat).toBeLessThan(ok.critical);
    expect(chiSquare(samples, (x) => discreteGaussianPmf(s2, x, 400), m).stat).toBeGreaterThan(ok.critical);
    expect(chiSquare(samples, (x) => discreteGaussianPmf(2 * total, x, 400), m).stat).toBeGreaterThan(ok.critical);
  });

  it("cheaters that omit their noise (z = 0) leave the honest party's N_Z(0, σ²) in the release (χ², false alarm 1e-6; power: not N_Z(0, σ²/4))", () => {
    const d = 400, s2 = 9;
    const samples: bigint[] = [];
    for (let run = 0; run < 6; run++) {
      const inputs = randInputs(f, 3, d, `omit/${run}`, 1000);
      const parties = runNoised({ inputs, noise: uniform(d, BigInt(s2)), seed: `omit/${run}`, z: [undefined, f.zeros(d), f.zeros(d)] });
      expect(parties[0]!.result!.excluded).toEqual([]); // z = 0 is within the bound: omitting noise is not caught, and need not be
      samples.push(...releasedNoise(parties, inputs));
    }
    const ok = chiSquare(samples, (x) => discreteGaussianPmf(s2, x, 400), 10);
    expect(ok.stat).toBeLessThan(ok.critical);
    expect(chiSquare(samples, (x) => discreteGaussianPmf(s2 / 4, x, 400), 10).stat).toBeGreaterThan(ok.critical);
  });

  it("a party whose noise exceeds the bound is excluded and named; its input and noise are left out", () => {
    const d = 32;
    const noise = uniform(d, 4n);
    const B = noiseNormBound(noise);
    let t = 0n;
    while (t * t <= B) t++; // t² = the least square above B
    const over = f.fromBigInts(Array.from({ length: d }, (_, k) => (k === 3 ? t : 0n)));
    const inputs = randInputs(f, 3, d, "over", 100);
    const parties = runNoised({ inputs, noise, seed: "over", z: [undefined, over, undefined] });
    expect(parties[0]!.result!.excluded).toEqual([1]);
    const rel = releasedNoise(parties, inputs); // y − x_0 − x_2: only the honest parties' noise
    expect(rel.reduce((a, v) => a + v * v, 0n)).toBeLessThanOrEqual(4n * B);
    // at the bound (t − 1)² ≤ B it passes
    const at = f.fromBigInts(Array.from({ length: d }, (_, k) => (k === 3 ? t - 1n : 0n)));
    expect(runNoised({ inputs, noise, seed: "at", z: [undefined, at, undefined] })[0]!.result!.excluded).toEqual([]);
  });

  it("a huge noise entry whose square wraps mod p is excluded (PINE wraparound checks)", () => {
    const d = 32, p = f.p;
    // Two large entries t, u with t² + u² ≡ s (mod p), s small: u = √(s − t²) for the first s that makes it a square.
    const t = (1n << 40n) + 12345n;
    let s = 1n, u = 0n;
    for (; ; s++) {
      const target = (((s - t * t) % p) + p) % p;
      if (modPow(target, (p - 1n) / 2n, p) === 1n) { u = modPow(target, (p + 1n) / 4n, p); break; }
    }
    expect((t * t + u * u) % p).toBe(s);
    expect(s).toBeLessThanOrEqual(noiseNormBound(uniform(d, 4n))); // the mod-p norm is within the bound
    expect(u > 1n << 40n && u < p - (1n << 40n)).toBe(true); // but the entries are huge
    const wrapping = f.fromBigInts(Array.from({ length: d }, (_, k) => (k === 0 ? t : k === 1 ? u : 0n)));
    const inputs = randInputs(f, 2, d, "wrap", 100);
    expect(runNoised({ inputs, noise: uniform(d, 4n), seed: "wrap", z: [wrapping, undefined] })[0]!.result!.excluded).toEqual([0]);
  });

  it("a cheater's chosen noise within the bound is sign-randomised: zero mean over releases (6 standard errors; power: its own direction would be ≫)", () => {
    const d = 400, s2 = 4n;
    const noise = uniform(d, s2);
    const B = noiseNormBound(noise);
    let c = 1n;
    while ((c + 1n) * (c + 1n) * BigInt(d) <= B) c++; // v = c·(1, …, 1): ‖v‖² ≤ B, all in one direction
    const v = f.fromBigInts(new Array<bigint>(d).fill(c));
    let sum = 0, count = 0;
    for (let run = 0; run < 5; run++) {
      const inputs = randInputs(f, 3, d, `bias/${run}`, 1000);
      const parties = runNoised({ inputs, noise, seed: `bias/${run}`, z: [f.zeros(d), v, f.zeros(d)] });
      expect(parties[0]!.result!.excluded).toEqual([]);
      const rel = releasedNoise(parties, inputs);
      const signs = parties[0]!.result!.signs!;
      rel.forEach((y, k) => expect(y).toBe(BigInt(signs[k]!) * c)); // exactly r ⊙ v
      sum += rel.reduce((a, y) => a + Number(y), 0); count += d;
    }
    const mean = sum / count, se = Number(c) / Math.sqrt(count);
    expect(Math.abs(mean)).toBeLessThan(6 * se);
    expect(Number(c)).toBeGreaterThan(5 * 6 * se); // unsigned, the mean would be c, far outside the test's range
  });

  it("a party that refuses the signs by a bad sign-coin opening is named, and no output is opened", () => {
    const d = 8, n = 3;
    const inputs = randInputs(f, n, d, "refuse", 100);
    let opens = 0;
    const parties = inputs.map((x, me) => new SecureSumParty(
      { field: f, parties: n, me, mode: "validated", length: d, predicates: [], sessionId: SID, noise: uniform(d, 4n) },
      x, seededRng(`refuse/${me}`), { offline: dealer(f, n, me, "refuse") }));
    const net = runNetwork(parties, {
      tamper: (e) => {
        if (e.from !== 1 || e.phase !== "coin.open") return e;
        // party 1's 5th coin opening (coin S) is changed, once per recipient
        if (Math.floor(opens++ / (n - 1)) !== 4) return e;
        const payload = e.payload.slice(); payload[40]! ^= 1;
        return { ...e, payload };
      },
    });
    for (const j of [0, 2]) {
      expect(net.errors[j]).toBeInstanceOf(ProtocolAbort);
      expect((net.errors[j] as ProtocolAbort).code).toBe("commitment-mismatch");
      expect((net.errors[j] as ProtocolAbort).culprits).toEqual([1]);
      expect(parties[j]!.outputReleased).toBe(false);
    }
  });

  it("the sign coin is opened after every input and noise vector, every pass/fail opening and every MAC-check commitment", () => {
    const d = 8, n = 3;
    const log: Array<{ from: number; to: number; phase: string }> = [];
    const inputs = randInputs(f, n, d, "order", 100);
    runNoised({ inputs, noise: uniform(d, 4n), seed: "order" }, { tamper: (e) => { log.push({ from: e.from, to: e.to, phase: e.phase }); return e; } });
    // Coins in order: A, G (PINE late inputs), C, B, S (signs), final: the sign coin is each party's 5th coin.open.
    for (let j = 0; j < n; j++) {
      const opens = log.map((e, i) => ({ ...e, i })).filter((e) => e.from === j && e.to === (j + 1) % n && e.phase === "coin.open");
      expect(opens.length).toBe(6);
      const s = opens[4]!.i;
      for (const phase of ["input.cope", "input.seed", "valid.open", "maccheck.commit"]) {
        // the first message of that phase from every party to every other (maccheck.commit also comes again, for the sum)
        const last = log.map((e, i) => (e.phase === phase ? i : -1)).filter((i) => i >= 0)[n * (n - 1) - 1] ?? -1;
        expect(last).toBeGreaterThan(-1);
        expect(s).toBeGreaterThan(last); // every party's message of that phase was sent before the sign coin
      }
      const firstSum = log.findIndex((e) => e.phase === "open.sum");
      expect(s).toBeLessThan(firstSum);
    }
  });
});
