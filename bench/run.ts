/**
 * `npm run bench -- <name> [args...]`: runs bench/<name>.ts, prints a table and writes
 * bench/results/<name>.json. Exits non-zero with a one-line message on an unknown name.
 */
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadNote, type BenchResult, type BenchRun } from "./types.ts";

function printTable(r: BenchResult): void {
  const cols = [...new Set(r.rows.flatMap((row) => Object.keys(row)))];
  const fmt = (v: unknown) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v ?? ""));
  const widths = cols.map((c) => Math.max(c.length, ...r.rows.map((row) => fmt(row[c]).length)));
  const line = (cells: string[]) => cells.map((s, i) => s.padEnd(widths[i]!)).join("  ");
  console.log(`\n== bench: ${r.name} ==`);
  console.log(line(cols));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of r.rows) console.log(line(cols.map((c) => fmt(row[c]))));
  for (const n of r.notes ?? []) console.log(`  note: ${n}`);
}

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const dir = import.meta.dirname;
  if (!name || !/^[a-z0-9-]+$/.test(name) || !existsSync(path.join(dir, `${name}.ts`))) {
    console.error(`bench: unknown benchmark ${JSON.stringify(name ?? "")}; try one of: base-ot, coordinator, package, mascot, mascot-offline, stats, learning, learning-local, fhe, fhe-train`);
    process.exit(2);
  }
  const mod = (await import(pathToFileURL(path.join(dir, `${name}.ts`)).href)) as { run: BenchRun };
  const before = loadNote("at start");
  const result = await mod.run(args);
  // Every bench states the machine's measured load, never a fixed guess (shared cores).
  if (!(result.notes ?? []).some((n) => /load average/.test(n))) result.notes = [...(result.notes ?? []), before, loadNote("at end")];
  printTable(result);
  mkdirSync(path.join(dir, "results"), { recursive: true });
  // a bench may name its result differently for a partial run (fhe --memory-only → fhe-memory.json)
  const out = path.join(dir, "results", `${/^[a-z0-9-]+$/.test(result.name) ? result.name : name}.json`);
  writeFileSync(out, JSON.stringify({ ...result, node: process.version, date: new Date().toISOString() }, null, 2));
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
}

main().catch((e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
