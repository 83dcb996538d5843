import { describe, expect, it } from "vitest";
import { formatCsv, splitIndices } from "../../../examples/split.ts";
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
    expect(() => splitIndices(rows, schema, { k: 3, seed: "s", by: "age" })).toThrow(/numeric/);
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
