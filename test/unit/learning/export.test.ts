import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tf, createLocalModel, exportDense, exportLayersModel, layersModelFromWeights, loadLayersModelFiles, type LocalModel } from "../../../client/learning/index.ts";
import { denseForward, parseModelSpec, type ModelSpecInput } from "../../../protocol/learning/index.ts";

const spec: ModelSpecInput = {
  inputDim: 4, classes: 3, loss: "categorical-crossentropy",
  architecture: { kind: "mlp", hidden: [{ units: 6, activation: "relu" }, { units: 5, activation: "square" }, { units: 4, activation: "poly2", poly: [0.25, 0.5, 0.125] }] },
  optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 4, seed: 3, strategy: { kind: "fedavg" },
};
const xs = Float32Array.from({ length: 5 * 4 }, (_, i) => Math.sin(i) * 0.8);

describe("export", () => {
  let m: LocalModel;
  beforeAll(async () => { m = await createLocalModel(parseModelSpec(spec)); });
  afterAll(() => m.dispose());

  it("2pm-dense/v1 evaluates like the tfjs model (relu, square, poly2, softmax)", () => {
    const dense = exportDense(m);
    expect(dense.format).toBe("2pm-dense/v1");
    expect(dense.layers.map((l) => l.activation)).toEqual(["relu", "square", "poly2", "softmax"]);
    expect(dense.layers[2]!.poly).toEqual([0.25, 0.5, 0.125]);
    expect(dense.layers[0]!.weights.length).toBe(4);
    expect(dense.layers[0]!.weights[0]!.length).toBe(6);
    const p = m.predict(xs, 5);
    for (let r = 0; r < 5; r++) {
      const q = denseForward(dense, xs.subarray(r * 4, r * 4 + 4));
      for (let k = 0; k < 3; k++) expect(q[k]).toBeCloseTo(p[r * 3 + k]!, 5);
    }
  });

  it("carries the standardisation and applies it", () => {
    const st = { mean: [1, 2, 3, 4], std: [2, 2, 2, 2] };
    const dense = exportDense(m, st);
    expect(dense.preprocessing).toEqual(st);
    const raw = [3, 4, 5, 6];
    const p = m.predict(Float32Array.of(1, 1, 1, 1), 1);
    expect(denseForward(dense, raw)[0]).toBeCloseTo(p[0]!, 5);
  });

  it("tfjs LayersModel files load with tf.loadLayersModel (custom PolyActivation registered)", async () => {
    const files = await exportLayersModel(m, { job: "test", preprocessing: null });
    expect(files.modelJson.format).toBe("layers-model");
    expect(files.modelJson.weightsManifest[0]!.paths).toEqual(["weights.bin"]);
    expect(files.weightsBin.byteLength).toBe(m.size * 4);
    expect(JSON.stringify(files.modelJson.modelTopology)).toContain("PolyActivation");
    // model.json survives a JSON round trip (what is stored in R2 / downloaded)
    const reparsed = { ...files, modelJson: JSON.parse(JSON.stringify(files.modelJson)) as typeof files.modelJson };
    const loaded = await loadLayersModelFiles(reparsed);
    try {
      const a = tf.tidy(() => (loaded.predict(tf.tensor2d(xs, [5, 4])) as tf.Tensor).dataSync().slice());
      const b = m.predict(xs, 5);
      expect(Array.from(a)).toEqual(Array.from(b));
    } finally { loaded.dispose(); }
  });

  it("layersModelFromWeights packages stored weights (e.g. the final global model)", async () => {
    const w = m.getWeights().map((v, i) => v + (i % 3) * 0.01);
    const files = await layersModelFromWeights(m.spec, w, { round: 7 });
    expect(files.modelJson.userDefinedMetadata).toEqual({ round: 7 });
    const loaded = await loadLayersModelFiles(files);
    try {
      const got = loaded.getWeights().flatMap((t) => Array.from(t.dataSync()));
      expect(got).toEqual(Array.from(w, Math.fround));
    } finally { loaded.dispose(); }
    await expect(layersModelFromWeights(m.spec, [1, 2, 3])).rejects.toThrow(RangeError);
  });

  it("export and load do not leak tensors", async () => {
    await exportLayersModel(m);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      exportDense(m);
      const loaded = await loadLayersModelFiles(await exportLayersModel(m));
      loaded.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses tanh in the dense format", async () => {
    const t = await createLocalModel(parseModelSpec({ ...spec, architecture: { kind: "mlp", hidden: [{ units: 2, activation: "tanh" }] } }));
    try { expect(() => exportDense(t)).toThrow(/tanh/); } finally { t.dispose(); }
  });
});
