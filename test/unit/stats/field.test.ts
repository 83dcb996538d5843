import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ValidationPlan } from "../../../protocol/mascot/validation.ts";
import { computePlaintext, encodeContribution, finalise, parseStatsQuery } from "../../../protocol/stats/index.ts";
import { queryJson, rowsOf, schemaOf } from "./helpers.ts";

describe("contributions through the m61 field", () => {
  const schema = schemaOf("adult");
  const rows = rowsOf(schema, "adult-test.csv"); // labels end with "." in the file
  const query = parseStatsQuery(queryJson("adult-census"));

  it("field sum of the encoded slices finalises to the plaintext counts", () => {
    const slices = [0, 1, 2].map((k) => rows.filter((_, i) => i % 3 === k));
    const cs = slices.map((s) => encodeContribution(query, schema, s, { modulus: m61.p }));
    const acc = m61.fromBigInts(cs[0]!.values);
    for (const c of cs.slice(1)) m61.addInPlace(acc, m61.fromBigInts(c.values));
    const r = finalise(query, cs[0]!.layout, m61.toBigInts(acc), { parties: 3 });
    const p = computePlaintext(query, schema, rows);
    expect(r.measures.find((m) => m.name === "income_by_sex")).toEqual(p.measures.find((m) => m.name === "income_by_sex"));
    expect(r.measures[0]!.groups[0]!.count).toBe(16281);
  });

  it("the layout's predicates are accepted by MASCOT's validation plan", () => {
    const c = encodeContribution(query, schema, rows.slice(0, 100));
    expect(() => new ValidationPlan(m61, c.layout.length, c.layout.predicates)).not.toThrow();
  });
});
