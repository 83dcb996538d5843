import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  compareStatsResults, computePlaintext, encodeContribution, finalise, histogramQuantile, quantileBin, parseDatasetSchema, parseStatsQuery, sumContributions,
  type Row, type StatsQuery,
} from "../../../protocol/stats/index.ts";

const schema = parseDatasetSchema({
  version: 1,
  name: "synthetic",
  missing: ["?"],
  columns: [
    { name: "x", type: "numeric" },
    { name: "k", type: "numeric", integer: true },
    { name: "c", type: "categorical", levels: ["a", "b", "c"] },
    { name: "g", type: "categorical", levels: ["u", "v"] },
  ],
});

const rowArb: fc.Arbitrary<Row> = fc.tuple(
  fc.oneof({ weight: 9, arbitrary: fc.double({ min: -50, max: 150, noNaN: true }) }, { weight: 1, arbitrary: fc.constant(null) }),
  fc.integer({ min: -5, max: 40 }),
  fc.oneof(fc.constantFrom("a", "b", "c"), fc.constant(null)),
  fc.constantFrom("u", "v"),
);

function makeQuery(fracBits: number, minCount: number, lo: number, width: number, filters: unknown[] = []): StatsQuery {
  const bounds = [lo, lo + width];
  return parseStatsQuery({
    version: 1, minCount, fracBits, filters,
    limits: { maxParties: 8, maxRowsPerParty: 1000 },
    measures: [
      { kind: "count" },
      { kind: "count", column: "x", groupBy: "g", name: "nx" },
      { kind: "sum", column: "k", bounds: [-5, 40] },
      { kind: "mean", column: "x", bounds },
      { kind: "variance", column: "x", bounds, groupBy: "g" },
      { kind: "stddev", column: "x", bounds },
      { kind: "histogram", column: "c", groupBy: "g" },
      { kind: "histogram", column: "x", bins: [0, 10, 20, 50, 100] },
      { kind: "quantiles", column: "x", probs: [0, 0.1, 0.5, 0.9, 1], bins: [-50, 0, 25, 50, 75, 100, 150] },
      { kind: "quantiles", column: "k", probs: [0.5], bins: [-5, 10, 40], groupBy: "c" },
      { kind: "histogram", column: "c", levels: ["c", "a"], name: "c subset" },
      { kind: "count", column: "c", name: "c present" },
    ],
  });
}

const paramsArb = fc.record({
  fracBits: fc.integer({ min: 4, max: 20 }),
  lo: fc.integer({ min: -60, max: 20 }),
  width: fc.integer({ min: 1, max: 200 }),
});

/** Splits rows into `parts` consecutive slices at the given cut points. */
function cut(rows: Row[], cuts: number[]): Row[][] {
  const pts = [...new Set(cuts.map((c) => Math.floor(c * rows.length)))].sort((a, b) => a - b);
  const out: Row[][] = [];
  let s = 0;
  for (const p of [...pts, rows.length]) { out.push(rows.slice(s, p)); s = p; }
  return out;
}

describe("statistics properties", () => {
  it("encoding is additive: encode(A ++ B) = encode(A) + encode(B) exactly", () => {
    fc.assert(fc.property(fc.array(rowArb, { maxLength: 40 }), fc.array(rowArb, { maxLength: 40 }), paramsArb, (a, b, p) => {
      const q = makeQuery(p.fracBits, 0, p.lo, p.width);
      const ea = encodeContribution(q, schema, a), eb = encodeContribution(q, schema, b);
      // additive, except that each slack's per-party constant is counted once per encoding
      const expected = sumContributions([ea.values, eb.values]);
      for (const id of ea.layout.identities) expected[id.slack] = expected[id.slack]! - id.constant;
      expect(encodeContribution(q, schema, [...a, ...b]).values).toEqual(expected);
    }), { numRuns: 60 });
  });

  it("every entry lies in [0, maxPerParty] and so passes the range predicates", () => {
    fc.assert(fc.property(fc.array(rowArb, { maxLength: 60 }), paramsArb, (rows, p) => {
      const c = encodeContribution(makeQuery(p.fracBits, 0, p.lo, p.width), schema, rows);
      c.values.forEach((v, i) => {
        expect(v >= 0n && v <= c.layout.maxPerParty[i]!).toBe(true);
        expect(v < 1n << BigInt(c.layout.bits[i]!)).toBe(true);
      });
      // predicates cover every index exactly once
      const covered = c.layout.predicates.flatMap((pr) => (pr.kind === "range" ? [pr.indices!] : []));
      expect(covered.map(([s, e]) => e - s).reduce((x, y) => x + y, 0)).toBe(c.layout.length);
    }), { numRuns: 60 });
  });

  it("secure finalisation matches the plaintext reference: counts exact, moments within the fixed-point tolerance", () => {
    fc.assert(fc.property(fc.array(rowArb, { maxLength: 120 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), paramsArb, (rows, cuts, p) => {
      const q = makeQuery(p.fracBits, 0, p.lo, p.width);
      const slices = cut(rows, cuts);
      const cs = slices.map((s) => encodeContribution(q, schema, s));
      const sec = finalise(q, cs[0]!.layout, sumContributions(cs.map((c) => c.values)), { parties: slices.length });
      const pln = computePlaintext(q, schema, rows);
      expect(sec.anomalies).toEqual([]); // honest committees never trip the consistency checks
      expect(compareStatsResults(cs[0]!.layout, sec, pln)).toEqual([]);
      const u = 2 ** -(p.fracBits + 1);
      const scale = Math.max(1, Math.abs(p.lo), Math.abs(p.lo + p.width));
      sec.measures.forEach((m, mi) => {
        const pm = pln.measures[mi]!;
        m.groups.forEach((g, gi) => {
          const pg = pm.groups[gi]!;
          expect(g.count).toBe(pg.count);
          expect(g.histogram).toEqual(pg.histogram);
          expect(g.quantiles).toEqual(pg.quantiles);
          const eps = 1e-12 * scale * scale;
          if (pg.sum != null) expect(Math.abs(g.sum! - pg.sum)).toBeLessThanOrEqual(pg.count! * u + eps * pg.count!);
          if (pg.mean != null) expect(Math.abs(g.mean! - pg.mean)).toBeLessThanOrEqual(u + eps);
          if (pg.variancePopulation != null) {
            expect(Math.abs(g.variancePopulation! - pg.variancePopulation)).toBeLessThanOrEqual((1 + 2 * p.width) * u + u * u + eps);
          }
          if (pg.stddevPopulation != null) {
            // |√a − √b| ≤ √|a − b|
            expect(Math.abs(g.stddevPopulation! - pg.stddevPopulation)).toBeLessThanOrEqual(Math.sqrt((1 + 2 * p.width) * u + u * u + eps) + 1e-9);
          }
        });
      });
    }), { numRuns: 150 });
  });

  it("integer data in integer bounds gives exact sums, means and variances", () => {
    fc.assert(fc.property(fc.array(rowArb, { minLength: 2, maxLength: 80 }), (rows) => {
      const q = makeQuery(8, 0, -5, 200);
      const c = encodeContribution(q, schema, rows);
      const sec = finalise(q, c.layout, c.values, { parties: 1 });
      const pln = computePlaintext(q, schema, rows);
      const s = sec.measures[2]!.groups[0]!, pl = pln.measures[2]!.groups[0]!;
      expect(s.sum).toBe(pl.sum); // column k is integral
    }), { numRuns: 40 });
  });

  it("cells below minCount are suppressed and their derived values withheld", () => {
    fc.assert(fc.property(fc.array(rowArb, { maxLength: 60 }), fc.integer({ min: 1, max: 30 }), (rows, minCount) => {
      const q = makeQuery(16, minCount, 0, 100);
      const c = encodeContribution(q, schema, rows);
      const r = finalise(q, c.layout, c.values, { parties: 1 });
      for (const m of r.measures) for (const g of m.groups) {
        if (g.suppressed) {
          expect(g.count).toBeNull();
          for (const k of ["sum", "mean", "variancePopulation", "varianceSample", "stddevPopulation", "stddevSample"] as const) {
            if (k in g) expect(g[k]).toBeNull();
          }
          for (const qv of g.quantiles ?? []) expect(qv.value).toBeNull();
        }
        for (const cell of g.histogram ?? []) {
          expect(cell.suppressed).toBe(cell.count === null);
          // Published cells are empty or at least minCount: a small non-empty cell never shows.
          if (cell.count !== null && cell.count !== 0) expect(cell.count).toBeGreaterThanOrEqual(minCount);
        }
        // The total never lets a reader recover a small hidden count by subtraction.
        if (g.histogram && g.count !== null && g.histogram.some((h) => h.suppressed)) {
          const shown = g.histogram.reduce((a, h) => a + (h.count ?? 0), 0);
          expect(g.count - shown).toBeGreaterThanOrEqual(minCount);
        }
      }
    }), { numRuns: 60 });
  });

  it("empty histogram cells are published as 0 unless suppressZeros; the total survives them", () => {
    const data: Row[] = Array.from({ length: 40 }, () => [10, 5, "a", "u"]);
    const hist = (suppressZeros: boolean) => {
      const q = parseStatsQuery({ version: 1, minCount: 5, suppressZeros, measures: [{ name: "h", kind: "histogram", column: "c" }] });
      const c = encodeContribution(q, schema, data);
      return finalise(q, c.layout, c.values, { parties: 1 }).measures[0]!.groups[0]!;
    };
    const open = hist(false);
    expect(open.histogram!.filter((h) => h.count === 0).length).toBeGreaterThan(0);
    expect(open.histogram!.some((h) => h.suppressed)).toBe(false);
    expect(open.count).toBe(40);
    const strict = hist(true);
    expect(strict.histogram!.filter((h) => h.suppressed).length).toBe(open.histogram!.filter((h) => h.count === 0).length);
    expect(strict.count).toBeNull(); // the hidden cells sum to 0 < minCount: the total would reveal it
  });

  it("a quantile names the bin it falls in and how it was computed", () => {
    const edges = [0, 10, 20, 30];
    expect(quantileBin(edges, [0, 8, 2], 0.5)).toEqual({ value: 16.25, bin: [10, 20] });
    expect(quantileBin(edges, [0, 8, 2], 1)!.bin).toEqual([20, 30]);
    expect(quantileBin(edges, [0, 0, 0], 0.5)).toBeNull();
    // Heaped data: every row is 12; the reported bin is exact, the interpolated value is not.
    const q = parseStatsQuery({ version: 1, minCount: 1, measures: [{ name: "q", kind: "quantiles", column: "x", probs: [0.5], bins: edges }] });
    const c = encodeContribution(q, schema, Array.from({ length: 9 }, (): Row => [12, 0, "a", "u"]));
    const got = finalise(q, c.layout, c.values, { parties: 1 }).measures[0]!.groups[0]!.quantiles![0]!;
    expect(got).toMatchObject({ p: 0.5, bin: [10, 20], method: "histogram-interpolation" });
    expect(got.value).toBe(15);
  });

  it("filters equal pre-filtering the rows", () => {
    fc.assert(fc.property(fc.array(rowArb, { maxLength: 60 }), fc.integer({ min: -5, max: 40 }), (rows, t) => {
      const filters = [{ column: "k", op: "ge", value: t }, { column: "c", op: "in", value: ["a", "c"] }];
      const a = computePlaintext(makeQuery(16, 0, 0, 100, filters), schema, rows);
      const kept = rows.filter((r) => (r[1] as number) >= t && (r[2] === "a" || r[2] === "c"));
      expect(a).toEqual(computePlaintext(makeQuery(16, 0, 0, 100), schema, kept));
    }), { numRuns: 60 });
  });

  it("histogram quantiles are monotone in p and stay within the edges", () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 10 }),
      (cells, probs) => {
        const edges = [0, ...cells.map((_, i) => (i + 1) * 10)];
        const qs = [...probs].sort((a, b) => a - b).map((p) => histogramQuantile(edges, cells, p));
        if (cells.every((c) => c === 0)) { expect(qs.every((v) => v === null)).toBe(true); return; }
        for (let i = 0; i < qs.length; i++) {
          expect(qs[i]!).toBeGreaterThanOrEqual(0);
          expect(qs[i]!).toBeLessThanOrEqual(edges[edges.length - 1]!);
          if (i > 0) expect(qs[i]!).toBeGreaterThanOrEqual(qs[i - 1]!);
        }
      },
    ));
    expect(histogramQuantile([0, 10, 20], [5, 5], 0.5)).toBe(10);
    expect(histogramQuantile([0, 10, 20], [5, 5], 0.25)).toBe(5);
    expect(histogramQuantile([0, 10, 20], [0, 4], 0)).toBe(10);
  });

  it("known answers: rounding to nearest, population and sample variance", () => {
    const q = (f: number) => parseStatsQuery({ version: 1, minCount: 0, fracBits: f, measures: [{ kind: "variance", column: "x", bounds: [0, 10] }, { kind: "stddev", column: "x", bounds: [0, 10] }] });
    const rows: Row[] = [1, 2, 3, 4].map((x) => [x, 0, "a", "u"]);
    const c = encodeContribution(q(16), schema, rows);
    const r = finalise(q(16), c.layout, c.values, { parties: 1 }).measures;
    expect(r[0]!.groups[0]).toMatchObject({ count: 4, mean: 2.5, variancePopulation: 1.25, varianceSample: 5 / 3 });
    expect(r[1]!.groups[0]!.stddevPopulation).toBeCloseTo(Math.sqrt(1.25), 14);
    // a value 0.9 units of 2^-f above a grid point is rounded up, not truncated
    const f = 10, x = 3 + 0.9 * 2 ** -f;
    const c2 = encodeContribution(q(f), schema, [[x, 0, "a", "u"]]);
    const m = finalise(q(f), c2.layout, c2.values, { parties: 1 }).measures[0]!.groups[0]!.mean!;
    expect(Math.abs(m - x)).toBeLessThanOrEqual(2 ** -(f + 1));
    // values outside the bounds are clipped
    const c3 = encodeContribution(q(f), schema, [[-4, 0, "a", "u"], [25, 0, "a", "u"]]);
    expect(finalise(q(f), c3.layout, c3.values, { parties: 1 }).measures[0]!.groups[0]).toMatchObject({ mean: 5, variancePopulation: 25 });
    expect(computePlaintext(q(f), schema, [[-4, 0, "a", "u"], [25, 0, "a", "u"]]).measures[0]!.groups[0]).toMatchObject({ mean: 5, variancePopulation: 25 });
  });

  it("Σ entries stay exact beyond 2^53 (partial sums flushed to BigInt)", () => {
    const q = parseStatsQuery({ version: 1, minCount: 0, fracBits: 32, limits: { maxParties: 1, maxRowsPerParty: 16 }, measures: [{ kind: "sum", column: "x", bounds: [0, 2 ** 20] }] });
    const xs = [2 ** 20, 2 ** 20 - 0.25, 2 ** 20, 123.5, 2 ** 20, 2 ** 20 - 1];
    const c = encodeContribution(q, schema, xs.map((x) => [x, 0, "a", "u"]));
    const exact = xs.reduce((a, x) => a + BigInt(x * 2 ** 32), 0n);
    expect(exact > 2n ** 53n).toBe(true);
    expect(c.values[c.layout.measures[0]!.groups[0]!.sum!]).toBe(exact);
  });

  it("zero-variance data (all values equal) never trips the Cauchy–Schwarz anomaly check", () => {
    fc.assert(fc.property(fc.double({ min: -50, max: 150, noNaN: true }), fc.integer({ min: 1, max: 200 }), paramsArb, (x, n, p) => {
      const q = makeQuery(p.fracBits, 0, p.lo, p.width);
      const c = encodeContribution(q, schema, Array.from({ length: n }, () => [x, 1, "a", "u"] as Row));
      const r = finalise(q, c.layout, c.values, { parties: 1 });
      expect(r.anomalies).toEqual([]);
      expect(r.measures[4]!.groups[0]!.variancePopulation!).toBeLessThanOrEqual((1 + 2 * p.width) * 2 ** -(p.fracBits + 1) + 2 ** -(2 * p.fracBits + 2));
    }), { numRuns: 200 });
  });
});
