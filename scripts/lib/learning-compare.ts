/**
 * Federated vs central accuracy for a finished learning job on a local cluster: the job's
 * last global model (downloaded and hash-checked against the transparency log) and the same
 * model trained centrally on the union of the nodes' training rows (each node's rows minus
 * its held-out evaluation rows, encoded and standardised exactly as the nodes did) with the
 * same hyper-parameters, for rounds × local epochs epochs; both evaluated on the same test
 * rows that no node holds. Used by the end-to-end tests, the demo and the learning bench.
 */
import type { ApiClient } from "../../client/api/client.ts";
import { fetchTrainedModel } from "../../client/cli/model.ts";
import { concatDatasets, createLocalModel, datasetFromRows, splitHeldOut, type Dataset } from "../../client/learning/index.ts";
import { parseLearningTask, type LearningResult } from "../../protocol/jobs/learning.ts";
import { standardizeInPlace } from "../../protocol/learning/features.ts";
import type { ModelSpec } from "../../protocol/learning/spec.ts";
import type { DatasetSchema, Row } from "../../protocol/stats/schema.ts";
import type { JobSpec } from "../../protocol/api/schemas.ts";

export interface Comparison {
  /** Test accuracy of the job's last global model. */
  federated: number;
  /** Test accuracy of the centrally trained model. */
  central: number;
  /** federated − central, in percentage points. */
  diffPts: number;
  /** Accepted aggregation rounds (models after round 0). */
  rounds: number;
  centralEpochs: number;
  testRows: number;
  trainRows: number;
}

/** Encodes rows as the nodes do for `spec` (features, one-hot, standardisation). */
export function encodeForJob(spec: JobSpec, schema: DatasetSchema, rows: readonly Row[]): Dataset {
  const { job, standardization } = parseLearningTask(spec.task);
  const pre = job.model.preprocessing;
  if (!pre) throw new RangeError("encodeForJob: the job has no preprocessing");
  const ds = datasetFromRows(schema, rows, pre);
  if (pre.standardize && standardization) standardizeInPlace(ds.x, ds.n, ds.d, standardization);
  return ds;
}

/**
 * Compares job `jobId` (spec `spec`, as submitted) with central training. `nodeRows` are the
 * rows each participating node holds; `testRows` rows none of them holds. `opts.model`:
 * the job's last global model (default) or its best by federated evaluation.
 * Throws if the job has no accepted round or its log does not verify.
 */
export async function compareWithCentral(
  op: ApiClient, jobId: string, spec: JobSpec, schema: DatasetSchema, nodeRows: readonly (readonly Row[])[], testRows: readonly Row[],
  opts: { model?: "last" | "best" } = {},
): Promise<Comparison> {
  const { job } = parseLearningTask(spec.task);
  const { result } = await op.result<LearningResult>(jobId);
  // "best": the round the federation's own held-out evaluation ranks best (what `2pm model
  // download` delivers by default); never chosen by the test rows.
  const trained = await fetchTrainedModel(op, jobId, opts.model === "best" ? result.bestRound : result.latestModelRound);
  const test = encodeForJob(spec, schema, testRows);
  const train = concatDatasets(nodeRows.map((rows) => splitHeldOut(encodeForJob(spec, schema, rows), job.evaluation.heldOutFraction).train));
  const model = await createLocalModel(job.model);
  let federated: number;
  try {
    const e = model.evaluate(test, trained.weights);
    federated = e.correct / e.count;
  } finally {
    model.dispose();
  }
  // Same hyper-parameters, no clipping, plain averaging; as many passes over each row as the federation made.
  const { clipNorm: _clip, ...rest } = job.model;
  const centralSpec: ModelSpec = { ...rest, strategy: { kind: "fedavg", serverLearningRate: 1 } };
  const cm = await createLocalModel(centralSpec);
  const centralEpochs = Math.max(1, result.latestModelRound) * job.model.epochs;
  let central: number;
  try {
    cm.trainLocal(cm.getWeights(), train, { epochs: centralEpochs });
    const e = cm.evaluate(test);
    central = e.correct / e.count;
  } finally {
    cm.dispose();
  }
  return { federated, central, diffPts: 100 * (federated - central), rounds: result.latestModelRound, centralEpochs, testRows: test.n, trainRows: train.n };
}
