import { describe, expect, it } from "vitest";
import { dirichlet, formatCsv, holdoutIndices, splitIndices } from "../../../examples/split.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { parseCsv } from "../../../client/data/parse.ts";
import { rowsOf, schemaOf } from "../stats/helpers.ts";

const schema = schemaOf("adult");
const rows = rowsOf(schema, "adult-test.csv");

describe("examples/split.ts", () => {
  it("IID: a deterministic partition with sizes within 1", () => {
    const a = splitIndices(rows, schema, { k: 5, seed: "s" });
    expect(a).toEqual(splitIndices(rows, schema, { k: 5, seed: "s" }));
    expect(a).not.toEqual(splitIndices(rows, schema, { k: 5, seed: "t" }));
    const all = a.flat().sort((x, y) => x - y);
    expect(all).toEqual(rows.map((_, i) => i));
    const sizes = a.map((s) => s.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it("non-IID by column: each level lives on one node", () => {
    const s = splitIndices(rows, schema, { k: 3, seed: "s", by: "race" });
    const levelsPer = s.map((ids) => new Set(ids.map((i) => rows[i]![8])));
    const seen = new Set<unknown>();
    for (const ls of levelsPer) for (const l of ls) { expect(seen.has(l)).toBe(false); seen.add(l); }
    expect(s.flat().length).toBe(rows.length);
    expect(() => splitIndices(rows, schema, { k: 3, seed: "s", by: "sex" })).toThrow(/fewer than k/);
  });

  it("label skew by Dirichlet(α): a binary label over 5 nodes; small α skews, large α is near IID", () => {
    const wdbc = schemaOf("wdbc");
    const wrows = rowsOf(wdbc, "wdbc.data");
    const label = wdbc.columns.findIndex((c) => c.type === "label");
    const malignantShare = (ids: number[]): number => ids.filter((i) => wrows[i]![label] === "M").length / Math.max(1, ids.length);
    const spread = (alpha: number): number => {
      const s = splitIndices(wrows, wdbc, { k: 5, seed: "d", by: "diagnosis", dirichlet: alpha });
      expect(s.flat().sort((a, b) => a - b)).toEqual(wrows.map((_, i) => i));
      expect(s).toEqual(splitIndices(wrows, wdbc, { k: 5, seed: "d", by: "diagnosis", dirichlet: alpha }));
      const shares = s.filter((ids) => ids.length >= 10).map(malignantShare);
      return Math.max(...shares) - Math.min(...shares);
    };
    expect(spread(0.1)).toBeGreaterThan(0.5);
    expect(spread(1000)).toBeLessThan(0.15);
    expect(() => splitIndices(wrows, wdbc, { k: 5, seed: "d", by: "radius_mean", dirichlet: 1 })).toThrow(/numeric/);
    expect(() => splitIndices(wrows, wdbc, { k: 5, seed: "d", dirichlet: 1 })).toThrow(/needs --by/);
    expect(() => splitIndices(wrows, wdbc, { k: 5, seed: "d", by: "diagnosis" })).toThrow(/--dirichlet/);
  });

  it("Dirichlet shares: on the simplex, mean 1/k (2000 draws, |mean − 1/k| < 6 standard errors: false alarm < 1e-8)", () => {
    const rng = seededRng("dir-test");
    const k = 4, alpha = 0.5, n = 2000, sums = new Array<number>(k).fill(0);
    for (let t = 0; t < n; t++) {
      const p = dirichlet(rng, alpha, k);
      expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      p.forEach((x, i) => { expect(x).toBeGreaterThanOrEqual(0); sums[i]! += x; });
    }
    // Var(p_i) = (1/k)(1 − 1/k)/(kα + 1).
    const se = Math.sqrt(((1 / k) * (1 - 1 / k)) / (k * alpha + 1) / n);
    for (const s of sums) expect(Math.abs(s / n - 1 / k)).toBeLessThan(6 * se);
    expect(() => dirichlet(rng, 0, 3)).toThrow(RangeError);
  });

  it("feature skew by a numeric column: k contiguous value ranges of equal size", () => {
    const s = splitIndices(rows, schema, { k: 4, seed: "s", by: "age" });
    expect(s.flat().length).toBe(rows.length);
    const ages = s.map((ids) => ids.map((i) => rows[i]![0] as number));
    for (let j = 0; j + 1 < 4; j++) expect(Math.max(...ages[j]!)).toBeLessThanOrEqual(Math.min(...ages[j + 1]!));
    const sizes = s.map((x) => x.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it("hold-out: a seeded, disjoint test set of ⌊f·n⌋ rows", () => {
    const h = holdoutIndices(1000, 0.2, "x");
    expect(h.test.length).toBe(200);
    expect(new Set([...h.test, ...h.rest]).size).toBe(1000);
    expect(h).toEqual(holdoutIndices(1000, 0.2, "x"));
    expect(h.test).not.toEqual(holdoutIndices(1000, 0.2, "y").test);
    expect(() => holdoutIndices(10, 1, "x")).toThrow(/between 0 and 1/);
  });

  it("written slices round-trip through the schema, labels normalised", () => {
    const text = formatCsv(schema, rows.slice(0, 200));
    expect(text).not.toMatch(/K\.\n/);
    expect(parseCsv(text, schema)).toEqual(rows.slice(0, 200));
  });
});

describe("CSV writer/parser round trip (property)", () => {
  it("formatCsv then parseCsv is the identity, including delimiters, quotes, spaces and newlines in levels", async () => {
    const fc = (await import("fast-check")).default;
    const { parseDatasetSchema } = await import("../../../protocol/stats/schema.ts");
    const levels = ["a,b", 'say "hi"', " padded ", "line\nbreak", "plain", "?x"];
    const s = parseDatasetSchema({
      version: 1, name: "odd", missing: ["?"],
      columns: [{ name: "x", type: "numeric" }, { name: "c", type: "categorical", levels }, { name: "k", type: "numeric", integer: true }],
    });
    const row = fc.tuple(
      fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null)),
      fc.oneof(fc.constantFrom(...levels), fc.constant(null)),
      fc.oneof(fc.integer(), fc.constant(null)),
    );
    fc.assert(fc.property(fc.array(row, { maxLength: 20 }), (rows) => {
      const norm = rows.map((r) => r.map((v) => (Object.is(v, -0) ? 0 : v)));
      expect(parseCsv(formatCsv(s, rows), s)).toEqual(norm);
    }));
  });
});
