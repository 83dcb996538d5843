/**
 * The statistics job type (./types.ts JobTypeDef, registered in ./registry.ts): the task's
 * parser, the submit-time validation (a bad query is refused with a 400 before any node is
 * selected), the columns it reads, the round's layout and predicates every member derives, and
 * the reduce step (runs in the JobDO): decode the opened aggregate, finalise it against the
 * query's layout (division, square roots, quantile interpolation, suppression of small cells).
 * Pure.
 */
import { fieldByName } from "../field/index.ts";
import { noisePredicate } from "../mascot/noise.ts";
import type { Predicate } from "../mascot/party.ts";
import { compileQuery, finalise, parseStatsQuery, StatsQueryError, type StatsLayout, type StatsResult } from "../stats/index.ts";
import { statsPrivacyPlan } from "../stats/dp.ts";
import { parseDatasetSchema, type DatasetSchema } from "../stats/schema.ts";
import type { StatsQuery } from "../stats/query.ts";
import { checkAggregateLength, checkSpecLimits } from "./limits.ts";
import { summedParties, type JobTypeDef } from "./types.ts";

export interface StatsTask {
  query: StatsQuery;
  schema: DatasetSchema;
}

/** Parses a stats job's `task` ({ query, schema }): the one parser of this task. Throws StatsQueryError / SchemaError naming the problem. */
export function parseStatsTask(task: Record<string, unknown>): StatsTask {
  return { query: parseStatsQuery(task.query), schema: parseDatasetSchema(task.schema, "task.schema") };
}

/**
 * Parses and checks a stats job's `task` ({ query, schema }) for a committee of `parties`:
 * the query must compile against the schema within the field's overflow bound, and a private
 * query's noise must fit the field (protocol/stats/dp.ts). With `mode`, a private query is
 * refused outside "validated" (linear-only and plaintext cannot add noise no party removes).
 * Throws StatsQueryError / SchemaError / RangeError naming the problem.
 */
export function validateStatsTask(task: Record<string, unknown>, fieldName: "m61" | "p128", parties: number, schemaId: string, mode?: "validated" | "linear-only" | "plaintext"): StatsTask {
  const { query, schema } = parseStatsTask(task);
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

/** Every column a stats task reads: its filters', measures' and group-bys' columns, sorted. */
export function statsColumns(task: StatsTask): string[] {
  const out = new Set<string>();
  for (const f of task.query.filters) out.add(f.column);
  for (const m of task.query.measures) {
    if ("column" in m && typeof m.column === "string") out.add(m.column);
    if (m.groupBy) out.add(m.groupBy);
  }
  return [...out].sort();
}

/** The statistics job type: one round, no model. */
export const statsJobType: JobTypeDef<StatsTask, StatsLayout> = {
  type: "stats",
  parseTask: parseStatsTask,
  validate(spec) {
    checkSpecLimits(spec, spec.maxRounds);
    const task = validateStatsTask(spec.task, spec.field, spec.committee.size, spec.schemaId, spec.mode);
    checkAggregateLength(compileQuery(task.query, task.schema, { modulus: fieldByName(spec.field).p }).length, spec.field, "the query's layout");
    return task;
  },
  columns: statsColumns,
  /** The query's layout; its range predicates in validated mode; a private query's noise and noise-norm predicate on [d, 2d). */
  roundPlan(task, ctx) {
    const field = fieldByName(ctx.field);
    const layout = compileQuery(task.query, task.schema, { modulus: field.p });
    const predicates: Predicate[] = ctx.mode === "validated" ? [...(layout.predicates as Predicate[])] : [];
    const privacy = statsPrivacyPlan(task.query, layout);
    if (!privacy) return { length: layout.length, predicates, layout };
    // The noise-norm predicate is listed too: a party built without `noise` then fails (indices
    // beyond its input) instead of opening the exact sum; with `noise` it is used once.
    return { length: layout.length, predicates: [...predicates, noisePredicate(field, privacy.noise, layout.length)], noise: privacy.noise, layout };
  },
  init: () => ({ state: null }),
  roundLimit: (spec) => spec.maxRounds,
  abandonRound: () => null,
  reduce(spec, _state, agg) {
    const task = validateStatsTask(spec.task, spec.field, agg.committee.length, spec.schemaId);
    const stats = reduceStats(task, spec.field, agg.bytes, summedParties(agg));
    return {
      state: null,
      done: true,
      result: { round: agg.round, stats, excludedNodes: agg.excluded.map((i) => agg.committee[i]!), aggregateHash: agg.hash },
    };
  },
};
