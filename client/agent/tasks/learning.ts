/**
 * The map step of a learning job on a node: fetch the round's global model from the
 * coordinator, check its hash against both the manifest and the job's transparency log,
 * evaluate it on the node's held-out rows, train locally (FedAvg / FedProx, clipped), and
 * return the fixed-point vector [n·Δ ‖ n ‖ Σloss ‖ Σcorrect ‖ count] with the validation
 * predicates every party derives from the job (the L2-norm bound — with PINE wraparound
 * checks above 256 entries, else with per-entry ranges — and unsigned count and evaluation ranges).
 */
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import { fromHex } from "../../../protocol/encoding.ts";
import type { Field } from "../../../protocol/field/types.ts";
import { learningLayout, learningPredicates, parseLearningTask } from "../../../protocol/jobs/learning.ts";
import { standardizeInPlace } from "../../../protocol/learning/features.ts";
import { modelHashForRound, objectHash, type LogEntry } from "../../../protocol/log/index.ts";
import type { LoadedDataset } from "../../data/source.ts";
import { createLocalModel, type LocalModel } from "../../learning/model.ts";
import { datasetFromRows, preprocessingFromSchema } from "../../learning/from-schema.ts";
import { runNodeRound, splitHeldOut } from "../../learning/node-round.ts";
import type { NodeClient } from "../node-client.ts";
import { TaskRejected } from "./errors.ts";
import type { LocalInput } from "./stats.ts";

/** Models are kept per job spec so tfjs graphs are built once per job, not per round. */
const models = new Map<string, LocalModel>();

/**
 * Validation predicates of a learning round (validated mode): the L2 bound (PINE, or signed
 * ranges for the update entries plus the exact check), unsigned 0 ≤ count ≤ maxSamplesPerNode
 * for the sample count, and unsigned ranges for the evaluation sums (protocol/jobs/learning.ts,
 * shared with tests).
 */
export { learningPredicates };

/** Runs the node's learning step for one round. Throws TaskRejected / ModelRejected with a reason. */
export async function learningInput(manifest: RoundManifest, dataset: LoadedDataset, field: Field, client: NodeClient, log: readonly LogEntry[], index: number): Promise<LocalInput> {
  const { job, standardization } = parseLearningTask(manifest.task);
  const layout = learningLayout(job, manifest.committee.length, manifest.field);
  const logged = modelHashForRound(log, manifest.round);
  if (!manifest.modelHash || logged !== manifest.modelHash) throw new TaskRejected("model-hash-mismatch", `round ${manifest.round}: manifest model hash does not match the transparency log`);
  const pre = job.model.preprocessing ?? preprocessingFromSchema(dataset.schema, { standardize: false });
  const ds = datasetFromRows(dataset.schema, dataset.rows, pre);
  if (ds.n > job.aggregation.maxSamplesPerNode) throw new TaskRejected("too-many-rows", `node holds ${ds.n} rows, the job allows ${job.aggregation.maxSamplesPerNode}`);
  if (pre.standardize && standardization) standardizeInPlace(ds.x, ds.n, ds.d, standardization);
  const { train, heldOut } = splitHeldOut(ds, job.evaluation.heldOutFraction);
  const r = await client.get(`/v1/jobs/${encodeURIComponent(manifest.jobId)}/models/${manifest.round}`);
  const bytes = new Uint8Array(await r.arrayBuffer());
  const key = objectHash(job.model);
  let model = models.get(key);
  if (!model) {
    model = await createLocalModel(job.model);
    models.set(key, model);
  }
  const out = runNodeRound({ model, globalModel: bytes, expectedHash: fromHex(manifest.modelHash), round: manifest.round, train, heldOut, plan: layout.plan, evalPlan: layout.evalPlan, salt: index });
  const ints = [...out.contribution, ...out.evaluation];
  return {
    input: field.fromInts(ints),
    predicates: manifest.mode === "validated" ? learningPredicates(layout) : [],
    rows: ds.n,
  };
}
