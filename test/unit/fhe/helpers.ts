/**
 * Test/bench helpers for the FHE module: tiny parsers for the shared wdbc and optdigits files
 * and small centrally-trained models (tfjs, cpu backend, deterministic initialisation)
 * converted to DenseModel. Training is full-batch Adam, no shuffling, so runs repeat.
 */
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { seededRng } from "../../../protocol/rng.ts";
import type { DenseModel } from "../../../client/fhe/model.ts";

export const DATA_DIR = existsSync("/work/shared/data") ? "/work/shared/data" : path.resolve(import.meta.dirname, "../../../examples/data");

export interface Dataset {
  xTrain: number[][];
  yTrain: number[];
  xTest: number[][];
  yTest: number[];
}

/** wdbc: 30 features, label M=1/B=0; deterministic split: every 5th row is test. */
export function loadWdbc(): Dataset {
  const rows = readFileSync(path.join(DATA_DIR, "wdbc.data"), "utf8").trim().split("\n").map((l) => l.split(","));
  const d: Dataset = { xTrain: [], yTrain: [], xTest: [], yTest: [] };
  rows.forEach((r, i) => {
    const x = r.slice(2).map(Number);
    const y = r[1] === "M" ? 1 : 0;
    if (i % 5 === 4) { d.xTest.push(x); d.yTest.push(y); } else { d.xTrain.push(x); d.yTrain.push(y); }
  });
  return d;
}

/** optdigits: 64 features in 0..16, 10 classes; the official .tra/.tes split. */
export function loadOptdigits(): Dataset {
  const parse = (f: string) => readFileSync(path.join(DATA_DIR, f), "utf8").trim().split("\n").map((l) => l.split(",").map(Number));
  const tra = parse("optdigits.tra");
  const tes = parse("optdigits.tes");
  return { xTrain: tra.map((r) => r.slice(0, 64)), yTrain: tra.map((r) => r[64]!), xTest: tes.map((r) => r.slice(0, 64)), yTest: tes.map((r) => r[64]!) };
}

function standardization(x: number[][]): { mean: number[]; std: number[] } {
  const d = x[0]!.length;
  const mean = Array.from({ length: d }, (_, j) => x.reduce((s, r) => s + r[j]!, 0) / x.length);
  const std = Array.from({ length: d }, (_, j) => {
    const v = x.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0) / x.length;
    return v > 1e-12 ? Math.sqrt(v) : 1;
  });
  return { mean, std };
}

function seededNormal(seed: string, n: number, scale: number): Float32Array {
  const b = seededRng(seed).bytes(8 * n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = (b[8 * i]! + 256 * b[8 * i + 1]! + 65536 * b[8 * i + 2]! + 1) / 16777217;
    const u2 = (b[8 * i + 4]! + 256 * b[8 * i + 5]! + 65536 * b[8 * i + 6]!) / 16777216;
    out[i] = scale * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

function toRows(t: tf.Tensor2D): number[][] {
  return t.arraySync();
}

/** Logistic regression (sigmoid output) on wdbc, L2-regularised, full-batch Adam. */
export async function trainLogReg(d: Dataset, epochs = 300): Promise<DenseModel> {
  await tf.setBackend("cpu");
  const pre = standardization(d.xTrain);
  const dim = pre.mean.length;
  const res = tf.tidy(() => {
    const x = tf.tensor2d(d.xTrain).sub(tf.tensor1d(pre.mean)).div(tf.tensor1d(pre.std)) as tf.Tensor2D;
    const y = tf.tensor2d(d.yTrain, [d.yTrain.length, 1]);
    const w = tf.variable(tf.tensor2d(seededNormal("lr-w", dim, 0.01), [dim, 1]));
    const b = tf.variable(tf.zeros([1]));
    const opt = tf.train.adam(0.05);
    for (let e = 0; e < epochs; e++) {
      opt.minimize(() => tf.losses.sigmoidCrossEntropy(y, x.matMul(w).add(b)).add(w.square().sum().mul(1e-3)) as tf.Scalar);
    }
    return { w: toRows(w as unknown as tf.Tensor2D), b: Array.from(b.dataSync()) };
  });
  return { format: "2pm-dense/v1", inputDim: dim, preprocessing: pre, layers: [{ weights: res.w, bias: res.b, activation: "sigmoid" }] };
}

/** MLP inputDim → hidden (square) → classes (softmax) on optdigits, full-batch Adam. */
export async function trainSquareMlp(d: Dataset, hidden = 16, epochs = 150, classes = 10): Promise<DenseModel> {
  await tf.setBackend("cpu");
  const pre = standardization(d.xTrain);
  const dim = pre.mean.length;
  const res = tf.tidy(() => {
    const x = tf.tensor2d(d.xTrain).sub(tf.tensor1d(pre.mean)).div(tf.tensor1d(pre.std)) as tf.Tensor2D;
    const y = tf.oneHot(tf.tensor1d(d.yTrain, "int32"), classes);
    const w1 = tf.variable(tf.tensor2d(seededNormal("mlp-w1", dim * hidden, 1 / Math.sqrt(dim)), [dim, hidden]));
    const b1 = tf.variable(tf.zeros([hidden]));
    const w2 = tf.variable(tf.tensor2d(seededNormal("mlp-w2", hidden * classes, 0.3 / Math.sqrt(hidden)), [hidden, classes]));
    const b2 = tf.variable(tf.zeros([classes]));
    const opt = tf.train.adam(0.01);
    for (let e = 0; e < epochs; e++) {
      opt.minimize(() => {
        const h = x.matMul(w1).add(b1).square();
        const logits = h.matMul(w2).add(b2);
        return tf.losses.softmaxCrossEntropy(y, logits).add(w1.square().sum().add(w2.square().sum()).mul(1e-4)) as tf.Scalar;
      });
    }
    return { w1: toRows(w1 as unknown as tf.Tensor2D), b1: Array.from(b1.dataSync()), w2: toRows(w2 as unknown as tf.Tensor2D), b2: Array.from(b2.dataSync()) };
  });
  return {
    format: "2pm-dense/v1",
    inputDim: dim,
    preprocessing: pre,
    layers: [
      { weights: res.w1, bias: res.b1, activation: "square" },
      { weights: res.w2, bias: res.b2, activation: "softmax" },
    ],
  };
}
