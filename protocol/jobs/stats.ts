/**
 * The reduce step of a statistics job (pure; runs in the JobDO): decode the opened
 * aggregate, finalise it against the query's layout (division, square roots, quantile
 * interpolation, suppression of small cells). Also the submit-time validation of a stats
 * task, so a bad query is refused with a 400 before any node is selected.
 */
import { fieldByName } from "../field/index.ts";
import { compileQuery, finalise, parseStatsQuery, type StatsResult } from "../stats/index.ts";
import { parseDatasetSchema, type DatasetSchema } from "../stats/schema.ts";
import type { StatsQuery } from "../stats/query.ts";

export interface StatsTask {
  query: StatsQuery;
  schema: DatasetSchema;
}

/**
 * Parses and checks a stats job's `task` ({ query, schema }) for a committee of `parties`:
 * the query must compile against the schema within the field's overflow bound.
 * Throws StatsQueryError / SchemaError / RangeError naming the problem.
 */
export function validateStatsTask(task: Record<string, unknown>, fieldName: "m61" | "p128", parties: number, schemaId: string): StatsTask {
  const query = parseStatsQuery(task.query);
  const schema = parseDatasetSchema(task.schema, "task.schema");
  if (schema.name !== schemaId) throw new RangeError(`task.schema is "${schema.name}" but the job's schemaId is "${schemaId}"`);
  const layout = compileQuery(query, schema, { modulus: fieldByName(fieldName).p });
  if (parties > layout.maxParties) throw new RangeError(`committee size ${parties} exceeds the query's limits.maxParties ${layout.maxParties}`);
  return { query, schema };
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
