/**
 * The W2/W2b model and train step on TensorFlow.js, platform-neutral (no Node import): the Node
 * peer (tfjs.ts) and the page that runs W2 in headless Chromium (bench/browser/tfjs.ts) share it.
 *
 * Same math as kiln: linear weights held as [in, out] (transposed once at load), layerNorm and
 * batchNorm spelled with tf.moments, inverted dropout, mean softmax cross-entropy, and SGD with
 * coupled weight decay d = g + λw followed by tf.train.momentum (v = μv + d; w −= lr·v, PyTorch's
 * update for a constant lr).
 */
import {
  BATCH, BN_MOMENTUM, CLASSES, DROP, EPS, LINEARS, LR, MOMENTUM, NORMS, WEIGHT_DECAY, transpose, type Norm, type TrainData,
} from "../workloads.js";

type TF = typeof import("@tensorflow/tfjs-core");
type Tensor = import("@tensorflow/tfjs-core").Tensor;
type Variable = import("@tensorflow/tfjs-core").Variable;
type Scalar = import("@tensorflow/tfjs-core").Scalar;

let unique = 0;

/** The W2/W2b model on tf variables. */
export function model(tf: TF, norm: Norm, init: Record<string, Float32Array>) {
  const id = `b${unique++}`;
  const vars: Record<string, Variable> = {};
  const trainable: Variable[] = [];
  const v = (name: string, t: Tensor, train: boolean) => {
    const x = tf.variable(t, train, `${id}/${name}`);
    t.dispose();
    vars[name] = x;
    if (train) trainable.push(x);
    return x;
  };
  for (const l of LINEARS) {
    v(`${l.index}.weight`, tf.tensor2d(transpose(init[`${l.index}.weight`]!, l.out, l.in), [l.in, l.out]), true);
    v(`${l.index}.bias`, tf.tensor1d(init[`${l.index}.bias`]!), true);
  }
  for (const n of NORMS) {
    v(`${n}.weight`, tf.tensor1d(init[`${n}.weight`]!), true);
    v(`${n}.bias`, tf.tensor1d(init[`${n}.bias`]!), true);
    if (norm === "batchNorm") {
      v(`${n}.running_mean`, tf.tensor1d(init[`${n}.running_mean`]!), false);
      v(`${n}.running_var`, tf.tensor1d(init[`${n}.running_var`]!), false);
    }
  }
  const affine = (xhat: Tensor, w: Tensor, b: Tensor): Tensor => tf.add(tf.mul(xhat, w), b);
  const normalize = (h: Tensor, n: number, train: boolean): Tensor => {
    const w = vars[`${n}.weight`]!, b = vars[`${n}.bias`]!;
    if (norm === "layerNorm") {
      const { mean, variance } = tf.moments(h, 1, true);
      return affine(tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, EPS))), w, b);
    }
    const rm = vars[`${n}.running_mean`]!, rv = vars[`${n}.running_var`]!;
    if (!train) return affine(tf.mul(tf.sub(h, rm), tf.rsqrt(tf.add(rv, EPS))), w, b);
    const { mean, variance } = tf.moments(h, 0);
    rm.assign(tf.tidy(() => tf.add(tf.mul(rm, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM))));
    rv.assign(tf.tidy(() => tf.add(tf.mul(rv, 1 - BN_MOMENTUM), tf.mul(variance, (BN_MOMENTUM * BATCH) / (BATCH - 1)))));
    return affine(tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, EPS))), w, b);
  };
  const forward = (x: Tensor, train: boolean): Tensor => {
    let h = x;
    for (const l of LINEARS) {
      h = tf.add(tf.matMul(h, vars[`${l.index}.weight`]!), vars[`${l.index}.bias`]!);
      if (l.index === 8) break;
      h = tf.relu(normalize(h, l.index + 1, train));
      if (train) h = tf.dropout(h, DROP);
    }
    return h;
  };
  return { vars, trainable, forward };
}

/** W2's (W2b's) train step on the shared batches: `step(b)` trains on batch b and returns the loss. */
export function w2Trainer(tf: TF, norm: Norm, init: Record<string, Float32Array>, data: TrainData): { step: (b: number) => number; dispose: () => void } {
  const m = model(tf, norm, init);
  const xs = data.xs.map((x) => tf.tensor2d(x, [BATCH, x.length / BATCH]));
  const oh = data.labels.map((l) => tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(l, "int32"), CLASSES), "float32")));
  const opt = tf.train.momentum(LR, MOMENTUM);
  const step = (b: number): number => {
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
      const logits = m.forward(xs[b]!, true);
      return tf.mul(tf.sum(tf.mul(tf.logSoftmax(logits), oh[b]!)), -1 / BATCH) as Scalar;
    }), m.trainable);
    tf.tidy(() => {
      opt.applyGradients(m.trainable.map((v) => ({ name: v.name, tensor: tf.add(grads[v.name]!, tf.mul(v, WEIGHT_DECAY)) })));
    });
    tf.dispose(grads);
    const loss = value.dataSync()[0]!;
    value.dispose();
    return loss;
  };
  return { step, dispose: () => { opt.dispose(); tf.dispose([...xs, ...oh, ...Object.values(m.vars)]); } };
}
