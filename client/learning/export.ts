/**
 * Model export: `2pm-dense/v1` (for client/fhe; see protocol/learning/dense.ts) and the tfjs
 * LayersModel format (model.json + one weights .bin), loadable by `tf.loadLayersModel`
 * through an in-memory IOHandler. Custom layers (PolyActivation) are registered by importing
 * ./tf.ts, which this module does.
 */
import { tf, initializeTf } from "./tf.ts";
import { createLocalModel, type LocalModel } from "./model.ts";
import type { ModelSpec } from "../../protocol/learning/spec.ts";
import { toDenseModel, type DenseModel } from "../../protocol/learning/dense.ts";
import type { Standardization } from "../../protocol/learning/features.ts";

export type { DenseModel };

/** The two files of a tfjs LayersModel. */
export interface LayersModelFiles {
  /** Contents of model.json: { modelTopology, weightsManifest: [{ paths: [weightsPath], weights }], format, ... }. */
  modelJson: {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
    format: "layers-model";
    generatedBy: string;
    convertedBy: null;
    userDefinedMetadata?: Record<string, unknown>;
  };
  /** Contents of the weights file named in the manifest. */
  weightsBin: Uint8Array;
}

/** Dense export of a local model's current weights. Throws RangeError for tanh hidden layers. */
export function exportDense(model: LocalModel, standardization: Standardization | null = null): DenseModel {
  return toDenseModel(model.spec, model.getWeights(), standardization);
}

/**
 * Serialises the model (current weights) as tfjs LayersModel files. `metadata` goes into
 * model.json's `userDefinedMetadata` (e.g. the preprocessing and the job id).
 */
export async function exportLayersModel(model: LocalModel, metadata?: Record<string, unknown>, weightsPath = "weights.bin"): Promise<LayersModelFiles> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.model.save(tf.io.withSaveHandler(async (a) => {
    captured = a;
    return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: "JSON" } };
  }));
  if (!captured?.modelTopology || !captured.weightSpecs || !captured.weightData) throw new Error("exportLayersModel: tfjs returned no artifacts");
  const data = captured.weightData;
  const buf = Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  return {
    modelJson: {
      modelTopology: captured.modelTopology as object,
      weightsManifest: [{ paths: [weightsPath], weights: captured.weightSpecs }],
      format: "layers-model",
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs} (2pm)`,
      convertedBy: null,
      ...(metadata ? { userDefinedMetadata: metadata } : {}),
    },
    weightsBin: new Uint8Array(buf.slice(0)),
  };
}

/** An IOHandler serving LayersModel files from memory (what `tf.loadLayersModel` takes instead of a URL). */
export function memoryIOHandler(files: LayersModelFiles): tf.io.IOHandler {
  const entry = files.modelJson.weightsManifest[0];
  if (!entry || files.modelJson.weightsManifest.length !== 1) throw new RangeError("memoryIOHandler: expected one weights group");
  const bin = files.weightsBin;
  return tf.io.fromMemory({
    modelTopology: files.modelJson.modelTopology,
    weightSpecs: entry.weights,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer,
    ...(files.modelJson.userDefinedMetadata ? { userDefinedMetadata: files.modelJson.userDefinedMetadata as Record<string, object> } : {}),
  });
}

/** Loads exported files with `tf.loadLayersModel` (custom layers registered). */
export async function loadLayersModelFiles(files: LayersModelFiles): Promise<tf.LayersModel> {
  await initializeTf();
  return tf.loadLayersModel(memoryIOHandler(files));
}

/**
 * LayersModel files for a spec and flat weights (e.g. the final global model fetched from
 * R2), without keeping a model around: builds, loads the weights, exports, disposes.
 * Throws RangeError if the weights do not fit the spec.
 */
export async function layersModelFromWeights(spec: ModelSpec, weights: ArrayLike<number>, metadata?: Record<string, unknown>): Promise<LayersModelFiles> {
  const m = await createLocalModel(spec);
  try {
    m.setWeights(weights);
    return await exportLayersModel(m, metadata);
  } finally {
    m.dispose();
  }
}
