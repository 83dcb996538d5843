/**
 * The federated-learning pipeline as a job submitter runs it: a statistics job computes
 * every numeric feature's federated mean and variance (MASCOT, linear-only), which becomes the
 * learning job's standardisation; then the learning job runs. For a differentially private
 * learning job the moments are a release too: they run validated and private with
 * {@link MOMENTS_PRIVACY_SHARE} of the job's ρ, and the learning job keeps the rest, so the
 * two releases together spend what the submitter asked (zCDP composes additively). Used by `2pm job submit` for
 * learning specs that standardise without a given standardisation, and by the demo.
 */
import type { JobSpec } from "../../protocol/api/schemas.ts";
import type { Preprocessing } from "../../protocol/learning/spec.ts";
import type { Standardization } from "../../protocol/learning/features.ts";
import { MIN_STD } from "../../protocol/learning/features.ts";
import { parseStatsQuery, type StatsQueryInput } from "../../protocol/stats/query.ts";
import { compileQuery } from "../../protocol/stats/layout.ts";
import { statsPrivacyPlan } from "../../protocol/stats/dp.ts";
import { fieldByName } from "../../protocol/field/index.ts";
import { PrivacySpec, resolveRho } from "../../protocol/dp/privacy.ts";
import type { StatsResult } from "../../protocol/stats/engine.ts";
import type { DatasetSchema } from "../../protocol/stats/schema.ts";
import { CliError } from "./errors.ts";
import type { ApiClient } from "../api/client.ts";
import { watchJob } from "./watch-job.ts";

/** The share of a private learning job's ρ spent on its federated feature moments. */
export const MOMENTS_PRIVACY_SHARE = 0.1;

/** Declared public ranges per numeric column (examples/bounds/*.json). */
export type FeatureBounds = Record<string, [number, number]>;

/**
 * A statistics query for the mean and variance of each numeric feature of `pre`, clipped to
 * its declared bounds. Throws CliError naming a feature without bounds.
 */
export function featureMomentsQuery(schema: DatasetSchema, pre: Preprocessing, bounds: FeatureBounds, maxRowsPerParty: number, privacy?: { rho: number; field: "m61" | "p128" }): StatsQueryInput {
  const measures = pre.numeric.map((col) => {
    const spec = schema.columns.find((c) => c.name === col);
    if (!spec) throw new CliError(`no column "${col}" in schema ${schema.name}; its columns: ${schema.columns.map((c) => c.name).join(", ")}`);
    if (spec.type !== "numeric") throw new CliError(`feature "${col}" is a ${spec.type} column of ${schema.name}; list it under preprocessing.categorical, not numeric`);
    const b = bounds[col];
    if (!b) throw new CliError(`no declared bounds for feature ${col} (add "${col}": [min, max] to the bounds file)`);
    return { name: col, kind: "variance" as const, column: col, bounds: b };
  });
  // The most fractional bits the field allows for these ranges: small-range features
  // (e.g. 0.04..0.1) need many bits for their variance to survive the fixed-point encoding.
  for (let fracBits = 24; fracBits >= 0; fracBits--) {
    const q: StatsQueryInput = { version: 1, dataset: schema.name, minCount: 0, fracBits, limits: { maxParties: 16, maxRowsPerParty }, measures, ...(privacy ? { privacy: { rho: privacy.rho } } : {}) };
    try {
      const parsed = parseStatsQuery(q);
      const layout = compileQuery(parsed, schema, privacy ? { modulus: fieldByName(privacy.field).p } : undefined);
      if (privacy) statsPrivacyPlan(parsed, layout); // the noise must fit the field too
      return q;
    } catch {
      /* overflow at this precision: try fewer bits */
    }
  }
  throw new CliError("feature ranges too wide for a fixed-point moments query");
}

/** The standardisation (inputDim entries; one-hot features get mean 0, std 1) from a moments result. */
export function standardizationFromStats(result: StatsResult, pre: Preprocessing, inputDim: number): Standardization {
  const mean = new Array<number>(inputDim).fill(0);
  const std = new Array<number>(inputDim).fill(1);
  pre.numeric.forEach((col, j) => {
    const m = result.measures.find((x) => x.name === col)?.groups[0];
    if (!m || m.mean === null || m.mean === undefined || m.variancePopulation === null || m.variancePopulation === undefined) throw new CliError(`the statistics job returned no moments for ${col}`);
    mean[j] = m.mean;
    // A feature without spread (constant in the federation) is centred but not scaled.
    std[j] = m.variancePopulation > MIN_STD ? Math.sqrt(m.variancePopulation) : 1;
  });
  return { mean, std };
}

export interface PipelineProgress {
  (line: string): void;
}

/**
 * Runs the moments job for `learning` (whose task has model.preprocessing with
 * standardize: true and no standardization) and returns the learning spec with the
 * standardisation filled in. Throws CliError if the statistics job does not complete.
 */
export async function withFederatedStandardization(op: ApiClient, learning: JobSpec, schema: DatasetSchema, bounds: FeatureBounds, print: PipelineProgress): Promise<{ spec: JobSpec; statsJob: string }> {
  const task = learning.task as { model: { inputDim: number; preprocessing?: Preprocessing }; aggregation: { maxSamplesPerNode: number } };
  const pre = task.model.preprocessing;
  if (!pre?.standardize) return { spec: learning, statsJob: "" };
  const asked = (learning.task as { privacy?: unknown }).privacy;
  const rho = asked === undefined ? undefined : resolveRho(PrivacySpec.parse(asked));
  const statsSpec: JobSpec = {
    // Linear-only: the moments of ~30 features with per-entry range checks cost thousands of
    // triples per round; a cheater here can only distort the scaling, not learn anything.
    // A private job's moments are noised, which only validated mode can do.
    ...learning, type: "stats", label: `feature moments for ${learning.label ?? "learning job"}${rho ? " (private)" : ""}`, maxRounds: 1, mode: rho ? "validated" : "linear-only",
    validation: { predicates: [], excludeFailing: true },
        // The noise of Σx² over wide ranges needs the 128-bit field (its norm check needs m·B² < p).
    ...(rho ? { field: "p128" as const } : {}),
    task: { query: featureMomentsQuery(schema, pre, bounds, task.aggregation.maxSamplesPerNode, rho ? { rho: rho * MOMENTS_PRIVACY_SHARE, field: "p128" } : undefined), schema },
  };
  if (rho) print(`privacy: the feature moments spend ρ = ${(rho * MOMENTS_PRIVACY_SHARE).toPrecision(3)} of the job's ${rho.toPrecision(3)}; learning keeps ${(rho * (1 - MOMENTS_PRIVACY_SHARE)).toPrecision(3)}`);
  const job = await op.submitJob(statsSpec);
  print(`feature moments: statistics job ${job.id}`);
  const final = await watchJob(op, job.id, (s) => print(`  ${s}`));
  if (final.status !== "completed") throw new CliError(`feature moments job ${job.id} ${final.status}`);
  const { result } = await op.result<{ stats: StatsResult }>(job.id);
  const standardization = standardizationFromStats(result.stats, pre, task.model.inputDim);
  const privacy = rho ? { privacy: { rho: rho * (1 - MOMENTS_PRIVACY_SHARE) } } : {};
  return { spec: { ...learning, task: { ...learning.task, standardization, ...privacy } }, statsJob: job.id };
}
