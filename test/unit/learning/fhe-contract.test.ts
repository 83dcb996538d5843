/** The DenseModel contract between client/learning (producer) and client/fhe (consumer). */
import { describe, expect, it } from "vitest";
import { createLocalModel, exportDense, simulateFederated } from "../../../client/learning/index.ts";
import { loadReferenceDataset } from "../../../client/learning/reference-data.ts";
import { parseModelSpec, toDenseModel, denseForward } from "../../../protocol/learning/index.ts";
import { applyOutput, checkDenseModel, compilePlan, labelOf, plainScores } from "../../../client/fhe/model.ts";

describe("2pm-dense/v1 → client/fhe", () => {
  it("a square/poly2 MLP export is accepted, compiles, and scores like tfjs", async () => {
    const m = await createLocalModel(parseModelSpec({
      inputDim: 5, classes: 3, loss: "categorical-crossentropy",
      architecture: { kind: "mlp", hidden: [{ units: 4, activation: "square" }, { units: 3, activation: "poly2", poly: [0.1, 0.5, 0.25] }] },
      optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 4, seed: 9, strategy: { kind: "fedavg" },
    }));
    try {
      const st = { mean: [1, 2, 3, 4, 5], std: [1, 2, 0.5, 1, 3] };
      const dense = checkDenseModel(exportDense(m, st));
      const plan = compilePlan(dense);
      expect(plan.depth).toBe(5); // 3 affine layers + 2 squares
      const raw = [1.5, 2.5, 3.25, 3, 6];
      const standardised = Float32Array.from(raw, (x, j) => (x - st.mean[j]!) / st.std[j]!);
      const tfjs = m.predict(standardised, 1);
      const fhe = applyOutput(plan.output, plainScores(dense, raw));
      for (let k = 0; k < 3; k++) expect(fhe[k]).toBeCloseTo(tfjs[k]!, 5);
    } finally { m.dispose(); }
  });

  it("the federated wdbc model classifies raw test rows identically through the FHE plaintext reference", async () => {
    const { train, test } = loadReferenceDataset("wdbc");
    const spec = parseModelSpec({
      inputDim: 30, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" },
      optimizer: { kind: "adam", learningRate: 0.05 }, epochs: 2, batchSize: 16, seed: 1, strategy: { kind: "fedavg" }, clipNorm: 10,
    });
    const r = await simulateFederated({ spec, train, test, rounds: 5, standardize: true, central: false, trackTest: false });
    const dense = checkDenseModel(toDenseModel(spec, r.federated.weights, r.standardization));
    let agree = 0;
    let correct = 0;
    for (let i = 0; i < test.n; i++) {
      const row = test.x.subarray(i * 30, (i + 1) * 30);
      const viaFhe = labelOf(plainScores(dense, row));
      const viaRef = denseForward(dense, row)[0]! > 0.5 ? 1 : 0;
      if (viaFhe === viaRef) agree++;
      if (viaFhe === test.y[i]) correct++;
    }
    expect(agree).toBe(test.n);
    expect(correct / test.n).toBeCloseTo(r.federated.accuracy, 10);
  });
});
