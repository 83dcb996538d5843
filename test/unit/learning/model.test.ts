import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tf, createLocalModel, initialWeights, LocalModel, type Dataset } from "../../../client/learning/index.ts";
import { parseModelSpec, weightShapes, totalSize, l2Norm, type ModelSpecInput } from "../../../protocol/learning/index.ts";

const mlp: ModelSpecInput = {
  inputDim: 3, classes: 3, loss: "categorical-crossentropy",
  architecture: { kind: "mlp", hidden: [{ units: 4, activation: "square" }, { units: 4, activation: "poly2", poly: [0.1, 0.5, 0.2] }] },
  optimizer: { kind: "adam", learningRate: 0.05 }, epochs: 2, batchSize: 4, seed: 11, strategy: { kind: "fedavg" },
};

/** A small deterministic 3-class problem. */
function toyData(n: number, d = 3, classes = 3): Dataset {
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = (j === c ? 1 : 0) + 0.1 * Math.sin(i * 7 + j * 3);
  }
  return { x, y, n, d, classes, featureNames: [] };
}

describe("local model", () => {
  let m: LocalModel;
  beforeAll(async () => { m = await createLocalModel(parseModelSpec(mlp)); });
  afterAll(() => m.dispose());

  it("has the spec's weight shapes", () => {
    expect(m.model.getWeights().map((w) => w.shape)).toEqual(weightShapes(m.spec));
    expect(m.size).toBe(totalSize(weightShapes(m.spec)));
  });

  it("initialises deterministically from the seed", async () => {
    const a = await initialWeights(parseModelSpec(mlp));
    const b = await initialWeights(parseModelSpec(mlp));
    const c = await initialWeights(parseModelSpec({ ...mlp, seed: 12 }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).toEqual(m.getWeights());
    // biases start at zero
    expect(Array.from(a.subarray(12, 16))).toEqual([0, 0, 0, 0]);
  });

  it("trains reproducibly and returns Δ = w_local − w_global", () => {
    const g = m.getWeights();
    const data = toyData(24);
    const u1 = m.trainLocal(g, data, { round: 1, salt: 0 });
    const w1 = m.getWeights();
    const u2 = m.trainLocal(g, data, { round: 1, salt: 0 });
    expect(u2.delta).toEqual(u1.delta);
    expect(u1.samples).toBe(24);
    for (let i = 0; i < g.length; i++) expect(w1[i]).toBeCloseTo(Math.fround(g[i]!) + u1.delta[i]!, 6);
    expect(l2Norm(u1.delta)).toBeGreaterThan(0);
    const other = new LocalModel(parseModelSpec(mlp)); // a separate instance (another process would do the same)
    try { expect(other.trainLocal(g, data, { round: 1, salt: 0 }).delta).toEqual(u1.delta); } finally { other.dispose(); }
    const u3 = m.trainLocal(g, data, { round: 2, salt: 0 });
    expect(u3.delta).not.toEqual(u1.delta); // a different round shuffles differently
  });

  it("learns the toy problem", () => {
    const data = toyData(60);
    let w = m.getWeights();
    const before = m.evaluate(data, w);
    for (let r = 0; r < 5; r++) {
      const u = m.trainLocal(w, data, { round: r });
      w = w.map((x, i) => x + u.delta[i]!);
    }
    const after = m.evaluate(data, w);
    expect(after.count).toBe(60);
    expect(after.lossSum).toBeLessThan(before.lossSum);
    expect(after.correct / after.count).toBeGreaterThan(0.9);
  });

  it("clips the update to clipNorm", async () => {
    const small = await createLocalModel(parseModelSpec({ ...mlp, clipNorm: 0.01 }));
    try {
      const u = small.trainLocal(small.getWeights(), toyData(24));
      expect(u.clipped).toBe(true);
      expect(u.norm).toBeGreaterThan(0.01);
      expect(l2Norm(u.delta)).toBeCloseTo(0.01, 9);
    } finally { small.dispose(); }
  });

  it("does not leak tensors across rounds", () => {
    const data = toyData(24);
    let w = m.getWeights();
    m.trainLocal(w, data, { round: 0 });
    m.evaluate(data, w);
    const before = tf.memory().numTensors;
    for (let r = 1; r <= 3; r++) {
      const u = m.trainLocal(w, data, { round: r });
      w = w.map((x, i) => x + u.delta[i]!);
      m.evaluate(data, w);
      m.predict(data.x, data.n);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("rejects data of the wrong width and use after dispose", async () => {
    expect(() => m.trainLocal(m.getWeights(), toyData(4, 5))).toThrow(RangeError);
    const withNaN = toyData(4); withNaN.x[5] = NaN;
    expect(() => m.trainLocal(m.getWeights(), withNaN)).toThrow(/non-finite feature at row 1/);
    expect(() => m.setWeights(new Float64Array(3))).toThrow(RangeError);
    const tmp = await createLocalModel(parseModelSpec(mlp));
    tmp.dispose();
    expect(() => tmp.getWeights()).toThrow(/dispose/);
  });
});

describe("FedProx local objective", () => {
  // 1-D logistic regression on one row x = 0, y = 1: only the bias b moves, grad_b = σ(b) − 1.
  // Two plain SGD steps (lr η, batch 1, 2 epochs), with the proximal term μ/2·(b − b_g)²:
  //   b1 = b0 − η(σ(b0) − 1)                      (the prox gradient vanishes at b = b_g)
  //   b2 = b1 − η(σ(b1) − 1 + μ(b1 − b0))
  const sig = (z: number) => 1 / (1 + Math.exp(-z));
  const spec = (strategy: ModelSpecInput["strategy"]): ModelSpecInput => ({
    inputDim: 1, classes: 2, loss: "binary-crossentropy", architecture: { kind: "logistic" },
    optimizer: { kind: "sgd", learningRate: 0.5 }, epochs: 2, batchSize: 1, seed: 1, strategy,
  });
  const row: Dataset = { x: Float32Array.of(0), y: Int32Array.of(1), n: 1, d: 1, classes: 2, featureNames: ["x"] };

  it("matches the update equations for μ = 0 (FedAvg) and μ = 2", async () => {
    for (const mu of [0, 2]) {
      const m = await createLocalModel(parseModelSpec(spec(mu === 0 ? { kind: "fedavg" } : { kind: "fedprox", mu })));
      try {
        const b0 = 0.3;
        const g = Float64Array.of(0.7, b0);
        const u = m.trainLocal(g, row);
        const eta = 0.5;
        const b1 = b0 - eta * (sig(b0) - 1);
        const b2 = b1 - eta * (sig(b1) - 1 + mu * (b1 - b0));
        expect(u.delta[0]).toBeCloseTo(0, 7); // kernel: zero data gradient, zero prox gradient
        expect(u.delta[1]).toBeCloseTo(b2 - b0, 5);
      } finally { m.dispose(); }
    }
  });

  it("a large μ keeps the local model close to the global one", async () => {
    const data = toyData(30, 3, 2);
    const norms: number[] = [];
    for (const strategy of [{ kind: "fedavg" }, { kind: "fedprox", mu: 1 }, { kind: "fedprox", mu: 50 }] as const) {
      const m = await createLocalModel(parseModelSpec({ ...spec(strategy), inputDim: 3, optimizer: { kind: "sgd", learningRate: 0.01 }, batchSize: 5, epochs: 5 }));
      try {
        const g = m.getWeights().map((x) => x + 0.5);
        norms.push(m.trainLocal(g, data).norm);
      } finally { m.dispose(); }
    }
    expect(norms[1]).toBeLessThan(norms[0]!);
    expect(norms[2]).toBeLessThan(norms[1]!);
  });
});
