/**
 * Parsing of CSV and JSON-lines data files against a declared schema. Pure (text in, rows
 * out), so the browser can use it on a user-picked file; file access lives in the adapters.
 *
 * Bad data never yields a partial result: every problem (up to `maxIssues`) is collected
 * and thrown as one {@link DataError} naming file, line and column.
 */
import type { ColumnSpec, DatasetSchema, Row, Value } from "../../protocol/stats/schema.ts";

/** Closed set of data-problem codes. */
export type DataIssueCode =
  | "wrong-field-count"
  | "unterminated-quote"
  | "header-mismatch"
  | "bad-number"
  | "not-integer"
  | "unknown-level"
  | "bad-json"
  | "unknown-field"
  | "wrong-type";

/** One problem in a data file. `line` is 1-based; `column` is the schema column name. */
export interface DataIssue {
  file: string;
  line: number;
  column?: string;
  code: DataIssueCode;
  message: string;
}

/** Thrown when a data file does not match its declared schema. `issues` lists the problems found. */
export class DataError extends Error {
  override readonly name = "DataError";
  constructor(readonly issues: DataIssue[], truncated: boolean) {
    super(
      issues.map(formatIssue).join("\n") +
        (truncated ? `\n(further problems not shown)` : ""),
    );
  }
}

/** `file:line: column "c": message`. */
export function formatIssue(i: DataIssue): string {
  return `${i.file}:${i.line}: ${i.column !== undefined ? `column "${i.column}": ` : ""}${i.message}`;
}

export interface ParseOptions {
  /** File name used in error messages. */
  file?: string;
  /** Stop collecting after this many problems (default 20). */
  maxIssues?: number;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

class Collector {
  readonly issues: DataIssue[] = [];
  truncated = false;
  constructor(readonly file: string, readonly max: number) {}
  add(line: number, code: DataIssueCode, message: string, column?: string): void {
    if (this.issues.length >= this.max) { this.truncated = true; return; }
    this.issues.push(column === undefined ? { file: this.file, line, code, message } : { file: this.file, line, column, code, message });
  }
  get full(): boolean { return this.truncated; }
  throwIfAny(): void {
    if (this.issues.length > 0) throw new DataError(this.issues, this.truncated);
  }
}

/** Per-column cell decoder built once per schema. */
interface CellDecoder {
  spec: ColumnSpec;
  missing: Set<string>;
  levels?: Set<string>;
}

function decoders(schema: DatasetSchema): CellDecoder[] {
  return schema.columns.map((spec) => {
    const missing = new Set([...schema.missing, ...(spec.missing ?? [])]);
    return spec.type === "numeric" ? { spec, missing } : { spec, missing, levels: new Set(spec.levels) };
  });
}

const show = (s: string): string => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** Decodes one textual cell; reports a problem and returns undefined if it is bad. */
function decodeText(d: CellDecoder, raw: string, line: number, out: Collector): Value | undefined {
  if (d.missing.has(raw)) return null;
  const spec = d.spec;
  if (spec.type === "numeric") {
    if (!NUMBER.test(raw)) { out.add(line, "bad-number", `${show(raw)} is not a number`, spec.name); return undefined; }
    const x = Number(raw);
    if (!Number.isFinite(x)) { out.add(line, "bad-number", `${show(raw)} is not a finite number`, spec.name); return undefined; }
    if (spec.integer && !Number.isInteger(x)) { out.add(line, "not-integer", `${show(raw)} is not an integer`, spec.name); return undefined; }
    return x;
  }
  const v = spec.stripSuffix !== undefined && raw.endsWith(spec.stripSuffix) ? raw.slice(0, -spec.stripSuffix.length) : raw;
  if (!d.levels!.has(v)) {
    out.add(line, "unknown-level", `${show(raw)} is not a declared level (${spec.levels.slice(0, 6).map((l) => JSON.stringify(l)).join(", ")}${spec.levels.length > 6 ? ", …" : ""})`, spec.name);
    return undefined;
  }
  return v;
}

/** A CSV record with the 1-based line it starts on. */
interface CsvRecord { line: number; fields: string[] }

/**
 * Splits CSV text into records (RFC 4180: quoted fields, doubled quotes, CRLF or LF).
 * Blank lines are skipped. Unquoted fields are trimmed when `trim` is set.
 */
function splitCsv(text: string, delimiter: string, trim: boolean, out: Collector): CsvRecord[] {
  const records: CsvRecord[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // BOM
  const isSpace = (c: string | undefined): boolean => (c === " " || c === "\t") && c !== delimiter;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let blank = true;
    for (;;) {
      // one field
      let field = "";
      let j = i;
      while (j < n && trim && isSpace(text[j])) j++;
      if (text[j] === '"') {
        blank = false;
        j++;
        for (;;) {
          if (j >= n) { out.add(startLine, "unterminated-quote", "quoted field is not closed before the end of the file"); return records; }
          const c = text[j]!;
          if (c === '"') {
            if (text[j + 1] === '"') { field += '"'; j += 2; continue; }
            j++;
            break;
          }
          if (c === "\n") line++;
          field += c;
          j++;
        }
        while (j < n && trim && isSpace(text[j])) j++;
        i = j;
        if (i < n && text[i] !== delimiter && text[i] !== "\r" && text[i] !== "\n") {
          out.add(line, "unterminated-quote", "unexpected character after a closing quote");
          while (i < n && text[i] !== "\n") i++;
        }
      } else {
        let k = i;
        while (k < n && text[k] !== delimiter && text[k] !== "\n" && text[k] !== "\r") k++;
        field = text.slice(i, k);
        if (trim) field = field.trim();
        if (field.length > 0) blank = false;
        i = k;
      }
      fields.push(field);
      if (i < n && text[i] === delimiter) { i++; blank = false; continue; }
      // end of record
      if (i < n && text[i] === "\r") i++;
      if (i < n && text[i] === "\n") i++;
      line++;
      break;
    }
    if (!blank) records.push({ line: startLine, fields });
  }
  return records;
}

/**
 * Parses CSV text against `schema` (delimiter, header and trimming from `schema.csv`).
 * Guarantees: every returned row has one value per schema column, numbers are finite (and
 * integers where declared), categorical values are declared levels, missing markers are null.
 * Throws {@link DataError} (file, line, column for each problem) if any row is bad.
 */
export function parseCsv(text: string, schema: DatasetSchema, opts: ParseOptions = {}): Row[] {
  const out = new Collector(opts.file ?? "<csv>", opts.maxIssues ?? 20);
  const recs = splitCsv(text, schema.csv.delimiter, schema.csv.trim, out);
  const ds = decoders(schema);
  const width = ds.length;
  let start = 0;
  if (schema.csv.header) {
    const h = recs[0];
    start = 1;
    if (!h) out.add(1, "header-mismatch", "file is empty but the schema declares a header row");
    else {
      const want = schema.columns.map((c) => c.name);
      if (h.fields.length !== width || h.fields.some((f, k) => f !== want[k])) {
        out.add(h.line, "header-mismatch", `header ${JSON.stringify(h.fields)} does not match the schema's columns ${JSON.stringify(want)}`);
      }
    }
  }
  const rows: Row[] = [];
  for (let r = start; r < recs.length && !out.full; r++) {
    const rec = recs[r]!;
    if (rec.fields.length !== width) {
      out.add(rec.line, "wrong-field-count", `expected ${width} fields, found ${rec.fields.length}`);
      continue;
    }
    const row: Value[] = new Array<Value>(width);
    let ok = true;
    for (let c = 0; c < width; c++) {
      const v = decodeText(ds[c]!, rec.fields[c]!, rec.line, out);
      if (v === undefined) ok = false;
      else row[c] = v;
    }
    if (ok) rows.push(row);
  }
  out.throwIfAny();
  return rows;
}

/** Decodes one JSON value for a column. Numbers are accepted for categorical levels ("3"). */
function decodeJson(d: CellDecoder, v: unknown, line: number, out: Collector): Value | undefined {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return decodeText(d, v, line, out);
  if (typeof v === "number") {
    if (d.spec.type === "numeric") {
      if (!Number.isFinite(v)) { out.add(line, "bad-number", `${v} is not a finite number`, d.spec.name); return undefined; }
      if (d.spec.integer && !Number.isInteger(v)) { out.add(line, "not-integer", `${v} is not an integer`, d.spec.name); return undefined; }
      return d.missing.has(String(v)) ? null : v;
    }
    return decodeText(d, String(v), line, out);
  }
  out.add(line, "wrong-type", `expected a ${d.spec.type === "numeric" ? "number" : "string"}, found ${Array.isArray(v) ? "an array" : typeof v}`, d.spec.name);
  return undefined;
}

/**
 * Parses JSON-lines text (one object per non-blank line, keys = column names) against
 * `schema`. Absent keys and `null` are missing values; unknown keys are errors.
 * Same guarantees and errors as {@link parseCsv}.
 */
export function parseJsonLines(text: string, schema: DatasetSchema, opts: ParseOptions = {}): Row[] {
  const out = new Collector(opts.file ?? "<jsonl>", opts.maxIssues ?? 20);
  const ds = decoders(schema);
  const byName = new Map(schema.columns.map((c, i) => [c.name, i]));
  const lines = text.split("\n");
  const rows: Row[] = [];
  for (let k = 0; k < lines.length && !out.full; k++) {
    const src = lines[k]!.trim();
    if (src === "") continue;
    const line = k + 1;
    let obj: unknown;
    try { obj = JSON.parse(src); } catch (e) {
      out.add(line, "bad-json", `not valid JSON (${(e as Error).message})`);
      continue;
    }
    const row = objectToRow(obj, schema, ds, byName, line, out);
    if (row) rows.push(row);
  }
  out.throwIfAny();
  return rows;
}

function objectToRow(obj: unknown, schema: DatasetSchema, ds: CellDecoder[], byName: Map<string, number>, line: number, out: Collector): Row | undefined {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    out.add(line, "bad-json", "expected a JSON object with one key per column");
    return undefined;
  }
  const o = obj as Record<string, unknown>;
  let ok = true;
  for (const key of Object.keys(o)) {
    if (!byName.has(key)) { out.add(line, "unknown-field", `"${key}" is not a column of schema "${schema.name}"`); ok = false; }
  }
  const row: Value[] = new Array<Value>(ds.length);
  for (let c = 0; c < ds.length; c++) {
    const v = decodeJson(ds[c]!, o[schema.columns[c]!.name], line, out);
    if (v === undefined) ok = false;
    else row[c] = v;
  }
  return ok ? row : undefined;
}

/**
 * Validates rows supplied directly as objects (the browser path: no file). Same checks and
 * errors as {@link parseJsonLines}; `line` in errors is the 1-based index of the row.
 */
export function rowsFromObjects(objects: readonly unknown[], schema: DatasetSchema, opts: ParseOptions = {}): Row[] {
  const out = new Collector(opts.file ?? "<rows>", opts.maxIssues ?? 20);
  const ds = decoders(schema);
  const byName = new Map(schema.columns.map((c, i) => [c.name, i]));
  const rows: Row[] = [];
  for (let k = 0; k < objects.length && !out.full; k++) {
    const row = objectToRow(objects[k], schema, ds, byName, k + 1, out);
    if (row) rows.push(row);
  }
  out.throwIfAny();
  return rows;
}

/** Data file formats. */
export type DataFormat = "csv" | "jsonl";

/** The format implied by a file name: `.jsonl`/`.ndjson` → jsonl, anything else → csv. */
export function formatFromPath(path: string): DataFormat {
  return /\.(jsonl|ndjson)$/i.test(path) ? "jsonl" : "csv";
}

/** Parses `text` in the given format. See {@link parseCsv} and {@link parseJsonLines}. */
export function parseData(text: string, schema: DatasetSchema, format: DataFormat, opts: ParseOptions = {}): Row[] {
  return format === "jsonl" ? parseJsonLines(text, schema, opts) : parseCsv(text, schema, opts);
}
