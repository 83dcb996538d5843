/**
 * Statistics query spec (zod, strict: unknown fields are rejected). A query names row
 * filters, measures and a minimum-count threshold; `compileQuery` (layout.ts) checks it
 * against a dataset schema. Pure.
 */
import { z } from "zod";
import { PrivacySpec } from "../dp/privacy.ts";

const ColumnRef = z.string().min(1, "column name must not be empty");
const Scalar = z.union([z.number().finite(), z.string()]);

/** A row filter: `column op value`. Filters are combined with AND; a missing value fails every filter. */
export const FilterSpec = z
  .strictObject({
    column: ColumnRef,
    op: z.enum(["eq", "ne", "lt", "le", "gt", "ge", "in"], { error: 'op must be one of "eq", "ne", "lt", "le", "gt", "ge", "in"' }),
    value: z.union([Scalar, z.array(Scalar).min(1, '"in" needs at least one value')]),
  })
  .superRefine((f, ctx) => {
    if (f.op === "in" && !Array.isArray(f.value)) ctx.addIssue({ code: "custom", path: ["value"], message: 'op "in" needs an array of values' });
    if (f.op !== "in" && Array.isArray(f.value)) ctx.addIssue({ code: "custom", path: ["value"], message: `op "${f.op}" needs a single value, not an array` });
  });

/** Clip range [lo, hi] of a numeric column: values are clipped to it before encoding. */
const Bounds = z
  .tuple([z.number().finite(), z.number().finite()], { error: "bounds must be [lo, hi] with two finite numbers" })
  .refine(([lo, hi]) => lo < hi, "bounds must satisfy lo < hi");

/** Histogram bin edges e0 < e1 < … < ek (k bins; values outside [e0, ek] fall into the end bins). */
const Edges = z
  .array(z.number().finite())
  .min(2, "bins need at least two edges")
  .max(1025, "at most 1024 bins")
  .refine((e) => e.every((x, i) => i === 0 || e[i - 1]! < x), "bin edges must be strictly increasing");

const base = {
  /** Unique name of the measure in the result (default `kind(column)`, or `kind(column) by group`). */
  name: z.string().min(1).max(128).optional(),
  /** Categorical column to group by: one result cell per level. */
  groupBy: ColumnRef.optional(),
  /** Private queries: this measure's share of the budget is weight / Σ weights (default 1; protocol/stats/dp.ts). */
  weight: z.number({ error: "weight must be a positive number" }).positive("weight must be a positive number").max(1e6, "weight must be at most 1e6").optional(),
};

export const CountMeasure = z.strictObject({
  ...base,
  kind: z.literal("count"),
  /** If set, count only rows where this column is not missing. */
  column: ColumnRef.optional(),
});
const numeric = (kind: "sum" | "mean" | "variance" | "stddev") =>
  z.strictObject({ ...base, kind: z.literal(kind), column: ColumnRef, bounds: Bounds });
export const SumMeasure = numeric("sum");
export const MeanMeasure = numeric("mean");
export const VarianceMeasure = numeric("variance");
export const StddevMeasure = numeric("stddev");
export const HistogramMeasure = z.strictObject({
  ...base,
  kind: z.literal("histogram"),
  column: ColumnRef,
  /** Numeric column: bin edges (required). */
  bins: Edges.optional(),
  /** Categorical column: levels to count, in this order (default: all the schema's levels). */
  levels: z.array(z.string().min(1)).min(1).max(1024).optional(),
});
export const QuantilesMeasure = z.strictObject({
  ...base,
  kind: z.literal("quantiles"),
  column: ColumnRef,
  /** Probabilities in [0, 1]. */
  probs: z.array(z.number().min(0, "probabilities must be in [0, 1]").max(1, "probabilities must be in [0, 1]")).min(1).max(99),
  /** Bin edges of the histogram the quantiles are interpolated from. */
  bins: Edges,
});

export const MeasureSpec = z.discriminatedUnion("kind", [
  CountMeasure, SumMeasure, MeanMeasure, VarianceMeasure, StddevMeasure, HistogramMeasure, QuantilesMeasure,
], { error: 'kind must be one of "count", "sum", "mean", "variance", "stddev", "histogram", "quantiles"' });

export const StatsQuerySpec = z.strictObject({
  /**
   * Differential privacy for the release (docs/dp.md): `{ rho }` or `{ epsilon, delta }`.
   * Every opened entry gets per-node discrete Gaussian noise (protocol/stats/dp.ts); needs
   * validated mode. `minCount` and `suppressZeros` still apply, to the released (noisy)
   * counts: post-processing, so they cost no privacy.
   */
  privacy: PrivacySpec.optional(),
  version: z.literal(1, { error: "version must be 1" }),
  /** Optional dataset schema name the query is written for (checked by compileQuery). */
  dataset: z.string().min(1).optional(),
  filters: z.array(FilterSpec).max(64).default([]),
  measures: z.array(MeasureSpec).min(1, "a query needs at least one measure").max(64),
  /** Cells built from fewer rows than this (over all parties) are suppressed. */
  minCount: z
    .number({ error: (iss) => (iss.input === undefined ? "minCount is required (a non-negative integer)" : "minCount must be a non-negative integer") })
    .int("minCount must be a non-negative integer")
    .min(0, "minCount must be a non-negative integer"),
  /**
   * Also suppress histogram cells with no rows (structural zeros), for data where the absence
   * of a category is itself sensitive. Default false: a 0 is published.
   */
  suppressZeros: z.boolean().default(false),
  /** Fractional bits of the fixed-point encoding of Σx and Σx². */
  fracBits: z.number().int().min(0).max(32).default(16),
  /** Limits the overflow check is made for; contributions over maxRowsPerParty rows are refused. */
  limits: z
    .strictObject({
      maxParties: z.number().int().min(1).max(1024).default(64),
      maxRowsPerParty: z.number().int().min(1).max(2 ** 32).default(2 ** 20),
    })
    .default({ maxParties: 64, maxRowsPerParty: 2 ** 20 }),
}).superRefine((q, ctx) => {
  // A private query's suppression is decided on the noisy counts (finalisePrivate), never on exact ones.
  if (!q.privacy && q.measures.some((m) => m.weight !== undefined)) {
    ctx.addIssue({ code: "custom", path: ["measures"], message: "weight only applies to private queries (add privacy)" });
  }
});

export type FilterSpec = z.infer<typeof FilterSpec>;
export type MeasureSpec = z.infer<typeof MeasureSpec>;
export type MeasureKind = MeasureSpec["kind"];
/** A parsed query (defaults filled in). */
export type StatsQuery = z.infer<typeof StatsQuerySpec>;
/** A query as written (defaults optional). */
export type StatsQueryInput = z.input<typeof StatsQuerySpec>;

/** Thrown for a malformed query or one that does not fit the schema. `issues` are `path: message` strings. */
export class StatsQueryError extends Error {
  override readonly name = "StatsQueryError";
  constructor(readonly issues: string[]) {
    super(`invalid statistics query:\n  ${issues.join("\n  ")}`);
  }
}

/**
 * Parses a query (already JSON-decoded). Unknown fields are rejected. Throws
 * {@link StatsQueryError} listing every problem with its path (e.g. `measures.1.bounds`).
 */
export function parseStatsQuery(json: unknown): StatsQuery {
  const r = StatsQuerySpec.safeParse(json);
  if (!r.success) {
    throw new StatsQueryError(r.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`));
  }
  return r.data;
}
