/**
 * The map step of a learning job on a node: fetch the round's global model from the
 * coordinator, check its hash against both the manifest and the job's transparency log,
 * evaluate it on the node's held-out rows, train locally (FedAvg / FedProx, clipped), and
 * return the fixed-point vector [n·Δ ‖ n ‖ Σloss ‖ Σcorrect ‖ count] with the validation
 * predicates every party derives from the job (the L2-norm bound — with PINE wraparound
 * checks above 256 entries, else with per-entry ranges — and unsigned count and evaluation ranges).
 * In the job's evaluation-only last round (the log says the stopping rule fired) it sends
 * only the evaluation of the final model, with unsigned range checks. The task's parser, the
 * layout and the predicates are the job type's (protocol/jobs/registry.ts `jobTypes.learning`),
 * the same the coordinator uses.
 * A private job (`privacy` + `dp`, docs/dp.md "Learning (DP-FedAvg)") instead sends the sum of
 * a fixed-size batch's clipped per-example gradients with the count B and zero evaluation
 * entries, and in the final round the evaluation sums; either way it returns
 * `LocalInput.noise` (the noise its MASCOT party must add, from the signed task) and lists the
 * noise-norm predicate, so a party built without that noise refuses to start.
 */
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import { fromHex } from "../../../protocol/encoding.ts";
import type { Field } from "../../../protocol/field/types.ts";
import { isFinalEvaluationRound } from "../../../protocol/jobs/learning.ts";
import { jobTypes } from "../../../protocol/jobs/registry.ts";
import { standardizeInPlace } from "../../../protocol/learning/features.ts";
import { modelHashForRound, objectHash, type LogEntry } from "../../../protocol/log/index.ts";
import type { LoadedDataset } from "../../data/source.ts";
import { createLocalModel, type LocalModel } from "../../learning/model.ts";
import { datasetFromRows, preprocessingFromSchema } from "../../learning/from-schema.ts";
import { runNodeDpRound, runNodeEvaluation, runNodeRound, splitHeldOut } from "../../learning/node-round.ts";
import type { NodeClient } from "../node-client.ts";
import { TaskRejected } from "./errors.ts";
import type { LocalInput } from "./stats.ts";

/** Models are kept per job spec so tfjs graphs are built once per job, not per round. */
const models = new Map<string, LocalModel>();

/**
 * The round's global model bytes (checked against the log by the caller). A network failure
 * (fetch's TypeError) is retried twice, after 0.5 s and 1.5 s, so a momentary connection
 * error does not turn into a decline; an HTTP error is not retried.
 */
async function fetchModel(client: NodeClient, jobId: string, round: number): Promise<Uint8Array> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.modelBytes(jobId, round);
    } catch (e) {
      if (!(e instanceof TypeError) || attempt >= 2) throw e;
      await new Promise((resolve) => setTimeout(resolve, 500 * 3 ** attempt));
    }
  }
}

/**
 * Runs the node's learning step for one round. Throws TaskRejected ("privacy-mode": a private
 * job outside validated mode; "too-few-rows": fewer training rows than dp.batchSize;
 * "model-hash-mismatch", "too-many-rows") or ModelRejected with a reason.
 */
export async function learningInput(manifest: RoundManifest, dataset: LoadedDataset, field: Field, client: NodeClient, log: readonly LogEntry[], index: number): Promise<LocalInput> {
  const type = jobTypes.learning;
  const task = type.parseTask(manifest.task);
  const { job, standardization } = task;
  if (job.privacy && manifest.mode !== "validated") {
    throw new TaskRejected("privacy-mode", `the job asks for differential privacy but the round runs in ${manifest.mode} mode, which cannot add noise that no party can remove`);
  }
  const plan = type.roundPlan(task, { field: manifest.field, mode: manifest.mode, parties: manifest.committee.length, evaluationOnly: isFinalEvaluationRound(log, manifest.round) });
  const logged = modelHashForRound(log, manifest.round);
  if (!manifest.modelHash || logged !== manifest.modelHash) throw new TaskRejected("model-hash-mismatch", `round ${manifest.round}: manifest model hash does not match the transparency log`);
  const pre = job.model.preprocessing ?? preprocessingFromSchema(dataset.schema, { standardize: false });
  const ds = datasetFromRows(dataset.schema, dataset.rows, pre);
  if (ds.n > job.aggregation.maxSamplesPerNode) throw new TaskRejected("too-many-rows", `node holds ${ds.n} rows, the job allows ${job.aggregation.maxSamplesPerNode}`);
  if (pre.standardize && standardization) standardizeInPlace(ds.x, ds.n, ds.d, standardization);
  const { train, heldOut } = splitHeldOut(ds, job.evaluation.heldOutFraction);
  const bytes = await fetchModel(client, manifest.jobId, manifest.round);
  const key = objectHash(job.model);
  let model = models.get(key);
  if (!model) {
    model = await createLocalModel(job.model);
    models.set(key, model);
  }
  // The round's predicates (and a private round's noise, whose noise-norm predicate on [d, 2d)
  // makes a party built without `noise` fail instead of opening exact sums) come from the plan.
  const planned = { predicates: plan.predicates, rows: ds.n, ...(plan.noise ? { noise: plan.noise } : {}) };
  if (plan.layout.kind === "evaluation") {
    // The job's last round: evaluate the final model only (no training, no update sent).
    const ev = runNodeEvaluation({ model, globalModel: bytes, expectedHash: fromHex(manifest.modelHash), round: manifest.round, heldOut, evalPlan: plan.layout.layout.evalPlan });
    return { input: field.fromInts([...ev.evaluation]), ...planned };
  }
  const layout = plan.layout.layout;
  if (job.dp && layout.privacy) {
    // DP-FedSGD: per-example clipped gradients of a fixed-size batch; the party adds the noise.
    if (train.n < job.dp.batchSize) throw new TaskRejected("too-few-rows", `node holds ${train.n} training rows, the job samples ${job.dp.batchSize} per round`);
    const out = runNodeDpRound({ globalModel: bytes, expectedHash: fromHex(manifest.modelHash), round: manifest.round, train, plan: layout.plan, spec: job.model, size: model.size, dp: job.dp });
    return { input: field.fromInts([...out.contribution, ...out.evaluation]), ...planned };
  }
  const out = runNodeRound({ model, globalModel: bytes, expectedHash: fromHex(manifest.modelHash), round: manifest.round, train, heldOut, plan: layout.plan, evalPlan: layout.evalPlan, salt: index });
  return { input: field.fromInts([...out.contribution, ...out.evaluation]), ...planned };
}
