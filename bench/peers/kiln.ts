/**
 * kiln through its public API (src/index.ts); W1 and W4 through the hooks in ../workloads.ts.
 */
import { batchNorm, compile, dropout, layerNorm, linear, relu, seq, sgd, softmaxCrossEntropy, type Net } from "../../src/index.js";
import {
  BATCH, CHECK_STEPS, CLASSES, DROP, HIDDEN, INPUTS, LR, MOMENTUM, POOL, W3_CHECK_ROWS, WEIGHT_DECAY,
  checkClose, checkLayerNorm, checkSgemm, checkTraining, kilnLayerNorm, kilnSgemm, type Norm, type Workload,
} from "../workloads.js";
import type { Case, Peer, Shared } from "./types.js";

export function mlp(norm: Norm) {
  const n = norm === "layerNorm" ? layerNorm : batchNorm;
  return seq(
    linear(INPUTS, HIDDEN), n(HIDDEN), relu, dropout(DROP),
    linear(HIDDEN, HIDDEN), n(HIDDEN), relu, dropout(DROP),
    linear(HIDDEN, CLASSES),
  );
}

function build(norm: Norm, shared: Shared, threads: number): Net {
  const net = compile(mlp(norm), {
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
      case "W2": case "W2b": {
        const net = build(w.group === "W2" ? "layerNorm" : "batchNorm", shared, threads);
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
