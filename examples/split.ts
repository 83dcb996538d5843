/**
 * Splits a dataset into k node slices, deterministically from a seed, and writes one CSV per
 * node (same format as the source, so the same schema file reads them).
 *
 *   npx tsx examples/split.ts --schema examples/schemas/adult.json \
 *       --input examples/data/adult-train.csv --k 5 --seed demo --out /tmp/adult-5 [--by sex | --by-class]
 *
 * IID (default): a seeded Fisher–Yates shuffle dealt round-robin (slice sizes differ by ≤ 1).
 * The seeded stream (`seededRng`) is deliberate: splits must be reproducible and nothing here
 * is secret.
 * Non-IID (`--by <column>` or `--by-class` for the schema's label column): whole levels of
 * a categorical column go to one node each, largest level first to the least-loaded node
 * (seeded tie-break); rows with a missing value go to slice 0. Needs ≥ k levels.
 * Rows are parsed against the schema first, so values are normalised on the way (adult-test
 * labels lose their trailing "."; missing values are written as the column's first marker).
 * Within each slice, rows keep their source order.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { randomBelow, seededRng, type Rng } from "../protocol/rng.ts";
import { columnIndex, parseDatasetSchema, type DatasetSchema, type Row } from "../protocol/stats/schema.ts";
import { formatFromPath, parseData } from "../client/data/parse.ts";

export interface SplitOptions {
  k: number;
  seed: string;
  /** Categorical column for a non-IID split by level. */
  by?: string;
}

/**
 * Partitions row indices 0..rows.length−1 into k slices (each sorted ascending). Deterministic
 * in (rows, schema, options). Throws RangeError for k < 1 or too few levels, TypeError for an
 * unknown or non-categorical `by` column.
 */
export function splitIndices(rows: readonly Row[], schema: DatasetSchema, opts: SplitOptions): number[][] {
  const { k } = opts;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const rng = buffered(seededRng(`2pm/split/v1/${opts.seed}`));
  const slices: number[][] = Array.from({ length: k }, () => []);
  if (opts.by === undefined) {
    const idx = rows.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = randomBelow(rng, i + 1);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    idx.forEach((r, i) => slices[i % k]!.push(r));
  } else {
    const ci = columnIndex(schema, opts.by);
    const spec = schema.columns[ci];
    if (!spec) throw new TypeError(`--by: unknown column "${opts.by}"`);
    if (spec.type === "numeric") throw new TypeError(`--by: column "${opts.by}" is numeric; choose a categorical or label column`);
    const groups = new Map<string, number[]>();
    const missing: number[] = [];
    rows.forEach((r, i) => {
      const v = r[ci];
      if (v === null || v === undefined) { missing.push(i); return; }
      const key = String(v);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(i);
    });
    if (groups.size < k) throw new RangeError(`--by ${opts.by}: only ${groups.size} levels occur, fewer than k = ${k}`);
    const tie = new Map([...groups.keys()].map((key) => [key, randomBelow(rng, 2 ** 32)]));
    const order = [...groups.entries()].sort((a, b) => b[1].length - a[1].length || tie.get(a[0])! - tie.get(b[0])! || (a[0] < b[0] ? -1 : 1));
    for (const [, ids] of order) {
      let best = 0;
      for (let s = 1; s < k; s++) if (slices[s]!.length < slices[best]!.length) best = s;
      slices[best]!.push(...ids);
    }
    slices[0]!.push(...missing);
  }
  for (const s of slices) s.sort((a, b) => a - b);
  return slices;
}

/** Serves small reads from 64 KiB blocks of the underlying stream (same determinism, far fewer calls). */
function buffered(src: Rng): Rng {
  let buf: Uint8Array = new Uint8Array(0), off = 0;
  return {
    bytes(n: number): Uint8Array {
      if (n > 65536) return src.bytes(n);
      if (off + n > buf.length) { buf = src.bytes(65536); off = 0; }
      off += n;
      return buf.slice(off - n, off);
    },
  };
}

const needsQuote = (s: string, d: string): boolean => s.includes(d) || s.includes('"') || s.includes("\n") || s.includes("\r") || s !== s.trim();

/** Writes rows as CSV in the schema's layout (delimiter, header); missing → the column's first marker. Throws TypeError if a column with a missing value has no marker. */
export function formatCsv(schema: DatasetSchema, rows: readonly Row[]): string {
  const d = schema.csv.delimiter;
  const markers = schema.columns.map((c) => [...(c.missing ?? []), ...schema.missing][0]);
  const cell = (s: string): string => (needsQuote(s, d) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines: string[] = [];
  if (schema.csv.header) lines.push(schema.columns.map((c) => cell(c.name)).join(d));
  for (const r of rows) {
    lines.push(
      r.map((v, i) => {
        if (v === null) {
          const m = markers[i];
          if (m === undefined) throw new TypeError(`column "${schema.columns[i]!.name}" has a missing value but no missing marker`);
          return cell(m);
        }
        return cell(String(v));
      }).join(d),
    );
  }
  return lines.join("\n") + "\n";
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(argv: string[]): Promise<void> {
  const schemaPath = arg(argv, "schema"), input = arg(argv, "input"), out = arg(argv, "out");
  if (!schemaPath || !input || !out) {
    throw new Error("usage: split.ts --schema <schema.json> --input <data file> --k <n> --seed <s> --out <dir> [--by <column> | --by-class]");
  }
  const schema = parseDatasetSchema(JSON.parse(await readFile(schemaPath, "utf8")), schemaPath);
  const rows = parseData(await readFile(input, "utf8"), schema, formatFromPath(input), { file: input });
  let by = arg(argv, "by");
  if (argv.includes("--by-class")) {
    const label = schema.columns.find((c) => c.type === "label");
    if (!label) throw new Error(`schema "${schema.name}" has no label column`);
    by = label.name;
  }
  const k = Number(arg(argv, "k") ?? "5");
  const seed = arg(argv, "seed") ?? "2pm";
  const slices = splitIndices(rows, schema, by === undefined ? { k, seed } : { k, seed, by });
  await mkdir(out, { recursive: true });
  const stem = basename(input, extname(input));
  for (let s = 0; s < k; s++) {
    const file = join(out, `${stem}-node${s}.csv`);
    await writeFile(file, formatCsv(schema, slices[s]!.map((i) => rows[i]!)));
    console.log(`${file}: ${slices[s]!.length} rows`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
