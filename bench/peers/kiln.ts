/**
 * kiln through its public API (src/index.ts): W2, W2b and W3 with compile(); W1 and W4, which
 * are single ops, as IR graphs compiled with compileGraph.
 */
import {
  batchNorm, compile, compileGraph, differentiate, dropout, fn, gelu, GraphBuilder, layerNorm, linear, relu, seq, sgd, softmaxCrossEntropy,
  type LayerNode, type Net,
} from "../../src/index.js";
import {
  BATCH, CHECK_STEPS, CLASSES, DROP, EPS, HIDDEN, INPUTS, LR, MOMENTUM, POOL, W3_CHECK_ROWS, W4_COLS, W4_ROWS, WEIGHT_DECAY,
  checkClose, checkLayerNorm, checkSgemm, checkTraining, type LayerNormData, type LayerNormResult, type Norm, type UserActivation, type Workload,
} from "../workloads.js";
import type { Case, Peer, Shared } from "./types.js";

/** The W2u activations, written as a user would (gelu is kiln's own fn of primitives). */
const ACTIVATIONS: Record<UserActivation, LayerNode> = {
  relu2: fn("relu2", (x) => x.maximum(0)),
  gelu,
  swish: fn("swish", (x) => x.mul(x.sigmoid())),
};

export function mlp(norm: Norm, activation?: UserActivation) {
  const n = norm === "layerNorm" ? layerNorm : batchNorm;
  const act = activation === undefined ? relu : ACTIVATIONS[activation];
  return seq(
    linear(INPUTS, HIDDEN), n(HIDDEN), act, dropout(DROP),
    linear(HIDDEN, HIDDEN), n(HIDDEN), act, dropout(DROP),
    linear(HIDDEN, CLASSES),
  );
}

function build(norm: Norm, shared: Shared, threads: number, activation?: UserActivation): Net {
  const net = compile(mlp(norm, activation) as LayerNode, {
    inputs: INPUTS, batch: BATCH, seed: 0, threads,
    loss: softmaxCrossEntropy(),
    optimizer: sgd({ lr: LR, momentum: MOMENTUM, weightDecay: WEIGHT_DECAY }),
  });
  for (const [name, value] of Object.entries(shared.params(norm))) {
    const target = net.params[name] ?? net.state[name];
    if (!(target instanceof Float32Array) || target.length !== value.length) throw new Error(`kiln has no parameter ${name} of ${value.length} values`);
    target.set(value);
  }
  return net;
}

/** kiln with `threads` threads: "kiln" uses both cores of the benchmark machine, "kiln-1t" one. */
export const kilnPeer = (threads: number): Peer => ({
  name: threads === 1 ? "kiln-1t" : "kiln",
  threads,
  supports: () => true,
  async prepare(w: Workload, shared: Shared): Promise<Case | null> {
    switch (w.group) {
      case "W1": {
        const n = w.n!;
        const { a, b } = shared.sgemm(n);
        const run = kilnSgemm(n, a, b, threads);
        if (!run) return null;
        return { run, check: checkSgemm(n, a, b, run()) };
      }
      case "W2": case "W2b": case "W2u": {
        const net = build(w.group === "W2b" ? "batchNorm" : "layerNorm", shared, threads, w.activation);
        const { xs, labels } = shared.train();
        const losses: number[] = [];
        for (let s = 0; s < CHECK_STEPS; s++) losses.push(net.trainStep(xs[0]!, labels[0]!));
        const check = checkTraining(losses);
        let i = 0;
        return { check, warmedUp: true, run: () => { const b = i++ % POOL; return net.trainStep(xs[b]!, labels[b]!); } };
      }
      case "W3": {
        const net = build("layerNorm", shared, threads);
        const x = shared.evalInput();
        const out = net.predict(x);
        const rel = checkClose("logits", out.subarray(0, W3_CHECK_ROWS * CLASSES), shared.referenceLogits(), 1e-4);
        return { check: `logits vs f64 forward: ${rel.toExponential(1)}`, run: () => net.predict(x) };
      }
      case "W4": {
        const d = shared.layerNorm();
        const run = kilnLayerNorm(d, threads);
        if (!run) return null;
        return { run, check: checkLayerNorm(run(), shared.layerNormReference()) };
      }
    }
  },
});

/**
 * kiln's W1: C = A·B as a one-node graph compiled with `compileGraph` — the WebAssembly SGEMM,
 * rows split across `threads`; inputs are written straight into the program's buffers.
 */
export function kilnSgemm(n: number, a: Float32Array, b: Float32Array, threads?: number): (() => Float32Array) | null {
  const g = new GraphBuilder();
  const A = g.input("a", "data", { shape: [n, n], dtype: "f32" }), B = g.input("b", "data", { shape: [n, n], dtype: "f32" });
  g.output("c", "logits", g.matmul(A, B));
  const p = compileGraph(g.build(), { threads });
  p.input("a").set(a);
  p.input("b").set(b);
  return () => { p.run(); return p.output("c") as Float32Array; };
}

/**
 * kiln's W4: layerNorm with affine, forward and backward (dx, dγ, dβ for the upstream dy), as a
 * graph differentiated by kiln and compiled with its fusions (one normalization kernel each way).
 */
export function kilnLayerNorm(d: LayerNormData, threads?: number): (() => LayerNormResult) | null {
  const g = new GraphBuilder();
  const x = g.input("x", "data", { shape: [W4_ROWS, W4_COLS], dtype: "f32" });
  const w = g.input("weight", "param", { shape: [W4_COLS], dtype: "f32" }), bias = g.input("bias", "param", { shape: [W4_COLS], dtype: "f32" });
  const dy = g.input("dy", "data", { shape: [W4_ROWS, W4_COLS], dtype: "f32" });
  const y = g.add(g.mul(g.normalize(x, 1, EPS), w), bias);
  g.output("y", "logits", y);
  g.output("loss", "loss", g.sum(g.mul(y, dy), [0, 1])); // ∂loss/∂y = dy
  // Only y and the gradients are wanted: the loss served to seed the backward pass with dy.
  const grads = new GraphBuilder(differentiate(g.build(), "loss", ["x", "weight", "bias"]));
  grads.filterOutputs((o) => o.name !== "loss");
  const p = compileGraph(grads.build(), { threads });
  p.input("x").set(d.x); p.input("weight").set(d.weight); p.input("bias").set(d.bias); p.input("dy").set(d.dy);
  return () => {
    p.run();
    return { y: p.output("y"), dx: p.output("x.grad"), dw: p.output("weight.grad"), db: p.output("bias.grad") };
  };
}
