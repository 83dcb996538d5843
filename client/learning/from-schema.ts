/**
 * Bridge from `client/data` (rows validated against a declared dataset schema) to learning:
 * the job's `preprocessing` derived from a schema, and the numeric {@link Dataset} a node
 * trains on. Rows are positional (`Row = Value[]` in schema column order); missing values
 * are null.
 */
import type { DatasetSchema, Row } from "../../protocol/stats/schema.ts";
import type { Preprocessing } from "../../protocol/learning/spec.ts";
import { encodedDim, featureNames } from "../../protocol/learning/features.ts";
import type { Dataset } from "./datasets.ts";

/**
 * Preprocessing over every numeric and categorical column of the schema (minus `exclude`,
 * e.g. an id column), in schema order, with the schema's `label` column as the label.
 * Throws RangeError if the schema has no label column, several, or an excluded name is unknown.
 */
export function preprocessingFromSchema(schema: DatasetSchema, opts: { exclude?: readonly string[]; standardize?: boolean; label?: string } = {}): Preprocessing {
  const exclude = new Set(opts.exclude ?? []);
  for (const e of exclude) if (!schema.columns.some((c) => c.name === e)) throw new RangeError(`preprocessingFromSchema: unknown column "${e}" in exclude`);
  const labels = schema.columns.filter((c) => c.type === "label" && (opts.label === undefined || c.name === opts.label));
  if (labels.length !== 1) throw new RangeError(`preprocessingFromSchema: need exactly one label column, found ${labels.length}`);
  const label = labels[0]!;
  const numeric: string[] = [];
  const categorical: Preprocessing["categorical"] = [];
  for (const c of schema.columns) {
    if (exclude.has(c.name) || c.name === label.name) continue;
    if (c.type === "numeric") numeric.push(c.name);
    else if (c.type === "categorical") categorical.push({ column: c.name, levels: [...c.levels] });
  }
  if (label.type === "numeric") throw new RangeError("preprocessingFromSchema: label column must be categorical");
  return { numeric, categorical, standardize: opts.standardize ?? true, label: { column: label.name, classes: [...label.levels] } };
}

/**
 * Encodes validated rows into a Dataset (numeric features first, then one-hot blocks, as
 * `encodeRow`). Missing numeric → NaN (imputed at standardisation), missing or unknown
 * categorical → all zeros. Rows whose label is missing are skipped (counted in `skipped`).
 * Throws RangeError if a column named by `pre` is not in the schema or a label value is not a class.
 */
export function datasetFromRows(schema: DatasetSchema, rows: readonly Row[], pre: Preprocessing): Dataset & { skipped: number } {
  const col = (name: string): number => {
    const i = schema.columns.findIndex((c) => c.name === name);
    if (i < 0) throw new RangeError(`datasetFromRows: column "${name}" is not in schema ${schema.name}`);
    return i;
  };
  if (!pre.label) throw new RangeError("datasetFromRows: preprocessing has no label");
  const numIdx = pre.numeric.map(col);
  const catIdx = pre.categorical.map((c) => ({ i: col(c.column), levels: new Map(c.levels.map((l, k) => [l, k])), n: c.levels.length }));
  const labIdx = col(pre.label.column);
  const classes = new Map(pre.label.classes.map((c, k) => [c, k]));
  const d = encodedDim(pre);
  const keep = rows.filter((r) => r[labIdx] !== null && r[labIdx] !== undefined);
  const x = new Float32Array(keep.length * d);
  const y = new Int32Array(keep.length);
  keep.forEach((r, ri) => {
    let k = ri * d;
    for (const i of numIdx) {
      const v = r[i];
      x[k++] = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : NaN;
    }
    for (const c of catIdx) {
      const lv = c.levels.get(String(r[c.i] ?? ""));
      if (lv !== undefined) x[k + lv] = 1;
      k += c.n;
    }
    const cls = classes.get(String(r[labIdx]));
    if (cls === undefined) throw new RangeError(`datasetFromRows: label ${JSON.stringify(r[labIdx])} is not one of ${pre.label!.classes.join(", ")}`);
    y[ri] = cls;
  });
  return { x, y, n: keep.length, d, classes: pre.label.classes.length, featureNames: featureNames(pre), skipped: rows.length - keep.length };
}
