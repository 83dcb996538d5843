/**
 * The map step of a statistics job on a node: encode the local contribution of the node's
 * rows for the job's query as a field vector, plus the validation predicates every party
 * derives identically from the query's layout.
 */
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import { objectHash } from "../../../protocol/log/index.ts";
import type { Predicate } from "../../../protocol/mascot/party.ts";
import { noisePredicate, type NoiseConfig } from "../../../protocol/mascot/noise.ts";
import { encodeContribution, parseStatsQuery } from "../../../protocol/stats/index.ts";
import { statsPrivacyPlan } from "../../../protocol/stats/dp.ts";
import { parseDatasetSchema, type DatasetSchema } from "../../../protocol/stats/schema.ts";
import type { LoadedDataset } from "../../data/source.ts";
import { TaskRejected } from "./errors.ts";

export interface LocalInput {
  input: FieldVec;
  predicates: Predicate[];
  /** Rows used (local only; never sent). */
  rows: number;
  /**
   * Private queries: the public noise σ² per entry. The party must get it as
   * SecureSumConfig.noise, so that it adds its own noise inside MASCOT (docs/dp.md).
   */
  noise?: NoiseConfig;
}

/** Statistics task of a job spec: `{ query, schema }` (schema must equal the node's own). */
export function parseStatsTask(task: Record<string, unknown>): { query: ReturnType<typeof parseStatsQuery>; schema: DatasetSchema } {
  return { query: parseStatsQuery(task.query), schema: parseDatasetSchema(task.schema, "job task schema") };
}

/**
 * Encodes this node's contribution. For a private query also the noise every party adds
 * (derived by this node from the signed query, never taken from the coordinator). Throws
 * TaskRejected when the node's declared schema differs from the job's ("schema-mismatch"), a
 * private query comes in a mode that cannot noise it ("privacy-mode": linear-only and
 * plaintext would release the exact aggregate), or the query cannot be encoded (overflow, or
 * noise that does not fit the field).
 */
export function statsInput(manifest: RoundManifest, dataset: LoadedDataset, field: Field): LocalInput {
  const { query, schema } = parseStatsTask(manifest.task);
  if (objectHash(schema) !== objectHash(dataset.schema)) throw new TaskRejected("schema-mismatch", `the job's schema ${schema.name} differs from this node's declared schema`);
  if (query.privacy && manifest.mode !== "validated") {
    throw new TaskRejected("privacy-mode", `the query asks for differential privacy but the round runs in ${manifest.mode} mode, which cannot add noise that no party can remove`);
  }
  const c = encodeContribution(query, schema, dataset.rows, { modulus: field.p });
  const predicates: Predicate[] = manifest.mode === "validated" ? (c.layout.predicates as Predicate[]) : [];
  const plan = statsPrivacyPlan(query, c.layout);
  if (!plan) return { input: field.fromBigInts(c.values), predicates, rows: c.rowsUsed };
  // The noise-norm predicate on [d, 2d) is listed too: a party built without `noise` then fails
  // (indices beyond its input) instead of opening the exact sum; with `noise` it is used once.
  return { input: field.fromBigInts(c.values), predicates: [...predicates, noisePredicate(field, plan.noise, c.layout.length)], rows: c.rowsUsed, noise: plan.noise };
}
