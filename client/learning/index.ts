/** Federated learning, node side (tfjs). Node and browser; Node-only file loading of the reference datasets is in `reference-data.ts` (not re-exported here).  */
export { tf, initializeTf, PolyActivation } from "./tf.ts";
export { LocalModel, createLocalModel, initialWeights, buildTfModel, type LocalUpdate, type TrainOptions } from "./model.ts";
export { exportDense, exportLayersModel, layersModelFromWeights, memoryIOHandler, loadLayersModelFiles, type LayersModelFiles, type DenseModel } from "./export.ts";
export { simulateFederated, splitIndices, M61, type SimulationConfig, type SimulationResult, type RoundLog } from "./simulate.ts";
export * from "./datasets.ts";
export { runNodeRound, splitHeldOut, ModelRejected, type NodeRoundInput, type NodeRoundOutput } from "./node-round.ts";
export { preprocessingFromSchema, datasetFromRows } from "./from-schema.ts";
