/**
 * Reference datasets (UCI, see /work/shared/data/README.md and examples/data) parsed into
 * numeric feature matrices and integer labels. Pure (text in, no I/O), so it bundles for
 * browsers; `reference-data.ts` reads the files with node:fs (Node only). Integration may later
 * switch to `client/data` (declared schemas); the encoding of adult goes through the same
 * `encodeRow` of protocol/learning that a job's preprocessing uses.
 */
import { encodeRow, featureNames } from "../../protocol/learning/features.ts";
import type { Preprocessing } from "../../protocol/learning/spec.ts";

/** A labelled numeric dataset, row-major. Missing numeric values are NaN. */
export interface Dataset {
  /** n × d features, row-major. */
  x: Float32Array;
  /** Class index per row, in [0, classes). */
  y: Int32Array;
  n: number;
  d: number;
  classes: number;
  featureNames: string[];
}

function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith("|"));
}

/**
 * One comma-separated row per line: `row` returns its features (in `featureNames` order) and
 * class, or undefined for a malformed row, which throws RangeError naming `name` and the row.
 */
function numericDataset(text: string, name: string, featureNames: string[], classes: number, row: (f: string[]) => { features: number[]; label: number } | undefined): Dataset {
  const rows = lines(text);
  const d = featureNames.length;
  const x = new Float32Array(rows.length * d);
  const y = new Int32Array(rows.length);
  rows.forEach((line, r) => {
    const p = row(line.split(","));
    if (!p) throw new RangeError(`${name}: malformed row ${r + 1}`);
    x.set(p.features, r * d);
    y[r] = p.label;
  });
  return { x, y, n: rows.length, d, classes, featureNames };
}

/** wdbc.data: id, diagnosis (M → 1, B → 0), 30 real features. Throws RangeError on a malformed row. */
export function parseWdbc(text: string): Dataset {
  return numericDataset(text, "wdbc", Array.from({ length: 30 }, (_, j) => `f${j + 1}`), 2, (f) =>
    f.length === 32 && (f[1] === "M" || f[1] === "B") ? { features: f.slice(2).map(Number), label: f[1] === "M" ? 1 : 0 } : undefined);
}

/** optdigits.tra/.tes: 64 counts in 0..16 then the class 0..9. Throws RangeError on a malformed row. */
export function parseOptdigits(text: string): Dataset {
  return numericDataset(text, "optdigits", Array.from({ length: 64 }, (_, j) => `p${j}`), 10, (s) => {
    const f = s.map(Number), c = f[64];
    return f.length === 65 && c !== undefined && Number.isInteger(c) && c >= 0 && c <= 9 ? { features: f.slice(0, 64), label: c } : undefined;
  });
}

/**
 * pima-indians-diabetes.csv: 8 numeric clinical features then diabetes (0/1). Zeros that
 * stand for missing values (glucose, blood pressure, skin thickness, insulin, BMI) are kept
 * as given. Throws RangeError on a malformed row.
 */
export function parsePima(text: string): Dataset {
  return numericDataset(text, "pima", ["pregnancies", "glucose", "blood-pressure", "skin-thickness", "insulin", "bmi", "pedigree", "age"], 2, (s) => {
    const f = s.map(Number);
    return f.length === 9 && f.every((v) => Number.isFinite(v)) && (f[8] === 0 || f[8] === 1) ? { features: f.slice(0, 8), label: f[8] } : undefined;
  });
}

/** Column names of adult-train.csv / adult-test.csv (adult.names), the last being the label. */
export const ADULT_COLUMNS = [
  "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
  "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
] as const;

/** The adult preprocessing of the examples: 6 numeric columns, 8 categorical columns one-hot over adult.names' levels. */
export const ADULT_PREPROCESSING: Preprocessing = {
  numeric: ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"],
  categorical: [
    { column: "workclass", levels: ["Private", "Self-emp-not-inc", "Self-emp-inc", "Federal-gov", "Local-gov", "State-gov", "Without-pay", "Never-worked"] },
    { column: "education", levels: ["Bachelors", "Some-college", "11th", "HS-grad", "Prof-school", "Assoc-acdm", "Assoc-voc", "9th", "7th-8th", "12th", "Masters", "1st-4th", "10th", "Doctorate", "5th-6th", "Preschool"] },
    { column: "marital-status", levels: ["Married-civ-spouse", "Divorced", "Never-married", "Separated", "Widowed", "Married-spouse-absent", "Married-AF-spouse"] },
    { column: "occupation", levels: ["Tech-support", "Craft-repair", "Other-service", "Sales", "Exec-managerial", "Prof-specialty", "Handlers-cleaners", "Machine-op-inspct", "Adm-clerical", "Farming-fishing", "Transport-moving", "Priv-house-serv", "Protective-serv", "Armed-Forces"] },
    { column: "relationship", levels: ["Wife", "Own-child", "Husband", "Not-in-family", "Other-relative", "Unmarried"] },
    { column: "race", levels: ["White", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other", "Black"] },
    { column: "sex", levels: ["Female", "Male"] },
    { column: "native-country", levels: ["United-States", "Cambodia", "England", "Puerto-Rico", "Canada", "Germany", "Outlying-US(Guam-USVI-etc)", "India", "Japan", "Greece", "South", "China", "Cuba", "Iran", "Honduras", "Philippines", "Italy", "Poland", "Jamaica", "Vietnam", "Mexico", "Portugal", "Ireland", "France", "Dominican-Republic", "Laos", "Ecuador", "Taiwan", "Haiti", "Columbia", "Hungary", "Guatemala", "Nicaragua", "Scotland", "Thailand", "Yugoslavia", "El-Salvador", "Trinadad&Tobago", "Peru", "Hong", "Holand-Netherlands"] },
  ],
  standardize: true,
  label: { column: "income", classes: ["<=50K", ">50K"] },
};

/**
 * adult-train.csv / adult-test.csv (comma + space separated, `?` missing, test labels end
 * with "."), encoded with `pre` (default {@link ADULT_PREPROCESSING}). Throws RangeError on
 * a row with the wrong column count or an unknown label.
 */
export function parseAdult(text: string, pre: Preprocessing = ADULT_PREPROCESSING): Dataset {
  const rows = lines(text);
  const names = featureNames(pre);
  const d = names.length;
  const label = pre.label ?? { column: "income", classes: ["<=50K", ">50K"] };
  const x = new Float32Array(rows.length * d);
  const y = new Int32Array(rows.length);
  rows.forEach((line, r) => {
    const f = line.split(",").map((s) => s.trim());
    if (f.length !== ADULT_COLUMNS.length) throw new RangeError(`adult: row ${r + 1} has ${f.length} columns`);
    const rec: Record<string, string> = {};
    ADULT_COLUMNS.forEach((c, j) => { rec[c] = f[j]!; });
    encodeRow(pre, rec, x, r * d);
    const lab = (rec[label.column] ?? "").replace(/\.$/, "");
    const k = label.classes.indexOf(lab);
    if (k < 0) throw new RangeError(`adult: row ${r + 1} has unknown label ${JSON.stringify(lab)}`);
    y[r] = k;
  });
  return { x, y, n: rows.length, d, classes: label.classes.length, featureNames: names };
}

/** Rows `idx` of a dataset (copies). */
export function subset(ds: Dataset, idx: readonly number[]): Dataset {
  const { d } = ds;
  const x = new Float32Array(idx.length * d);
  const y = new Int32Array(idx.length);
  idx.forEach((i, r) => {
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) throw new RangeError(`subset: row ${i} out of range`);
    x.set(ds.x.subarray(i * d, (i + 1) * d), r * d);
    y[r] = ds.y[i]!;
  });
  return { ...ds, x, y, n: idx.length };
}

/** Concatenation of datasets with the same features (the "union" for central training). */
export function concatDatasets(parts: readonly Dataset[]): Dataset {
  if (parts.length === 0) throw new RangeError("concatDatasets: no parts");
  const first = parts[0]!;
  for (const p of parts) if (p.d !== first.d || p.classes !== first.classes) throw new RangeError("concatDatasets: feature or class mismatch");
  const n = parts.reduce((a, p) => a + p.n, 0);
  const x = new Float32Array(n * first.d);
  const y = new Int32Array(n);
  let r = 0;
  for (const p of parts) { x.set(p.x, r * first.d); y.set(p.y, r); r += p.n; }
  return { ...first, x, y, n };
}
