/**
 * The reduce step of a statistics job (pure; runs in the JobDO): decode the opened
 * aggregate, finalise it against the query's layout (division, square roots, quantile
 * interpolation, suppression of small cells). Also the submit-time validation of a stats
 * task, so a bad query is refused with a 400 before any node is selected.
 */
import { fieldByName } from "../field/index.ts";
import { compileQuery, finalise, parseStatsQuery, StatsQueryError, type StatsResult } from "../stats/index.ts";
import { statsPrivacyPlan, type StatsPrivacyPlan } from "../stats/dp.ts";
import { parseDatasetSchema, type DatasetSchema } from "../stats/schema.ts";
import type { StatsQuery } from "../stats/query.ts";

export interface StatsTask {
  query: StatsQuery;
  schema: DatasetSchema;
}

/**
 * Parses and checks a stats job's `task` ({ query, schema }) for a committee of `parties`:
 * the query must compile against the schema within the field's overflow bound, and a private
 * query's noise must fit the field (protocol/stats/dp.ts). With `mode`, a private query is
 * refused outside "validated" (linear-only and plaintext cannot add noise no party removes).
 * Throws StatsQueryError / SchemaError / RangeError naming the problem.
 */
export function validateStatsTask(task: Record<string, unknown>, fieldName: "m61" | "p128", parties: number, schemaId: string, mode?: "validated" | "linear-only" | "plaintext"): StatsTask {
  const query = parseStatsQuery(task.query);
  const schema = parseDatasetSchema(task.schema, "task.schema");
  if (schema.name !== schemaId) throw new RangeError(`task.schema is "${schema.name}" but the job's schemaId is "${schemaId}"`);
  const layout = compileQuery(query, schema, { modulus: fieldByName(fieldName).p });
  if (parties > layout.maxParties) throw new RangeError(`committee size ${parties} exceeds the query's limits.maxParties ${layout.maxParties}`);
  statsPrivacyPlan(query, layout);
  if (query.privacy && mode !== undefined && mode !== "validated") {
    throw new StatsQueryError([`privacy: a private query needs mode "validated" (${mode} mode cannot add noise that no party can remove)`]);
  }
  return { query, schema };
}

/**
 * The privacy plan of a stats task (undefined without `privacy`): every party's noise σ² per
 * entry, the norm bound, and the ρ / (ε, δ) one release spends for each honest node.
 * Throws like {@link validateStatsTask}.
 */
export function statsTaskPrivacy(task: StatsTask, fieldName: "m61" | "p128"): StatsPrivacyPlan | undefined {
  return statsPrivacyPlan(task.query, compileQuery(task.query, task.schema, { modulus: fieldByName(fieldName).p }));
}

/**
 * Finalises one accepted aggregate. `parties` is the number of inputs summed (committee
 * minus excluded). Throws RangeError if the aggregate's length does not match the layout.
 */
export function reduceStats(task: StatsTask, fieldName: "m61" | "p128", aggregate: Uint8Array, parties: number): StatsResult {
  const field = fieldByName(fieldName);
  const layout = compileQuery(task.query, task.schema, { modulus: field.p });
  const summed = field.toBigInts(field.decode(aggregate));
  if (summed.length !== layout.length) throw new RangeError(`aggregate has ${summed.length} entries, the query's layout ${layout.length}`);
  return finalise(task.query, layout, summed, { parties });
}
