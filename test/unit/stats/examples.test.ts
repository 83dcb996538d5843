import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileQuery, computePlaintext, encodeContribution, finalise, parseStatsQuery } from "../../../protocol/stats/index.ts";
import { queryJson, rowsOf, schemaOf } from "./helpers.ts";

const files: Record<string, string> = { adult: "adult-test.csv", pima: "pima-indians-diabetes.csv", wdbc: "wdbc.data" };
const queries = readdirSync(new URL("../../../examples/queries/", import.meta.url)).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));

describe.each(queries)("examples/queries/%s.json", (name) => {
  it("compiles against its dataset's schema and finalises like the plaintext reference", () => {
    const q = parseStatsQuery(queryJson(name));
    const schema = schemaOf(q.dataset!);
    const layout = compileQuery(q, schema);
    expect(layout.predicates.length).toBeGreaterThan(0);
    const rows = rowsOf(schema, files[q.dataset!]!);
    const c = encodeContribution(q, schema, rows.slice(0, Math.min(rows.length, q.limits.maxRowsPerParty)));
    const r = finalise(q, c.layout, c.values, { parties: 1 });
    const p = computePlaintext(q, schema, rows.slice(0, Math.min(rows.length, q.limits.maxRowsPerParty)));
    r.measures.forEach((m, i) => m.groups.forEach((g, j) => expect(g.count).toBe(p.measures[i]!.groups[j]!.count)));
  });
});
