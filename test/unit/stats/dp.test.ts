/**
 * Private statistics (protocol/stats/dp.ts, engine.ts finalisePrivate, query.ts `privacy`):
 * the noise plan (segments, sensitivities checked against the real encoding, ρ split), the
 * refusals (suppression, non-validated modes, noise too large for the field), the
 * post-processing of a noised aggregate, and one private census release through MASCOT.
 */
import { describe, expect, it } from "vitest";
import { m61, p128 } from "../../../protocol/field/index.ts";
import { compileQuery, encodeContribution, finalise, formatStatsResult, parseStatsQuery, StatsQueryError, sumContributions } from "../../../protocol/stats/index.ts";
import { statsPrivacyPlan } from "../../../protocol/stats/dp.ts";
import { validateStatsTask } from "../../../protocol/jobs/stats.ts";
import { resolveRho } from "../../../protocol/dp/privacy.ts";
import { SecureSumParty } from "../../../protocol/mascot/party.ts";
import { runNetwork } from "../../../protocol/mascot/testing/transport.ts";
import { planFor } from "../../../protocol/mascot/online.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { statsInput } from "../../../client/agent/tasks/stats.ts";
import { TaskRejected } from "../../../client/agent/tasks/errors.ts";
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import type { LoadedDataset } from "../../../client/data/source.ts";
import { dealer, SID } from "../mascot/helpers.ts";
import { queryJson, rowsOf, schemaOf } from "./helpers.ts";

const schema = schemaOf("adult");
const rows = rowsOf(schema, "adult-train.csv");
const census = queryJson("adult-census") as Record<string, unknown>;
const privacy = { epsilon: 1, delta: 1e-6 };
const privateCensus = (extra: Record<string, unknown> = {}) => parseStatsQuery({ ...census, minCount: 0, fracBits: 2, privacy, ...extra });

describe("private query spec", () => {
  it("accepts privacy as { rho } or { epsilon, delta } with minCount 0", () => {
    expect(privateCensus().privacy).toEqual(privacy);
    expect(parseStatsQuery({ ...census, minCount: 0, privacy: { rho: 0.5 } }).privacy).toEqual({ rho: 0.5 });
  });
  it("keeps suppression available with privacy (applied to the noisy counts); refuses weights without it", () => {
    expect(parseStatsQuery({ ...census, minCount: 5, suppressZeros: true, privacy }).minCount).toBe(5);
    expect(() => parseStatsQuery({ ...census, measures: [{ kind: "count", weight: 2 }] })).toThrow(/weight only applies/);
    expect(() => parseStatsQuery({ ...census, minCount: 0, privacy: { epsilon: 1 } })).toThrow(/privacy/);
  });
});

describe("noise plan", () => {
  const q = privateCensus();
  const layout = compileQuery(q, schema);
  const plan = statsPrivacyPlan(q, layout)!;

  it("is absent without privacy", () => {
    expect(statsPrivacyPlan(parseStatsQuery(census), compileQuery(parseStatsQuery(census), schema))).toBeUndefined();
  });

  it("noises every entry: segments tile the layout, one σ² each, count/sum/sumsq per measure", () => {
    let at = 0;
    for (const s of plan.noise.segments) { expect(s.start).toBe(at); at = s.end; }
    expect(at).toBe(layout.length);
    const roles = (name: string) => plan.measures.find((m) => m.name === name)!.segments.map((s) => s.role);
    expect(roles("rows")).toEqual(["count"]);
    expect(roles("age_mean")).toEqual(["count", "sum"]);
    expect(roles("age_variance")).toEqual(["count", "sum", "sumsq"]);
    expect(roles("education")).toEqual(["count"]);
    // every slack entry is inside a segment of its own measure
    for (const e of layout.entries) {
      const m = plan.measures.find((x) => x.name === e.measure)!;
      expect(m.segments.some((s) => e.index >= s.start && e.index < s.end)).toBe(true);
    }
  });

  it("sensitivities: count √2, sum U = round((hi − lo)·2^f), sumsq V = round((hi − lo)²·2^f)", () => {
    const v = plan.measures.find((m) => m.name === "age_variance")!;
    expect(v.segments.map((s) => s.sensitivity)).toEqual([Math.SQRT2, 73 * 4, 73 * 73 * 4]);
  });

  it("the sensitivities bound the real encoding: removing any one row moves each segment by at most Δ (200 rows tried)", () => {
    const slice = rows.slice(0, 400);
    const full = encodeContribution(q, schema, slice).values;
    const worst = new Map<string, number>();
    for (let r = 0; r < 400; r += 2) {
      const without = encodeContribution(q, schema, slice.filter((_, i) => i !== r)).values;
      for (const m of plan.measures) for (const s of m.segments) {
        let sq = 0;
        for (let i = s.start; i < s.end; i++) sq += Number(full[i]! - without[i]!) ** 2;
        const ratio = Math.sqrt(sq) / s.sensitivity;
        expect(ratio).toBeLessThanOrEqual(1 + 1e-12);
        const key = `${m.name}/${s.role}`;
        worst.set(key, Math.max(worst.get(key) ?? 0, ratio));
      }
    }
    // not vacuous: the count bound is attained, sums come within a factor 2
    expect(worst.get("rows/count")).toBeCloseTo(1, 9);
    expect(worst.get("age_mean/sum")!).toBeGreaterThan(0.5);
  });

  it("ρ: achieved ≤ requested (σ² rounded up), split by weight, then equally over a measure's parts", () => {
    const asked = resolveRho(privacy);
    expect(plan.rho).toBeLessThanOrEqual(asked);
    expect(plan.rho).toBeGreaterThan(asked * 0.9999);
    expect(plan.epsilon).toBeLessThanOrEqual(1);
    for (const m of plan.measures) expect(m.rho).toBeCloseTo(asked / 8, 6);
    const w = parseStatsQuery({ ...census, minCount: 0, fracBits: 2, privacy, measures: [{ name: "a", kind: "count", weight: 3 }, { name: "b", kind: "mean", column: "age", bounds: [17, 90] }] });
    const pw = statsPrivacyPlan(w, compileQuery(w, schema))!;
    expect(pw.measures[0]!.rho / pw.measures[1]!.rho).toBeCloseTo(3, 5);
    const mean = pw.measures[1]!;
    expect(mean.segments[0]!.rho).toBeCloseTo(mean.segments[1]!.rho, 5);
    // σ in the measure's units: count √(Δ²/2ρ) rows, sum in years
    const s = mean.segments[1]!;
    expect(s.sigma).toBeCloseTo(Math.sqrt(Number(s.sigma2.num) / Number(s.sigma2.den)) / 4, 6);
  });

  it("refuses noise that does not fit the field (m61 at fracBits 16), accepts it in p128", () => {
    const q16 = parseStatsQuery({ ...census, minCount: 0, privacy });
    expect(() => statsPrivacyPlan(q16, compileQuery(q16, schema))).toThrow(StatsQueryError);
    expect(() => statsPrivacyPlan(q16, compileQuery(q16, schema))).toThrow(/lower fracBits.*p128/);
    expect(statsPrivacyPlan(q16, compileQuery(q16, schema, { modulus: p128.p }))).toBeDefined();
  });
});

describe("submission and node refuse a private query without validation", () => {
  const task = { query: { ...census, minCount: 0, fracBits: 2, privacy }, schema: JSON.parse(JSON.stringify(schema)) as unknown };
  it("validateStatsTask: refused in linear-only and plaintext mode, accepted in validated; m61 noise overflow refused", () => {
    expect(() => validateStatsTask(task, "m61", 5, "adult", "linear-only")).toThrow(/mode "validated"/);
    expect(() => validateStatsTask(task, "m61", 5, "adult", "plaintext")).toThrow(/mode "validated"/);
    expect(validateStatsTask(task, "m61", 5, "adult", "validated").query.privacy).toEqual(privacy);
    expect(() => validateStatsTask({ ...task, query: { ...census, minCount: 0, privacy } }, "m61", 5, "adult")).toThrow(/p128/);
  });
  it("statsInput: the node declines a private linear-only round (privacy-mode) and hands the noise to the party in validated mode", () => {
    const dataset = { schema, rows: rows.slice(0, 100) } as unknown as LoadedDataset;
    const manifest = (mode: string) => ({ task, mode }) as unknown as RoundManifest;
    let err: unknown;
    try { statsInput(manifest("linear-only"), dataset, m61); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TaskRejected);
    expect((err as TaskRejected).code).toBe("privacy-mode");
    const local = statsInput(manifest("validated"), dataset, m61);
    expect(local.noise?.segments.at(-1)?.end).toBe(local.input.length);
    // fail-safe: a party given these predicates but not the noise refuses to start (no exact release) …
    const cfg = { field: m61, parties: 2, me: 0, mode: "validated" as const, length: local.input.length, predicates: local.predicates, sessionId: SID };
    expect(() => new SecureSumParty(cfg, local.input, seededRng("fs"))).toThrow(/bad indices/);
    // … and with the noise the listed noise predicate is used once
    expect(() => new SecureSumParty({ ...cfg, noise: local.noise! }, local.input, seededRng("fs"), { offline: dealer(m61, 2, 0, "fs") })).not.toThrow();
    expect(planFor({ ...cfg, noise: local.noise! }).wrapSets).toBe(1);
    const plain = statsInput({ task: { ...task, query: census }, mode: "linear-only" } as unknown as RoundManifest, dataset, m61);
    expect(plain.noise).toBeUndefined();
  });
});

describe("finalising a noised aggregate", () => {
  const q = parseStatsQuery({ version: 1, minCount: 0, fracBits: 0, privacy: { rho: 1 }, limits: { maxParties: 4, maxRowsPerParty: 65536 },
    measures: [{ name: "n", kind: "count" }, { name: "age", kind: "variance", column: "age", bounds: [17, 90] }, { name: "sex", kind: "histogram", column: "sex" }] });
  const layout = compileQuery(q, schema);
  const parts = [rows.slice(0, 3000), rows.slice(3000, 6000), rows.slice(6000, 9000)];
  const exact = sumContributions(parts.map((p) => encodeContribution(q, schema, p).values));
  const plan = statsPrivacyPlan(q, layout)!;

  it("post-processes within bounds, states ρ, (ε, δ) and σ per measure, suppresses nothing", () => {
    // a noise-like perturbation: ±σ-scale per entry, with negatives as p − |z|
    const noisy = exact.map((v, i) => (v + m61.p + BigInt(((i * 7) % 5) - 2) * 40n) % m61.p);
    const r = finalise(q, layout, noisy, { parties: 3 });
    expect(r.privacy).toMatchObject({ rho: plan.rho, rhoRequested: 1, noisyParties: 3, delta: 1e-6 });
    expect(r.privacy!.epsilon).toBeCloseTo(plan.epsilon, 12);
    expect(r.measures.map((m) => m.privacy!.rho)).toEqual(plan.measures.map((m) => m.rho));
    expect(r.measures[1]!.privacy!.sigma.sumsq).toBeDefined();
    const g = r.measures[1]!.groups[0]!;
    expect(g.mean!).toBeGreaterThanOrEqual(17);
    expect(g.mean!).toBeLessThanOrEqual(90);
    expect(Math.abs(g.count! - 9000)).toBeLessThanOrEqual(80);
    expect(r.anomalies).toEqual([]);
    expect(r.measures.every((m) => m.groups.every((x) => !x.suppressed))).toBe(true);
    expect(formatStatsResult(r)).toMatch(/privacy: ρ = .* zCDP, \(ε, δ\)/);
    expect(formatStatsResult(r)).toMatch(/noise σ per node: count/);
  });

  it("suppression stays available for private queries: minCount is applied to the released counts (post-processing)", () => {
    const qs = parseStatsQuery({ version: 1, minCount: 3100, fracBits: 0, privacy: { rho: 1 }, limits: { maxParties: 4, maxRowsPerParty: 65536 },
      measures: [{ name: "n", kind: "count" }, { name: "age", kind: "variance", column: "age", bounds: [17, 90] }, { name: "sex", kind: "histogram", column: "sex" }] });
    const ls = compileQuery(qs, schema);
    const ex = sumContributions(parts.map((p) => encodeContribution(qs, schema, p).values));
    const r = finalise(qs, ls, ex, { parties: 3 });
    // 9000 rows in all: the total is shown; each sex cell is compared with 3100 as released.
    expect(r.measures[0]!.groups[0]!.suppressed).toBe(false);
    const cells = r.measures[2]!.groups[0]!.histogram!;
    const exactCells = finalise(parseStatsQuery({ ...qs, privacy: undefined }), compileQuery(parseStatsQuery({ ...qs, privacy: undefined }), schema), ex, { parties: 3 }).measures[2]!.groups[0]!.histogram!;
    cells.forEach((c, i) => expect(c.suppressed).toBe(exactCells[i]!.suppressed));
    expect(cells.some((c) => c.suppressed)).toBe(true);
    expect(r.privacy).toBeDefined();
  });

  it("a count that noise made negative is clamped to 0; a variance to [0, (hi − lo)²/4]", () => {
    const noisy = [...exact];
    const g = layout.measures[1]!.groups[0]!;
    noisy[g.count!] = m61.p - 5n; // −5
    const r = finalise(q, layout, noisy, { parties: 3 });
    expect(r.measures[1]!.groups[0]!.count).toBe(0);
    expect(r.measures[1]!.groups[0]!.mean).toBeNull();
  });

  it("an entry beyond the noise bound is refused (corrupt aggregate); an identity broken beyond the noise is an anomaly", () => {
    const B = plan.normBound;
    let root = 0n;
    while (root * root < B) root++;
    const bad = [...exact];
    bad[0] = (m61.p - 3n * root - 1n) % m61.p; // below −P·√B
    expect(() => finalise(q, layout, bad, { parties: 3 })).toThrow(/outside/);
    // Counts only (B small; with a Σ² measure its σ dominates B and the tolerance is far looser: docs/dp.md).
    const qc = parseStatsQuery({ ...q, measures: [{ name: "n", kind: "count" }, { name: "sex", kind: "histogram", column: "sex" }] });
    const lc = compileQuery(qc, schema);
    const bc = statsPrivacyPlan(qc, lc)!.normBound;
    const ec = sumContributions(parts.map((p) => encodeContribution(qc, schema, p).values));
    expect(finalise(qc, lc, ec, { parties: 3 }).anomalies).toEqual([]);
    const broken = [...ec];
    const slack = lc.measures[0]!.rowSlack!;
    broken[slack] = broken[slack]! + 5000n; // within the range check (≤ P·(2^17 − 1) + P·√B), beyond the identity tolerance P·√B·√2
    expect(5000 * 5000).toBeGreaterThan(9 * 2 * Number(bc) + 1);
    expect(finalise(qc, lc, broken, { parties: 3 }).anomalies.join(" ")).toMatch(/identity broken beyond the noise/);
  });
});

describe("a private census release through MASCOT (3 parties, in process)", () => {
  it("every party adds noise; values are within 6σ·√N of the exact ones; the result states the guarantee", () => {
    const q = parseStatsQuery({ version: 1, minCount: 0, fracBits: 0, privacy: { rho: 2 }, limits: { maxParties: 4, maxRowsPerParty: 65536 },
      measures: [{ name: "n", kind: "count" }, { name: "age", kind: "mean", column: "age", bounds: [17, 90] }, { name: "edu", kind: "histogram", column: "education" }] });
    const layout = compileQuery(q, schema);
    const plan = statsPrivacyPlan(q, layout)!;
    const parts = [rows.slice(0, 2000), rows.slice(2000, 4000), rows.slice(4000, 6000)];
    const n = parts.length;
    const parties = parts.map((p, me) => new SecureSumParty(
      { field: m61, parties: n, me, mode: "validated", length: layout.length, predicates: layout.predicates, sessionId: SID, noise: plan.noise },
      m61.fromBigInts(encodeContribution(q, schema, p).values), seededRng(`census/${me}`), { offline: dealer(m61, n, me, "census") }));
    const net = runNetwork(parties);
    expect(net.errors.filter((e) => e !== undefined)).toEqual([]);
    const res = parties[0]!.result!;
    expect(res.excluded).toEqual([]);
    const exact = sumContributions(parts.map((p) => encodeContribution(q, schema, p).values));
    const noisy = m61.toBigInts(res.sum);
    expect(noisy).not.toEqual(exact);
    for (const m of plan.measures) for (const s of m.segments) {
      const sd = Math.sqrt((n * Number(s.sigma2.num)) / Number(s.sigma2.den));
      for (let i = s.start; i < s.end; i++) {
        const d = Number(noisy[i]! > m61.p / 2n ? noisy[i]! - m61.p : noisy[i]!) - Number(exact[i]!);
        expect(Math.abs(d)).toBeLessThan(6 * sd);
      }
    }
    const r = finalise(q, layout, noisy, { parties: n });
    expect(r.privacy!.rho).toBeLessThanOrEqual(2);
    expect(r.anomalies).toEqual([]);
    expect(Math.abs(r.measures[1]!.groups[0]!.mean! - finalise(parseStatsQuery({ ...q, privacy: undefined }), compileQuery(parseStatsQuery({ ...q, privacy: undefined }), schema), exact, { parties: n }).measures[1]!.groups[0]!.mean!)).toBeLessThan(1);
  });
});
