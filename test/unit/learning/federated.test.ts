/**
 * Federated (5 nodes, plaintext aggregation through the fixed-point path) vs central training
 * on the union of the nodes' training slices, same hyper-parameters. Kept small for speed
 * (optdigits and adult on subsamples); the full comparison is `npm run bench -- learning-local`.
 */
import { describe, expect, it } from "vitest";
import { simulateFederated, subset, type Dataset, type SimulationResult } from "../../../client/learning/index.ts";
import { loadReferenceDataset } from "../../../client/learning/reference-data.ts";
import { parseModelSpec, StoppingRule } from "../../../protocol/learning/index.ts";

const every = (ds: Dataset, k: number) => subset(ds, Array.from({ length: k }, (_, i) => Math.floor((i * ds.n) / k)));
const report = (name: string, r: SimulationResult) => {
  const c = r.central!;
  console.log(`[learning] ${name}: federated ${(100 * r.federated.accuracy).toFixed(2)}% vs central ${(100 * c.accuracy).toFixed(2)}% ` +
    `(${r.rounds.length} rounds, fracBits ${r.plan?.fracBits}, fed ${r.federatedMillis.toFixed(0)} ms, central ${c.millis.toFixed(0)} ms)`);
};

describe("federated vs central", () => {
  it("wdbc, logistic regression: within 1 point", async () => {
    const { train, test } = loadReferenceDataset("wdbc");
    const spec = parseModelSpec({
      inputDim: 30, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" },
      optimizer: { kind: "adam", learningRate: 0.05 }, epochs: 2, batchSize: 16, seed: 1, strategy: { kind: "fedavg" }, clipNorm: 10,
    });
    const r = await simulateFederated({ spec, train, test, rounds: 20, standardize: true, trackTest: false });
    report("wdbc LR", r);
    expect(r.plan).not.toBeNull();
    expect(r.rounds.every((l) => l.clippedNodes === 0)).toBe(true);
    expect(r.federated.accuracy).toBeGreaterThan(0.95);
    expect(Math.abs(r.federated.accuracy - r.central!.accuracy)).toBeLessThanOrEqual(0.01);
  });

  it("optdigits, MLP, IID (1500-row subsample): within 1 point", async () => {
    const { train, test } = loadReferenceDataset("optdigits");
    const spec = parseModelSpec({
      inputDim: 64, classes: 10, loss: "categorical-crossentropy", architecture: { kind: "mlp", hidden: [{ units: 16, activation: "relu" }] },
      optimizer: { kind: "adam", learningRate: 0.02 }, epochs: 1, batchSize: 64, seed: 1, strategy: { kind: "fedavg" }, clipNorm: 10,
    });
    const r = await simulateFederated({ spec, train: every(train, 1500), test, rounds: 10, standardize: true, trackTest: false });
    report("optdigits MLP iid", r);
    expect(r.federated.accuracy).toBeGreaterThan(0.9);
    expect(Math.abs(r.federated.accuracy - r.central!.accuracy)).toBeLessThanOrEqual(0.01);
  });

  it("optdigits, MLP, non-IID by class (1500-row subsample), FedSGD + FedAdam: within 1 point", async () => {
    const { train, test } = loadReferenceDataset("optdigits");
    const spec = parseModelSpec({
      inputDim: 64, classes: 10, loss: "categorical-crossentropy", architecture: { kind: "mlp", hidden: [{ units: 16, activation: "relu" }] },
      optimizer: { kind: "sgd", learningRate: 0.5 }, epochs: 1, batchSize: 1024, seed: 1, strategy: { kind: "fedadam", eta: 0.1 }, clipNorm: 10,
    });
    const r = await simulateFederated({ spec, train: every(train, 1500), test, rounds: 40, split: "by-class", standardize: true, trackTest: false });
    report("optdigits MLP by-class FedSGD+FedAdam", r);
    expect(r.federated.accuracy).toBeGreaterThan(0.9);
    expect(Math.abs(r.federated.accuracy - r.central!.accuracy)).toBeLessThanOrEqual(0.01);
  });

  it("adult, logistic regression with one-hot (4000-row subsample): within 1 point", async () => {
    const { train, test } = loadReferenceDataset("adult");
    const spec = parseModelSpec({
      inputDim: 105, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" },
      optimizer: { kind: "adam", learningRate: 0.05 }, epochs: 1, batchSize: 64, seed: 1, strategy: { kind: "fedavg" }, clipNorm: 10,
    });
    const r = await simulateFederated({ spec, train: every(train, 4000), test: every(test, 4000), rounds: 5, standardize: true, numericFeatures: 6, trackTest: false });
    report("adult LR one-hot", r);
    expect(r.standardization!.std.slice(6).every((s) => s === 1)).toBe(true);
    expect(r.federated.accuracy).toBeGreaterThan(0.83);
    expect(Math.abs(r.federated.accuracy - r.central!.accuracy)).toBeLessThanOrEqual(0.01);
  });

  it("wdbc with FedAdam, FedYogi and FedProx converges; a target stops early", async () => {
    const { train, test } = loadReferenceDataset("wdbc");
    const strategies = [
      { kind: "fedadam", eta: 0.05 },
      { kind: "fedyogi", eta: 0.05 },
      { kind: "fedprox", mu: 0.1 },
    ] as const;
    for (const strategy of strategies) {
      const spec = parseModelSpec({
        inputDim: 30, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" },
        optimizer: { kind: "sgd", learningRate: 0.1 }, epochs: 1, batchSize: 16, seed: 2, strategy, clipNorm: 10,
      });
      const r = await simulateFederated({ spec, train, test, rounds: 15, standardize: true, central: false,
        stopping: StoppingRule.parse({ maxRounds: 15, target: { metric: "loss", value: 0.12 } }) });
      console.log(`[learning] wdbc ${strategy.kind}: ${(100 * r.federated.accuracy).toFixed(2)}% after ${r.rounds.length} rounds (${r.stoppedBy})`);
      expect(r.federated.accuracy).toBeGreaterThan(0.93);
      expect(r.rounds[r.rounds.length - 1]!.loss).toBeLessThan(r.rounds[0]!.loss);
    }
  });

  it("wdbc: a node sending an oversized update is named and excluded; training still converges", async () => {
    const { train, test } = loadReferenceDataset("wdbc");
    const spec = parseModelSpec({
      inputDim: 30, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" },
      optimizer: { kind: "adam", learningRate: 0.05 }, epochs: 2, batchSize: 16, seed: 1, strategy: { kind: "fedavg" }, clipNorm: 1,
    });
    const r = await simulateFederated({ spec, train, test, rounds: 8, standardize: true, central: false, misbehave: { node: 3, scale: -40 } });
    expect(r.rounds.every((l) => l.excluded.length === 1 && l.excluded[0] === 3)).toBe(true);
    expect(r.federated.accuracy).toBeGreaterThan(0.95);
    // Without validation (plaintext floats) the same node poisons the model.
    const poisoned = await simulateFederated({ spec, train, test, rounds: 8, standardize: true, central: false, fixedPoint: false, misbehave: { node: 3, scale: -40 } });
    expect(poisoned.rounds.every((l) => l.excluded.length === 0)).toBe(true);
    console.log(`[learning] wdbc with a cheating node: validated ${(100 * r.federated.accuracy).toFixed(2)}%, unvalidated ${(100 * poisoned.federated.accuracy).toFixed(2)}%`);
    expect(poisoned.federated.accuracy).toBeLessThan(r.federated.accuracy - 0.1);
  });
});
