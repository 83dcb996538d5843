/**
 * The map step of a statistics job on a node: encode the local contribution of the node's
 * rows for the job's query as a field vector, with the round's predicates and noise as the
 * job type derives them (protocol/jobs/registry.ts: `jobTypes.stats`, the same parser and
 * plan the coordinator uses).
 */
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import { objectHash } from "../../../protocol/log/index.ts";
import type { Predicate } from "../../../protocol/mascot/party.ts";
import type { NoiseConfig } from "../../../protocol/mascot/noise.ts";
import { jobTypes } from "../../../protocol/jobs/registry.ts";
import { encodeContribution } from "../../../protocol/stats/index.ts";
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

/**
 * Encodes this node's contribution. For a private query also the noise every party adds
 * (derived by this node from the signed query, never taken from the coordinator). Throws
 * TaskRejected when the node's declared schema differs from the job's ("schema-mismatch"), a
 * private query comes in a mode that cannot noise it ("privacy-mode": linear-only and
 * plaintext would release the exact aggregate), or the query cannot be encoded (overflow, or
 * noise that does not fit the field).
 */
export function statsInput(manifest: RoundManifest, dataset: LoadedDataset, field: Field): LocalInput {
  const type = jobTypes.stats;
  const task = type.parseTask(manifest.task);
  if (objectHash(task.schema) !== objectHash(dataset.schema)) throw new TaskRejected("schema-mismatch", `the job's schema ${task.schema.name} differs from this node's declared schema`);
  if (task.query.privacy && manifest.mode !== "validated") {
    throw new TaskRejected("privacy-mode", `the query asks for differential privacy but the round runs in ${manifest.mode} mode, which cannot add noise that no party can remove`);
  }
  const c = encodeContribution(task.query, task.schema, dataset.rows, { modulus: field.p });
  // The committee size does not change a stats round's plan (the query's limits bound it at submission).
  const plan = type.roundPlan(task, { field: field.name, mode: manifest.mode, parties: manifest.committee?.length ?? 0, evaluationOnly: false });
  return { input: field.fromBigInts(c.values), predicates: plan.predicates, rows: c.rowsUsed, ...(plan.noise ? { noise: plan.noise } : {}) };
}
