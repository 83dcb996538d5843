import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSchemaFile, nodeFsAdapter } from "../../../client/data/node-fs.ts";
import { loadDataSource, watchDataSource, type LoadedDataset } from "../../../client/data/source.ts";
import { DataError } from "../../../client/data/parse.ts";

const dir = mkdtempSync(join(tmpdir(), "2pm-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Node file adapter", () => {
  it("loads the shipped schema and a data file; errors name the file path", async () => {
    const schema = await loadSchemaFile(new URL("../../../examples/schemas/pima.json", import.meta.url).pathname);
    const good = join(dir, "p.csv"), bad = join(dir, "bad.csv");
    writeFileSync(good, "6,148,72,35,0,33.6,0.627,50,1\n1,85,66,29,0,26.6,0.351,31,0\n");
    writeFileSync(bad, "6,148,72,35,0,33.6,0.627,50,1\n1,85,66,29,0,26.6,0.351,31,2\n");
    const ds = await loadDataSource(nodeFsAdapter(), { path: good, schema });
    expect(ds.rows.length).toBe(2);
    const err = await loadDataSource(nodeFsAdapter(), { path: bad, schema }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(`${bad}:2: column "diabetes": "2" is not a declared level ("0", "1")`);
  });

  it("rejects a malformed schema file naming it", async () => {
    const f = join(dir, "s.json");
    writeFileSync(f, JSON.stringify({ version: 1, name: "s", columns: [{ name: "a", type: "text" }] }));
    await expect(loadSchemaFile(f)).rejects.toThrow(new RegExp(`${f}: invalid dataset schema`));
  });

  it("watches a real file and recomputes the commitment when it changes", async () => {
    const schema = await loadSchemaFile(new URL("../../../examples/schemas/pima.json", import.meta.url).pathname);
    const f = join(dir, "w.csv");
    writeFileSync(f, "6,148,72,35,0,33.6,0.627,50,1\n");
    const seen: LoadedDataset[] = [];
    const w = watchDataSource(nodeFsAdapter({ pollMs: 20 }), { path: f, schema }, { onChange: (d) => seen.push(d), debounceMs: 10 });
    const first = await w.ready;
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(f, "6,148,72,35,0,33.6,0.627,50,1\n1,85,66,29,0,26.6,0.351,31,0\n");
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    w.stop();
    expect(seen.length).toBe(1);
    expect(seen[0]!.commitment.rows).toBe(2);
    expect(seen[0]!.commitment.digest).not.toBe(first.commitment.digest);
  });
});
