/**
 * Splits a dataset into k node slices, deterministically from a seed, and writes one CSV per
 * node (same format as the source, so the same schema file reads them).
 *
 *   npx tsx examples/split.ts --schema examples/schemas/adult.json \
 *       --input examples/data/adult-train.csv --k 5 --seed demo --out /tmp/adult-5 \
 *       [--by sex | --by-class] [--dirichlet 0.5] [--holdout 0.2]
 *
 * IID (default): a seeded Fisher–Yates shuffle dealt round-robin (slice sizes differ by ≤ 1).
 * The seeded stream (`seededRng`) is deliberate: splits must be reproducible and nothing here
 * is secret.
 * Non-IID (`--by <column>` or `--by-class` for the schema's label column):
 *  - categorical or label column: whole levels go to one node each, largest level first to
 *    the least-loaded node (seeded tie-break); rows with a missing value go to slice 0.
 *    Needs ≥ k levels;
 *  - with `--dirichlet α` (categorical or label column, any number of levels, e.g. a binary
 *    label over 5 nodes): label skew as usual in the federated-learning literature — for each
 *    level, node shares p ~ Dirichlet(α·1_k) and the level's shuffled rows are cut by p.
 *    Small α (0.1) is extreme skew, large α (100) is close to IID;
 *  - numeric column: feature skew — rows sorted by the value (seeded tie-break) and cut into
 *    k contiguous ranges of equal size; missing values go to slice 0.
 * Hold-out (`--holdout f`, 0 < f < 1): first a seeded ⌊f·n⌋ rows are set aside as a central
 * test set (`<stem>-test.csv`), then the rest is split as above.
 * Rows are parsed against the schema first, so values are normalised on the way (adult-test
 * labels lose their trailing "."; missing values are written as the column's first marker).
 * Within each slice, rows keep their source order.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { bufferedRng, randomBelow, seededRng, type Rng } from "../protocol/rng.ts";
import { columnIndex, parseDatasetSchema, type DatasetSchema, type Row } from "../protocol/stats/schema.ts";
import { formatFromPath, parseData } from "../client/data/parse.ts";

export interface SplitOptions {
  k: number;
  seed: string;
  /** Column for a non-IID split: by level (categorical/label) or by value range (numeric). */
  by?: string;
  /** Dirichlet concentration α for label skew over `by`'s levels (categorical/label only). */
  dirichlet?: number;
}

/** Uniform double in [0, 1) with 53 random bits. */
function uniform(rng: Rng): number {
  const b = rng.bytes(7);
  let x = 0;
  for (let i = 0; i < 7; i++) x = x * 256 + b[i]!;
  return (x % 2 ** 53) / 2 ** 53;
}

/** Standard normal (Box–Muller). */
function normal(rng: Rng): number {
  const u = 1 - uniform(rng);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform(rng));
}

/** Gamma(shape, 1) by Marsaglia–Tsang (shape < 1 via the boost U^(1/shape)). */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(1 - uniform(rng), 1 / shape);
  const d = shape - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do { x = normal(rng); v = 1 + c * x; } while (v <= 0);
    v = v * v * v;
    const u = 1 - uniform(rng);
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/**
 * A sample of Dirichlet(α·1_k) from a seeded stream: k non-negative shares summing to 1.
 * Throws RangeError for α ≤ 0 or k < 1.
 */
export function dirichlet(rng: Rng, alpha: number, k: number): number[] {
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new RangeError(`dirichlet: α must be a positive number, got ${alpha}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`dirichlet: k must be a positive integer, got ${k}`);
  const g = Array.from({ length: k }, () => gamma(rng, alpha));
  const sum = g.reduce((a, b) => a + b, 0);
  return sum > 0 ? g.map((x) => x / sum) : g.map((_, i) => (i === 0 ? 1 : 0));
}

function shuffle(idx: number[], rng: Rng): number[] {
  for (let i = idx.length - 1; i > 0; i--) {
    const j = randomBelow(rng, i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

/**
 * Sets aside a seeded hold-out of ⌊fraction·n⌋ row indices: returns { test, rest }, each sorted.
 * Deterministic in (n, fraction, seed). Throws RangeError unless 0 < fraction < 1.
 */
export function holdoutIndices(n: number, fraction: number, seed: string): { test: number[]; rest: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`--holdout must be a fraction strictly between 0 and 1, got ${fraction}`);
  const idx = shuffle([...Array(n).keys()], bufferedRng(seededRng(`2pm/split/holdout/v1/${seed}`), 65536));
  const cut = Math.floor(fraction * n);
  return { test: idx.slice(0, cut).sort((a, b) => a - b), rest: idx.slice(cut).sort((a, b) => a - b) };
}

/**
 * Partitions row indices 0..rows.length−1 into k slices (each sorted ascending). Deterministic
 * in (rows, schema, options). Throws RangeError for k < 1, too few levels (without
 * `dirichlet`) or too few values, TypeError for an unknown `by` column (naming the columns),
 * `dirichlet` on a numeric column or without `by`.
 */
export function splitIndices(rows: readonly Row[], schema: DatasetSchema, opts: SplitOptions): number[][] {
  const { k } = opts;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const rng = bufferedRng(seededRng(`2pm/split/v1/${opts.seed}`), 65536);
  const slices: number[][] = Array.from({ length: k }, () => []);
  if (opts.dirichlet !== undefined && opts.by === undefined) throw new TypeError("--dirichlet needs --by <column> or --by-class");
  if (opts.by === undefined) {
    shuffle(rows.map((_, i) => i), rng).forEach((r, i) => slices[i % k]!.push(r));
  } else {
    const ci = columnIndex(schema, opts.by);
    const spec = schema.columns[ci];
    if (!spec) throw new TypeError(`--by: unknown column "${opts.by}"; columns: ${schema.columns.map((c) => c.name).join(", ")}`);
    const missing: number[] = [];
    if (spec.type === "numeric") {
      if (opts.dirichlet !== undefined) throw new TypeError(`--dirichlet: column "${opts.by}" is numeric; choose a categorical or label column`);
      const present: Array<[number, number, number]> = [];
      rows.forEach((r, i) => {
        const v = r[ci];
        if (typeof v === "number") present.push([v, randomBelow(rng, 2 ** 32), i]);
        else missing.push(i);
      });
      if (present.length < k) throw new RangeError(`--by ${opts.by}: only ${present.length} rows have a value, fewer than k = ${k}`);
      present.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      present.forEach(([, , i], pos) => slices[Math.floor((pos * k) / present.length)]!.push(i));
    } else {
      const groups = new Map<string, number[]>();
      rows.forEach((r, i) => {
        const v = r[ci];
        if (v === null || v === undefined) { missing.push(i); return; }
        const key = String(v);
        let g = groups.get(key);
        if (!g) groups.set(key, (g = []));
        g.push(i);
      });
      if (opts.dirichlet !== undefined) {
        // Label skew: per level (in a fixed order), shares p ~ Dir(α) cut the shuffled rows.
        for (const key of [...groups.keys()].sort()) {
          const ids = shuffle(groups.get(key)!, rng), p = dirichlet(rng, opts.dirichlet, k);
          let from = 0, acc = 0;
          for (let s = 0; s < k; s++) {
            acc += p[s]!;
            const to = s === k - 1 ? ids.length : Math.min(ids.length, Math.round(acc * ids.length));
            slices[s]!.push(...ids.slice(from, to));
            from = to;
          }
        }
      } else {
        if (groups.size < k) throw new RangeError(`--by ${opts.by}: only ${groups.size} levels occur, fewer than k = ${k} (use --dirichlet α for label skew with few levels)`);
        const tie = new Map([...groups.keys()].map((key) => [key, randomBelow(rng, 2 ** 32)]));
        const order = [...groups.entries()].sort((a, b) => b[1].length - a[1].length || tie.get(a[0])! - tie.get(b[0])! || (a[0] < b[0] ? -1 : 1));
        for (const [, ids] of order) {
          let best = 0;
          for (let s = 1; s < k; s++) if (slices[s]!.length < slices[best]!.length) best = s;
          slices[best]!.push(...ids);
        }
      }
    }
    slices[0]!.push(...missing);
  }
  for (const s of slices) s.sort((a, b) => a - b);
  return slices;
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
    throw new Error("usage: split.ts --schema <schema.json> --input <data file> --k <n> --seed <s> --out <dir> [--by <column> | --by-class] [--dirichlet <α>] [--holdout <fraction>]");
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
  const alphaArg = arg(argv, "dirichlet"), holdArg = arg(argv, "holdout");
  const dir = alphaArg === undefined ? undefined : Number(alphaArg);
  await mkdir(out, { recursive: true });
  const stem = basename(input, extname(input));
  let pool = rows;
  if (holdArg !== undefined) {
    const { test, rest } = holdoutIndices(rows.length, Number(holdArg), seed);
    const file = join(out, `${stem}-test.csv`);
    await writeFile(file, formatCsv(schema, test.map((i) => rows[i]!)));
    console.log(`${file}: ${test.length} rows (hold-out)`);
    pool = rest.map((i) => rows[i]!);
  }
  const slices = splitIndices(pool, schema, { k, seed, ...(by === undefined ? {} : { by }), ...(dir === undefined ? {} : { dirichlet: dir }) });
  for (let s = 0; s < k; s++) {
    const file = join(out, `${stem}-node${s}.csv`);
    await writeFile(file, formatCsv(schema, slices[s]!.map((i) => pool[i]!)));
    console.log(`${file}: ${slices[s]!.length} rows`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
