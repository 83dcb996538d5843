/**
 * tfjs model built from a {@link ModelSpec}, with local training from given global weights
 * (FedAvg / FedProx), federated-evaluation sums, and weight get/set as flat Float64Arrays.
 * Every tensor is created inside `tf.tidy` or disposed explicitly: a model's tensor count
 * does not grow across rounds (tested).
 */
import { tf, initializeTf, PolyActivation } from "./tf.ts";
import type { Dataset } from "./datasets.ts";
import { outputLayer, weightShapes, type ModelSpec, type HiddenLayer } from "../../protocol/learning/spec.ts";
import { clipToNorm, l2Norm, flatten, totalSize, unflatten } from "../../protocol/learning/flatten.ts";
import type { EvalSums } from "../../protocol/learning/aggregate.ts";

/** Probability clipping for the cross-entropy (as Keras' epsilon); protocol/learning MAX_ROW_LOSS = −ln(EPS) depends on it. */
const EPS = 1e-7;

/** A node's training result for one round. */
export interface LocalUpdate {
  /** Δ = w_local − w_global (after clipping to spec.clipNorm, if set), in `weightShapes(spec)` order. */
  delta: Float64Array;
  /** Number of training rows used (the aggregation weight n_k). */
  samples: number;
  /** ‖Δ‖₂ before clipping. */
  norm: number;
  /** Whether Δ was scaled down to clipNorm. */
  clipped: boolean;
  /** Mean training loss (without the proximal term) over the last local epoch. */
  trainLoss: number;
  /** Wall time of local training, ms. */
  millis: number;
}

export interface TrainOptions {
  /** Round number; mixed into the shuffling seed so each round and node shuffles differently but reproducibly. */
  round?: number;
  /** Node-specific salt for shuffling (e.g. the committee index). */
  salt?: number;
  /** Overrides spec.epochs (e.g. central training for R·E epochs). */
  epochs?: number;
}

/** 32-bit mix of integers (splitmix-style); not cryptographic, only for reproducible shuffling. */
function mixSeed(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** mulberry32: a tiny deterministic PRNG for data shuffling only (never for secrets). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(n: number, rand: () => number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!; p[i] = p[j]!; p[j] = t;
  }
  return p;
}

function hiddenLayers(spec: ModelSpec): HiddenLayer[] {
  return spec.architecture.kind === "mlp" ? spec.architecture.hidden : [];
}

/**
 * Builds the tfjs Sequential model: per hidden layer a Dense (its activation if tfjs has it,
 * else linear followed by a {@link PolyActivation} for square/poly2), then the output Dense
 * (sigmoid or softmax). Kernels use Glorot-uniform seeded from spec.seed and the layer index;
 * biases start at zero; layer names are fixed, so identical specs give identical models.
 */
export function buildTfModel(spec: ModelSpec): tf.Sequential {
  const model = tf.sequential({ name: "model" });
  let fanIn = spec.inputDim;
  hiddenLayers(spec).forEach((l, i) => {
    const native = l.activation === "square" || l.activation === "poly2" ? "linear" : l.activation;
    model.add(tf.layers.dense({
      name: `dense_${i}`,
      inputShape: i === 0 ? [fanIn] : undefined,
      units: l.units,
      activation: native,
      kernelInitializer: tf.initializers.glorotUniform({ seed: mixSeed(spec.seed, i) }),
      biasInitializer: "zeros",
    }));
    if (l.activation === "square") model.add(new PolyActivation({ name: `poly_${i}`, coeffs: [0, 0, 1] }));
    if (l.activation === "poly2") model.add(new PolyActivation({ name: `poly_${i}`, coeffs: l.poly! as [number, number, number] }));
    fanIn = l.units;
  });
  const out = outputLayer(spec);
  const k = hiddenLayers(spec).length;
  model.add(tf.layers.dense({
    name: "output",
    inputShape: k === 0 ? [fanIn] : undefined,
    units: out.units,
    activation: out.activation,
    kernelInitializer: tf.initializers.glorotUniform({ seed: mixSeed(spec.seed, k) }),
    biasInitializer: "zeros",
  }));
  return model;
}

/**
 * A spec's tfjs model plus the operations a node needs. Create with {@link createLocalModel};
 * call {@link LocalModel.dispose} when done.
 */
export class LocalModel {
  readonly spec: ModelSpec;
  readonly model: tf.Sequential;
  readonly shapes: number[][];
  readonly size: number;
  private disposed = false;

  /** Use {@link createLocalModel} (it initialises tfjs first). */
  constructor(spec: ModelSpec) {
    this.spec = spec;
    this.model = buildTfModel(spec);
    this.shapes = weightShapes(spec);
    this.size = totalSize(this.shapes);
    const actual = this.model.getWeights().map((w) => w.shape);
    if (JSON.stringify(actual) !== JSON.stringify(this.shapes)) throw new Error(`LocalModel: tfjs weight shapes ${JSON.stringify(actual)} ≠ spec ${JSON.stringify(this.shapes)}`);
  }

  private live(): void {
    if (this.disposed) throw new Error("LocalModel: used after dispose()");
  }

  /** Current weights, flat, in `weightShapes(spec)` order. */
  getWeights(): Float64Array {
    this.live();
    return flatten(this.model.getWeights().map((w) => w.dataSync()), this.shapes);
  }

  /** Loads flat weights (rounded to float32). Throws RangeError on a length mismatch. */
  setWeights(flat: ArrayLike<number>): void {
    this.live();
    const parts = unflatten(flat, this.shapes);
    const ts = parts.map((p, i) => tf.tensor(Float32Array.from(p), this.shapes[i]!, "float32"));
    try {
      this.model.setWeights(ts);
    } finally {
      tf.dispose(ts);
    }
  }

  private labels(y: Int32Array): tf.Tensor2D {
    return tf.tidy(() => {
      if (this.spec.classes === 2) return tf.tensor2d(Float32Array.from(y), [y.length, 1]);
      return tf.oneHot(tf.tensor1d(y, "int32"), this.spec.classes).toFloat() as tf.Tensor2D;
    });
  }

  /** Mean cross-entropy of probabilities p against targets t (one-hot or 0/1). */
  private meanLoss(p: tf.Tensor, t: tf.Tensor): tf.Scalar {
    const pc = tf.clipByValue(p, EPS, 1 - EPS);
    if (this.spec.classes === 2) {
      const ll = tf.add(tf.mul(t, tf.log(pc)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, pc))));
      return tf.neg(tf.mean(ll)) as tf.Scalar;
    }
    return tf.neg(tf.mean(tf.sum(tf.mul(t, tf.log(pc)), -1))) as tf.Scalar;
  }

  /**
   * Local training (one round on one node): loads `globalWeights`, runs `epochs` epochs of
   * mini-batch `optimizer` steps over `data` in a seeded shuffled order, with the FedProx
   * term μ/2·‖w − w_global‖² added to the loss when spec.strategy is fedprox, and returns
   * Δ = w_local − w_global clipped to spec.clipNorm. The model keeps the local weights.
   * Throws RangeError if the data does not fit the spec, is empty or has a non-finite
   * feature; Error if training diverges.
   */
  trainLocal(globalWeights: ArrayLike<number>, data: Dataset, opts: TrainOptions = {}): LocalUpdate {
    this.live();
    const t0 = performance.now();
    const { spec } = this;
    if (data.d !== spec.inputDim) throw new RangeError(`trainLocal: data has ${data.d} features, spec ${spec.inputDim}`);
    if (data.n === 0) throw new RangeError("trainLocal: no rows");
    for (let i = 0; i < data.n * data.d; i++) {
      if (!Number.isFinite(data.x[i]!)) throw new RangeError(`trainLocal: non-finite feature at row ${Math.floor(i / data.d)} (impute missing values, e.g. with standardizeInPlace)`);
    }
    this.setWeights(globalWeights);
    const w0 = Float64Array.from(globalWeights as ArrayLike<number>, Math.fround);
    const epochs = opts.epochs ?? spec.epochs;
    const mu = spec.strategy.kind === "fedprox" ? spec.strategy.mu : 0;
    const rand = mulberry32(mixSeed(spec.seed, opts.round ?? 0, opts.salt ?? 0, 0x7e57));
    const vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const optimizer: tf.Optimizer = spec.optimizer.kind === "adam" ? tf.train.adam(spec.optimizer.learningRate) : tf.train.sgd(spec.optimizer.learningRate);
    const X = tf.tensor2d(data.x, [data.n, data.d]);
    const Y = this.labels(data.y);
    const anchors = mu > 0 ? vars.map((v) => tf.keep(tf.clone(v))) : [];
    let lastLoss = NaN;
    try {
      for (let e = 0; e < epochs; e++) {
        const perm = shuffled(data.n, rand);
        let lossSum = 0;
        for (let s = 0; s < data.n; s += spec.batchSize) {
          const idx = perm.subarray(s, Math.min(data.n, s + spec.batchSize));
          const rows = idx.length;
          const lossVal = tf.tidy(() => {
            const it = tf.tensor1d(idx, "int32");
            const xb = tf.gather(X, it);
            const yb = tf.gather(Y, it);
            const { value, grads } = tf.variableGrads(() => {
              const p = this.model.apply(xb, { training: true }) as tf.Tensor;
              let loss = this.meanLoss(p, yb);
              if (mu > 0) {
                const prox = tf.addN(vars.map((v, i) => tf.sum(tf.square(tf.sub(v, anchors[i]!)))));
                loss = tf.add(loss, tf.mul(prox, mu / 2));
              }
              return loss as tf.Scalar;
            }, vars);
            optimizer.applyGradients(grads);
            return value;
          });
          lossSum += lossVal.dataSync()[0]! * rows;
          lossVal.dispose();
        }
        lastLoss = lossSum / data.n;
      }
    } finally {
      optimizer.dispose();
      tf.dispose([X, Y, ...anchors]);
    }
    const w1 = this.getWeights();
    const raw = new Float64Array(this.size);
    for (let i = 0; i < raw.length; i++) raw[i] = w1[i]! - w0[i]!;
    let delta: Float64Array = raw;
    let norm = l2Norm(raw);
    if (!Number.isFinite(norm)) throw new Error("trainLocal: local training diverged (non-finite weights); lower the learning rate");
    let clipped = false;
    if (spec.clipNorm !== undefined) {
      const c = clipToNorm(raw, spec.clipNorm);
      delta = c.clipped; norm = c.norm; clipped = c.scaled;
    }
    return { delta, samples: data.n, norm, clipped, trainLoss: lastLoss, millis: performance.now() - t0 };
  }

  /**
   * Evaluation sums on held-out rows with the given weights (or the current ones):
   * Σ cross-entropy, #correct, #rows — as sums, so nodes' results can be securely added.
   */
  evaluate(data: Dataset, weights?: ArrayLike<number>, batchSize = 2048): EvalSums {
    this.live();
    if (data.d !== this.spec.inputDim) throw new RangeError(`evaluate: data has ${data.d} features, spec ${this.spec.inputDim}`);
    if (weights) this.setWeights(weights);
    let lossSum = 0;
    let correct = 0;
    for (let s = 0; s < data.n; s += batchSize) {
      const e = Math.min(data.n, s + batchSize);
      const [l, c] = tf.tidy(() => {
        const xb = tf.tensor2d(data.x.subarray(s * data.d, e * data.d), [e - s, data.d]);
        const yb = data.y.subarray(s, e);
        const p = this.model.predict(xb) as tf.Tensor2D;
        const pc = tf.clipByValue(p, EPS, 1 - EPS);
        let loss: tf.Tensor;
        let pred: tf.Tensor;
        if (this.spec.classes === 2) {
          const t = tf.tensor2d(Float32Array.from(yb), [e - s, 1]);
          loss = tf.neg(tf.sum(tf.add(tf.mul(t, tf.log(pc)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, pc))))));
          pred = tf.cast(tf.greater(tf.reshape(p, [-1]), 0.5), "int32");
        } else {
          const t = tf.oneHot(tf.tensor1d(yb, "int32"), this.spec.classes);
          loss = tf.neg(tf.sum(tf.mul(t, tf.log(pc))));
          pred = tf.argMax(p, -1);
        }
        const ok = tf.sum(tf.cast(tf.equal(pred, tf.tensor1d(yb, "int32")), "int32"));
        return [loss.dataSync()[0]!, ok.dataSync()[0]!];
      });
      lossSum += l;
      correct += c;
    }
    return { lossSum, correct, count: data.n };
  }

  /** Class probabilities for rows of x (n × d, row-major), as a flat Float32Array (n × outputs). */
  predict(x: Float32Array, n: number): Float32Array {
    this.live();
    return tf.tidy(() => (this.model.predict(tf.tensor2d(x, [n, this.spec.inputDim])) as tf.Tensor).dataSync() as Float32Array).slice();
  }

  /** Releases the model's tensors. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/** Initialises tfjs (cpu) and builds the spec's model. */
export async function createLocalModel(spec: ModelSpec): Promise<LocalModel> {
  await initializeTf();
  return new LocalModel(spec);
}

/**
 * The deterministic initial global weights of a spec (Glorot-uniform kernels seeded from
 * spec.seed, zero biases): what the job submitter publishes as round 0's model.
 */
export async function initialWeights(spec: ModelSpec): Promise<Float64Array> {
  const m = await createLocalModel(spec);
  try {
    return m.getWeights();
  } finally {
    m.dispose();
  }
}
