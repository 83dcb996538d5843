/**
 * `npx tsx bench/run.ts dp [--releases=5] [--n=5] [--epsilon=1] [--delta=1e-6] [--configs=m61:2,p128:16]`:
 * differentially private statistics inside MASCOT (issue 19), in process (all parties on one
 * thread, real offline phase, cryptoRng), on the adult census query (examples/queries/
 * adult-census.json) over examples/data/adult-train.csv split over N = 5 nodes:
 *  - utility: each release's values against the same query without DP (same fracBits, same
 *    committee: the exact validated aggregate), per measure: mean relative error
 *    |noisy − exact| / |exact| over its values and releases (histogram cells with fewer than
 *    10 rows are left out of the relative figure: their relative error says nothing);
 *  - cost: the DP round (noise input, its PINE norm check, the sign coin) against the same
 *    round without DP, per party: CPU seconds and uploaded bytes, and the difference per
 *    released value (the layout's entries).
 * A private query needs minCount 0; in m61 it needs a small fracBits (the noise, not the
 * rounding, dominates: docs/dp.md), in p128 the query's own 16 fits.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fieldByName } from "../protocol/field/index.ts";
import type { Field } from "../protocol/field/types.ts";
import { SecureSumParty } from "../protocol/mascot/party.ts";
import { runNetwork } from "../protocol/mascot/testing/transport.ts";
import { compileQuery, encodeContribution, finalise, parseStatsQuery, type StatsQuery, type StatsResult } from "../protocol/stats/index.ts";
import { parseDatasetSchema, type DatasetSchema, type Row } from "../protocol/stats/schema.ts";
import { statsPrivacyPlan } from "../protocol/stats/dp.ts";
import { parseCsv } from "../client/data/parse.ts";
import { cryptoRng } from "../protocol/rng.ts";
import type { BenchResult } from "./types.ts";
import { Timed } from "./timing.ts";
import { optArg as arg } from "./args.ts";

const ROOT = path.resolve(import.meta.dirname, "..");


/** One in-process validated round; returns the finalised result and per-party cost. */
function round(field: Field, query: StatsQuery, schema: DatasetSchema, parts: Row[][], tag: string) {
  const layout = compileQuery(query, schema, { modulus: field.p });
  const plan = statsPrivacyPlan(query, layout);
  const n = parts.length;
  const sid = new TextEncoder().encode(`bench/dp/${tag}`);
  const parties = parts.map((rows, me) => {
    const c = encodeContribution(query, schema, rows, { modulus: field.p });
    return new Timed(new SecureSumParty({
      field, parties: n, me, mode: "validated", length: layout.length, predicates: layout.predicates, sessionId: sid,
      ...(plan ? { noise: plan.noise } : {}),
    }, field.fromBigInts(c.values), cryptoRng));
  });
  const t0 = performance.now();
  const net = runNetwork(parties);
  const wall = (performance.now() - t0) / 1000;
  const err = net.errors.find((e) => e !== undefined);
  if (err) throw err instanceof Error ? err : new Error(String(err));
  const r = parties[0]!.p.result!;
  if (r.excluded.length) throw new Error(`bench/dp: honest parties excluded: ${r.excluded.join(",")}`);
  const result = finalise(query, layout, field.toBigInts(r.sum), { parties: n });
  return { result, wall, cpu: Math.max(...parties.map((p) => p.cpu)) / 1000, up: Math.max(...net.bytesSent), entries: layout.length };
}

/** (measure, value label) → value, for every scalar a result releases. */
function scalars(r: StatsResult): Map<string, { measure: string; v: number; isCell: boolean }> {
  const out = new Map<string, { measure: string; v: number; isCell: boolean }>();
  for (const m of r.measures) for (const g of m.groups) {
    const k = `${m.name}/${g.key ?? ""}`;
    const put = (what: string, v: number | null | undefined, isCell = false) => { if (typeof v === "number") out.set(`${k}/${what}`, { measure: m.name, v, isCell }); };
    if (g.histogram) g.histogram.forEach((c) => put(`cell ${c.label}`, c.count, true));
    else if (g.quantiles) g.quantiles.forEach((q) => put(`p${q.p}`, q.value));
    else put("count", g.count);
    put("mean", g.mean);
    put("variance", g.variancePopulation);
  }
  return out;
}

export async function run(args: string[]): Promise<BenchResult> {
  const releases = Number(arg(args, "releases") ?? 5);
  const n = Number(arg(args, "n") ?? 5);
  const epsilon = Number(arg(args, "epsilon") ?? 1), delta = Number(arg(args, "delta") ?? 1e-6);
  const configs = (arg(args, "configs") ?? "m61:2,p128:16").split(",").map((c) => { const [f, b] = c.split(":"); return { field: f as "m61" | "p128", fracBits: Number(b) }; });
  const schema = parseDatasetSchema(JSON.parse(readFileSync(path.join(ROOT, "examples/schemas/adult.json"), "utf8")), "adult");
  const rows = parseCsv(readFileSync(path.join(ROOT, "examples/data/adult-train.csv"), "utf8"), schema, { file: "adult-train.csv" });
  const parts: Row[][] = Array.from({ length: n }, (_, j) => rows.filter((_, i) => i % n === j));
  const base = JSON.parse(readFileSync(path.join(ROOT, "examples/queries/adult-census.json"), "utf8")) as Record<string, unknown>;
  const out: BenchResult["rows"] = [];
  const notes: string[] = [];
  for (const cfg of configs) {
    const field = fieldByName(cfg.field);
    const exactQ = parseStatsQuery({ ...base, minCount: 0, fracBits: cfg.fracBits });
    const dpQ = parseStatsQuery({ ...base, minCount: 0, fracBits: cfg.fracBits, privacy: { epsilon, delta } });
    const plan = statsPrivacyPlan(dpQ, compileQuery(dpQ, schema, { modulus: field.p }))!;
    const exact = round(field, exactQ, schema, parts, `${cfg.field}/exact`);
    const truth = scalars(exact.result);
    const err = new Map<string, { sum: number; k: number }>();
    let dpCpu = 0, dpUp = 0, dpWall = 0, allSum = 0, allK = 0;
    for (let t = 0; t < releases; t++) {
      const r = round(field, dpQ, schema, parts, `${cfg.field}/dp/${t}`);
      dpCpu += r.cpu / releases; dpUp += r.up / releases; dpWall += r.wall / releases;
      for (const [key, v] of scalars(r.result)) {
        const tv = truth.get(key);
        if (!tv || (tv.isCell && Math.abs(tv.v) < 10) || tv.v === 0) continue;
        const rel = Math.abs(v.v - tv.v) / Math.abs(tv.v);
        const e = err.get(v.measure) ?? { sum: 0, k: 0 };
        e.sum += rel; e.k++; err.set(v.measure, e);
        allSum += rel; allK++;
      }
    }
    for (const m of plan.measures) {
      const e = err.get(m.name);
      const s = m.segments.map((sg) => `${sg.role} ${sg.sigma.toPrecision(3)}`).join(", ");
      out.push({ field: cfg.field, fracBits: cfg.fracBits, what: `utility: ${m.name}`, rel_error: e ? +(e.sum / e.k).toPrecision(3) : "n/a", rho: +m.rho.toPrecision(3), sigma_per_node: s });
    }
    out.push({ field: cfg.field, fracBits: cfg.fracBits, what: "utility: all values", rel_error: +(allSum / allK).toPrecision(3), rho: +plan.rho.toPrecision(4), sigma_per_node: `ε = ${plan.epsilon.toPrecision(4)} at δ = ${delta}` });
    const d = exact.entries;
    out.push({
      field: cfg.field, fracBits: cfg.fracBits, what: "cost: without DP", entries: d, party_cpu_s: +exact.cpu.toFixed(3), KB_up_per_party: +(exact.up / 1e3).toFixed(1), wall_s: +exact.wall.toFixed(2),
    });
    out.push({
      field: cfg.field, fracBits: cfg.fracBits, what: `cost: with DP (mean of ${releases})`, entries: d, party_cpu_s: +dpCpu.toFixed(3), KB_up_per_party: +(dpUp / 1e3).toFixed(1), wall_s: +dpWall.toFixed(2),
      ms_per_value: +(((dpCpu - exact.cpu) * 1000) / d).toFixed(2), bytes_per_value: Math.round((dpUp - exact.up) / d),
    });
    console.error(`bench/dp ${cfg.field} f=${cfg.fracBits}: rel error ${(allSum / allK).toPrecision(3)}, cpu ${exact.cpu.toFixed(2)} → ${dpCpu.toFixed(2)} s`);
  }
  notes.push(`adult census query (examples/queries/adult-census.json, minCount 0), ${rows.length} rows of adult-train.csv round-robin over N = ${n} nodes; privacy { epsilon: ${epsilon}, delta: ${delta} } per query (one release), ρ split equally over the 8 measures, then over each measure's count/sum/sumsq parts`);
  notes.push("rel_error: mean over releases and values of |noisy − exact| / |exact| against the same query without DP (same committee, same fracBits); histogram cells under 10 rows left out; sigma_per_node in the measure's units (rows; value; value² for Σ(x − lo)²), released noise has N times that variance");
  notes.push("cost: slowest party's CPU (s) and uploaded bytes of one round, in process with the real offline phase; ms_per_value / bytes_per_value = (DP − no DP) / entries, the price of the noise input, its PINE norm check and the sign coin");
  return { name: "dp", rows: out, notes };
}
