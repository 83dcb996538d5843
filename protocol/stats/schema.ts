/**
 * Declared dataset schemas: column names, types, categorical levels and missing-value
 * markers. Shared by the node's data sources (`client/data/`), the statistics encoder and
 * the coordinator's eligibility check. Pure: no I/O.
 */
import { z } from "zod";
import { canonicalJson } from "../encoding.ts";

const name = z
  .string()
  .min(1, "column name must not be empty")
  .max(128, "column name longer than 128 characters");

const levels = z
  .array(z.string().min(1, "level must not be empty"))
  .min(1, "a categorical column needs at least one level")
  .refine((ls) => new Set(ls).size === ls.length, "levels must be distinct");

const common = {
  name,
  /** Extra missing-value markers for this column (added to the schema-wide ones). */
  missing: z.array(z.string()).optional(),
  description: z.string().optional(),
};

const NumericColumn = z.strictObject({
  ...common,
  type: z.literal("numeric"),
  /** If true, values must be integers. */
  integer: z.boolean().optional(),
});

const CategoricalColumn = z.strictObject({
  ...common,
  type: z.enum(["categorical", "label"]),
  levels,
  /** A suffix removed before matching a level (adult-test labels end with "."). */
  stripSuffix: z.string().min(1).optional(),
});

export const ColumnSchema = z.discriminatedUnion("type", [NumericColumn, CategoricalColumn]);

/** Zod schema of a dataset schema file (`examples/schemas/*.json`). Unknown fields are rejected. */
export const DatasetSchemaSpec = z
  .strictObject({
    version: z.literal(1),
    name: z.string().min(1),
    description: z.string().optional(),
    /** Missing-value markers for every column (compared after trimming), e.g. ["?"]. */
    missing: z.array(z.string()).default([]),
    /** CSV layout. Defaults: delimiter ",", no header row, surrounding spaces trimmed. */
    csv: z
      .strictObject({
        delimiter: z.string().length(1).default(","),
        header: z.boolean().default(false),
        trim: z.boolean().default(true),
      })
      .default({ delimiter: ",", header: false, trim: true }),
    columns: z.array(ColumnSchema).min(1, "a schema needs at least one column"),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.columns.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: "custom", path: ["columns", i, "name"], message: `duplicate column name "${c.name}"` });
      seen.add(c.name);
    });
  });

export type ColumnSpec = z.infer<typeof ColumnSchema>;
export type DatasetSchema = z.infer<typeof DatasetSchemaSpec>;

/** One cell: a number (numeric column), a level string (categorical/label), or null (missing). */
export type Value = number | string | null;
/** One row, aligned with `schema.columns` (same order and length). */
export type Row = readonly Value[];

/** Thrown when a schema file is malformed. `issues` lists every problem with its JSON path. */
export class SchemaError extends Error {
  override readonly name = "SchemaError";
  constructor(message: string, readonly issues: string[]) {
    super(message);
  }
}

/**
 * Parses and validates a dataset schema (already JSON-decoded). Guarantees distinct column
 * names and non-empty distinct levels. Throws {@link SchemaError} listing every problem.
 */
export function parseDatasetSchema(json: unknown, source = "schema"): DatasetSchema {
  const r = DatasetSchemaSpec.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
    throw new SchemaError(`${source}: invalid dataset schema:\n  ${issues.join("\n  ")}`, issues);
  }
  return r.data;
}

/** Index of a column by name, or -1. */
export function columnIndex(schema: DatasetSchema, column: string): number {
  return schema.columns.findIndex((c) => c.name === column);
}

/**
 * Canonical JSON of a schema (keys sorted, defaults filled in): the bytes hashed into the
 * dataset commitment, so two nodes with the same declared schema agree on its digest.
 */
export function canonicalSchemaJson(schema: DatasetSchema): string {
  return canonicalJson(schema);
}
