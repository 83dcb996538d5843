/**
 * The map step of a statistics job on a node: encode the local contribution of the node's
 * rows for the job's query as a field vector, plus the validation predicates every party
 * derives identically from the query's layout.
 */
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import { objectHash } from "../../../protocol/log/index.ts";
import type { Predicate } from "../../../protocol/mascot/party.ts";
import { encodeContribution, parseStatsQuery } from "../../../protocol/stats/index.ts";
import { parseDatasetSchema, type DatasetSchema } from "../../../protocol/stats/schema.ts";
import type { LoadedDataset } from "../../data/source.ts";
import { TaskRejected } from "./errors.ts";

export interface LocalInput {
  input: FieldVec;
  predicates: Predicate[];
  /** Rows used (local only; never sent). */
  rows: number;
}

/** Statistics task of a job spec: `{ query, schema }` (schema must equal the node's own). */
export function parseStatsTask(task: Record<string, unknown>): { query: ReturnType<typeof parseStatsQuery>; schema: DatasetSchema } {
  return { query: parseStatsQuery(task.query), schema: parseDatasetSchema(task.schema, "job task schema") };
}

/**
 * Encodes this node's contribution. Throws TaskRejected when the node's declared schema
 * differs from the job's, or the query cannot be encoded (e.g. overflow bound broken).
 */
export function statsInput(manifest: RoundManifest, dataset: LoadedDataset, field: Field): LocalInput {
  const { query, schema } = parseStatsTask(manifest.task);
  if (objectHash(schema) !== objectHash(dataset.schema)) throw new TaskRejected("schema-mismatch", `the job's schema ${schema.name} differs from this node's declared schema`);
  const c = encodeContribution(query, schema, dataset.rows, { modulus: field.p });
  const predicates: Predicate[] = manifest.mode === "validated" ? (c.layout.predicates as Predicate[]) : [];
  return { input: field.fromBigInts(c.values), predicates, rows: c.rowsUsed };
}
