/**
 * TensorFlow.js 4.22 (WASM or CPU backend, one thread in Node) on the wider bench's workloads
 * (bench/wide.ts), written as its users would: tf variables, `tf.variableGrads` of the loss and
 * `tf.train.momentum` with the coupled weight decay added to the gradients (PyTorch's SGD);
 * predict is a `tf.tidy` forward. layerNorm and batchNorm are spelled with `tf.moments` (as in
 * bench/peers/tfjs.ts); batchNorm's running statistics are updated in training as PyTorch does.
 */
import type { Scalar, Tensor, Variable } from "@tensorflow/tfjs-core";
import { BN_MOMENTUM, EPS, LR, MOMENTUM, WEIGHT_DECAY, transpose } from "../workloads.js";
import { checkPeer, inOut, outputsOf, wideData, wideParams, type KilnResult, type WideCase, type WidePeer, type WideWorkload } from "../wide.js";
import { useBackend } from "./tfjs.js";

let unique = 0;

export function tfjsWide(backend: "cpu" | "wasm"): WidePeer {
  return {
    name: `tfjs-${backend}`,
    threads: 1,
    async prepare(w: WideWorkload, kiln: KilnResult | undefined): Promise<WideCase> {
      const tf = await useBackend(backend);
      const id = `wide${unique++}`;
      const vars: Record<string, Variable> = {};
      for (const [k, v] of Object.entries(wideParams(w))) {
        const l = w.layers[Number(k.split(".")[0])]!;
        const t = l.kind === "linear" && k.endsWith(".weight") ? tf.tensor2d(inOut(w, k, v), [l.in, l.out]) : tf.tensor1d(v);
        vars[k] = tf.variable(t, !k.includes("running_"), `${id}/${k}`);
        t.dispose();
      }
      const trainable = Object.entries(vars).filter(([k]) => !k.includes("running_")).map(([, v]) => v);
      const nameOf = new Map(Object.entries(vars).map(([k, v]) => [v.name, k]));
      const { xs, ys } = wideData(w);
      const bx = xs.map((x) => tf.tensor2d(x, [x.length / w.inputs, w.inputs]));
      const by = ys.map((y) => (y instanceof Int32Array ? tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(y, "int32"), outputsOf(w)), "float32")) : tf.tensor2d(y, [w.batch, outputsOf(w)])));
      const free = () => tf.dispose([...bx, ...by, ...Object.values(vars)]);

      const forward = (x: Tensor, train: boolean): Tensor => {
        let h = x;
        w.layers.forEach((l, i) => {
          if (l.kind === "relu") { h = tf.relu(h); return; }
          const weight = vars[`${i}.weight`]!, bias = vars[`${i}.bias`]!;
          if (l.kind === "linear") { h = tf.add(tf.matMul(h, weight), bias); return; }
          let mean: Tensor, variance: Tensor;
          if (l.kind === "layerNorm") ({ mean, variance } = tf.moments(h, 1, true));
          else if (train) {
            ({ mean, variance } = tf.moments(h, 0));
            const rm = vars[`${i}.running_mean`]!, rv = vars[`${i}.running_var`]!, m = mean, v = variance;
            rm.assign(tf.tidy(() => tf.add(tf.mul(rm, 1 - BN_MOMENTUM), tf.mul(m, BN_MOMENTUM))));
            rv.assign(tf.tidy(() => tf.add(tf.mul(rv, 1 - BN_MOMENTUM), tf.mul(v, (BN_MOMENTUM * w.batch) / (w.batch - 1)))));
          } else [mean, variance] = [vars[`${i}.running_mean`]!, vars[`${i}.running_var`]!];
          h = tf.add(tf.mul(tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, EPS))), weight), bias);
        });
        return h;
      };
      const lossOf = (b: number) => (): Scalar => tf.tidy(() => {
        const out = forward(bx[b]!, true);
        return (w.loss === "ce" ? tf.mul(tf.sum(tf.mul(tf.logSoftmax(out), by[b]!)), -1 / w.batch) : tf.mean(tf.squaredDifference(out, by[b]!))) as Scalar;
      });

      if (w.mode === "predict") {
        const run = () => { const y = tf.tidy(() => forward(bx[0]!, false)); const d = y.dataSync(); y.dispose(); return d; };
        return { run, check: checkPeer({ mode: "predict", output: run() }, kiln), dispose: free };
      }
      if (w.mode === "gradients") {
        const once = () => tf.variableGrads(lossOf(0), trainable);
        const { value, grads } = once();
        const got = Object.fromEntries(Object.entries(grads).map(([name, g]) => {
          const k = nameOf.get(name)!, l = w.layers[Number(k.split(".")[0])]!, d = g.dataSync() as Float32Array;
          return [k, l.kind === "linear" && k.endsWith(".weight") ? transpose(d, l.in, l.out) : d];
        }));
        const check = checkPeer({ mode: "gradients", loss: value.dataSync()[0]!, grads: got }, kiln);
        tf.dispose([value, ...Object.values(grads)]);
        const run = () => { const r = once(); const all = [r.value, ...Object.values(r.grads)]; for (const t of all) t.dataSync(); tf.dispose(all); };
        return { run, check, dispose: free };
      }
      const opt = tf.train.momentum(LR, MOMENTUM);
      const step = (b: number): number => {
        const { value, grads } = tf.variableGrads(lossOf(b), trainable);
        tf.tidy(() => opt.applyGradients(trainable.map((v) => ({ name: v.name, tensor: tf.add(grads[v.name]!, tf.mul(v, WEIGHT_DECAY)) }))));
        tf.dispose(grads);
        const loss = value.dataSync()[0]!;
        value.dispose();
        return loss;
      };
      const check = checkPeer({ mode: "train", losses: Array.from({ length: 10 }, () => step(0)) }, kiln);
      let i = 0;
      return { run: () => step(i++ % bx.length), check, dispose: () => { opt.dispose(); free(); } };
    },
  };
}
