/** Federated learning, node side (tfjs). Node/browser; `datasets.ts` file loading is Node-only. */
export { tf, initializeTf, PolyActivation } from "./tf.ts";
export { LocalModel, createLocalModel, initialWeights, buildTfModel, type LocalUpdate, type TrainOptions } from "./model.ts";
export { exportDense, exportLayersModel, memoryIOHandler, loadLayersModelFiles, type LayersModelFiles, type DenseModel } from "./export.ts";
export { simulateFederated, splitIndices, M61, type SimulationConfig, type SimulationResult, type RoundLog } from "./simulate.ts";
export * from "./datasets.ts";
