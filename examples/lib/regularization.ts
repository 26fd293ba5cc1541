/**
 * The lecture's §3 on a small training set (2,000 samples, where an MLP overfits): dropout with
 * drop probability p and L2 weight decay λ (SGD's coupled decay: W := (1 − αλ)W − α∇ℓ), every
 * combination of p ∈ {0, 0.1, 0.3} and λ ∈ {0, 1e-4, 1e-3}; the train/test error gap of each.
 */
import type { Dataset } from "../../src/data/dataset.js";
import { compile, cosine, dropout, init, linear, relu, seq, sgd, type LayerNode } from "../../src/index.js";
import { PALETTE, type LineChartSpec, type Series } from "../../src/plot/index.js";
import { evaluate } from "../../src/metrics.js";
import { trainLoop } from "./train.js";

export interface RegularizationOptions {
  /** The (small) training set. */
  readonly train: Dataset;
  readonly test: Dataset;
  /** Drop probabilities, default [0, 0.1, 0.3]. */
  readonly ps?: readonly number[];
  /** Weight decays, default [0, 1e-4, 1e-3]. */
  readonly lambdas?: readonly number[];
  /** Hidden units of the two hidden layers (default 512). */
  readonly hidden?: number;
  readonly epochs: number;
  readonly batch?: number;
  /** Peak learning rate of SGD momentum 0.9 with cosine decay (default 0.05). */
  readonly lr?: number;
  /** Checkpoint every this many epochs. */
  readonly every?: number;
  readonly seed?: number;
  readonly progress?: boolean;
}

export interface RegularizationRun {
  readonly p: number;
  readonly lambda: number;
  /** Per checkpoint: epoch, mean loss since the previous one, errors. */
  readonly curve: readonly { epoch: number; loss: number; trainError: number; testError: number }[];
  readonly trainError: number;
  readonly testError: number;
  /** testError − trainError. */
  readonly gap: number;
  /** Σ‖W_i‖² over the weight matrices after training: what weight decay shrinks. */
  readonly weightNorm2: number;
  readonly diverged: boolean;
  readonly seconds: number;
}

/**
 * 784 → h → h → 10 with ReLU, He init, and dropout(p) after each hidden ReLU (absent when p = 0).
 * @example regularizedMlp(784, 512, 0.1)
 */
export function regularizedMlp(inputs: number, hidden: number, p: number): LayerNode {
  const drop = p > 0 ? [dropout(p)] : [];
  return seq(
    linear(inputs, hidden, { init: init.he() }), relu, ...drop,
    linear(hidden, hidden, { init: init.he() }), relu, ...drop,
    linear(hidden, 10),
  );
}

/**
 * Train one net per (p, λ), same data order, same initialization, same schedule.
 * @example runRegularization({ train: subset(train, 2000, 0), test, epochs: 60 })
 */
export function runRegularization(o: RegularizationOptions): RegularizationRun[] {
  const { hidden = 512, batch = 50, lr = 0.05, seed = 0, epochs, every = 5 } = o;
  const inputs = o.train.features;
  const perEpoch = Math.floor(o.train.count / batch);
  const steps = epochs * perEpoch;
  const runs: RegularizationRun[] = [];
  for (const p of o.ps ?? [0, 0.1, 0.3]) {
    for (const lambda of o.lambdas ?? [0, 1e-4, 1e-3]) {
      const net = compile(regularizedMlp(inputs, hidden, p), {
        inputs, batch, seed,
        optimizer: sgd({ lr: cosine({ from: lr, to: 0, steps }), momentum: 0.9, weightDecay: lambda }),
      });
      const r = trainLoop({
        net, train: o.train, batch, steps, seed, every: every * perEpoch,
        label: o.progress ? `p = ${p}, λ = ${lambda}` : undefined,
        evaluate: (n) => ({ trainError: evaluate(n, o.train).error, testError: evaluate(n, o.test).error }),
      });
      // The last checkpoint measured the final network (trainLoop ends on one, even when it diverges).
      const { trainError, testError } = r.checkpoints.at(-1)!.metrics as { trainError: number; testError: number };
      let weightNorm2 = 0;
      for (const [name, w] of Object.entries(net.params)) if (name.endsWith(".weight")) for (const v of w) weightNorm2 += v * v;
      runs.push({
        p, lambda, trainError, testError, gap: testError - trainError, weightNorm2, diverged: r.diverged, seconds: r.seconds,
        curve: r.checkpoints.map((k) => ({ epoch: k.step / perEpoch, loss: k.loss, trainError: k.metrics.trainError!, testError: k.metrics.testError! })),
      });
    }
  }
  return runs;
}

/**
 * (a) train error, test error, their gap and Σ‖W‖² against p, one series per λ; (b) per p, train
 * (dashed) and test (solid) error against epochs, one colour per λ.
 * @example multiPanel(regularizationCharts(runs).summary, { columns: 3 })
 */
export function regularizationCharts(runs: readonly RegularizationRun[]): { summary: LineChartSpec[]; curves: LineChartSpec[] } {
  const lambdas = [...new Set(runs.map((r) => r.lambda))];
  const ps = [...new Set(runs.map((r) => r.p))];
  const pAxis = { label: "dropout p" };
  const byLambda = (key: "trainError" | "testError" | "gap"): Series[] => lambdas.map((l, i) => ({
    name: `λ = ${l}`,
    color: PALETTE[i % PALETTE.length],
    markers: true,
    points: runs.filter((r) => r.lambda === l).map((r) => [r.p, 100 * r[key]] as const),
  }));
  const panel = (title: string, key: "trainError" | "testError" | "gap"): LineChartSpec => ({
    title, x: pAxis, y: { label: `${key === "gap" ? "test − train error" : title.toLowerCase()} (%)` }, series: byLambda(key),
  });
  const weights: LineChartSpec = {
    title: "Σ‖W_i‖² after training", x: pAxis, y: { label: "sum of squared weights" },
    series: lambdas.map((l, i) => ({
      name: `λ = ${l}`, color: PALETTE[i % PALETTE.length], markers: true,
      points: runs.filter((r) => r.lambda === l).map((r) => [r.p, r.weightNorm2] as const),
    })),
  };
  const curves = ps.map((p): LineChartSpec => ({
    title: `Errors during training, dropout p = ${p}`,
    x: { label: "epoch" },
    y: { label: "error (%)" },
    series: runs.filter((r) => r.p === p).flatMap((r): Series[] => {
      const color = PALETTE[lambdas.indexOf(r.lambda) % PALETTE.length];
      return [
        { name: `test, λ = ${r.lambda}`, color, points: r.curve.map((k) => [k.epoch, 100 * k.testError] as const) },
        { name: `train, λ = ${r.lambda}`, color, dashed: true, points: r.curve.map((k) => [k.epoch, 100 * k.trainError] as const) },
      ];
    }),
  }));
  return {
    summary: [panel("Training error", "trainError"), panel("Test error", "testError"), panel("Generalization gap", "gap"), weights],
    curves,
  };
}
