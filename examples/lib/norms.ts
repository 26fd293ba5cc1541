/**
 * The lecture's §2 as experiments on the deep ReLU MLP:
 *   - the same net with no normalization, a layerNorm or a batchNorm after every linear, trained
 *     with one recipe: training curves and test error;
 *   - batchNorm's eval program uses the running statistics, so a sample's prediction is the same
 *     alone as inside a batch (checked bit for bit);
 *   - layerNorm needs no batch: the per-sample gradients of a `batch: 1` program average to the
 *     batch gradient, and a net compiled for `batch: 1` trains and predicts.
 */
import { subset } from "../../src/data/batches.js";
import type { Dataset } from "../../src/data/dataset.js";
import { compile, KilnError, sgd, type Net } from "../../src/index.js";
import { PALETTE, type LineChartSpec } from "../../src/plot/index.js";
import { deepMlp, normsAtInit, type Norm } from "./deep.js";
import type { Recipe } from "./initTraining.js";
import { evaluate } from "../../src/metrics.js";
import { trainLoop } from "./train.js";

export interface NormsOptions {
  readonly train: Dataset;
  readonly test: Dataset;
  /** Default ["none", "layerNorm", "batchNorm"]. */
  readonly norms?: readonly Norm[];
  readonly depth?: number;
  readonly width?: number;
  /** σ² = c/n of every linear (default 2, He). */
  readonly c?: number;
  readonly recipe: Recipe;
  readonly every: number;
  /** Where the training error is measured; default `train`. */
  readonly trainEval?: Dataset;
  readonly seed?: number;
  readonly progress?: boolean;
}

export interface NormRun {
  readonly norm: Norm;
  readonly net: Net;
  /** ‖∂ℓ/∂W_i‖₂ of block i at initialization (one batch of `recipe.batch` training samples). */
  readonly gradientAtInit: readonly number[];
  readonly curve: readonly { step: number; loss: number; trainError: number; testError: number }[];
  readonly trainError: number;
  readonly testError: number;
  readonly diverged: boolean;
  readonly seconds: number;
}

/**
 * Train one net per normalization with the same recipe and initialization.
 * @example runNorms({ train, test, recipe: defaultRecipe(2000), every: 100 })
 */
export function runNorms(o: NormsOptions): NormRun[] {
  const { depth = 50, width = 100, c = 2, recipe, seed = 0 } = o;
  const inputs = o.train.features;
  const trainEval = o.trainEval ?? o.train;
  const sample = subset(o.train, recipe.batch, seed); // random: the npm digits are sorted by class
  return (o.norms ?? ["none", "layerNorm", "batchNorm"]).map((norm) => {
    const net = compile(deepMlp({ c, depth, width, inputs, norm }), {
      inputs, batch: recipe.batch, seed, optimizer: recipe.optimizer(recipe.steps),
    });
    // Same seed, same parameters: the gradient norms the first step sees, read with probes.
    const gradientAtInit = normsAtInit({ c, depth, width, inputs, norm, seed, x: sample.images, labels: sample.labels }).gradient;
    const r = trainLoop({
      net, train: o.train, batch: recipe.batch, steps: recipe.steps, seed, every: o.every,
      label: o.progress ? norm : undefined,
      evaluate: (n) => ({ trainError: evaluate(n, trainEval).error, testError: evaluate(n, o.test).error }),
    });
    return {
      norm, net, gradientAtInit,
      curve: r.checkpoints.map((k) => ({ step: k.step, loss: k.loss, trainError: k.metrics.trainError!, testError: k.metrics.testError! })),
      // The last checkpoint measured the final network; its training error only if on the whole set.
      trainError: trainEval === o.train ? r.checkpoints.at(-1)!.metrics.trainError! : evaluate(net, o.train).error,
      testError: r.checkpoints.at(-1)!.metrics.testError!,
      diverged: r.diverged,
      seconds: r.seconds,
    };
  });
}

export interface EvalIndependence {
  /** Samples compared alone vs inside a batch. */
  readonly samples: number;
  readonly batch: number;
  /** Largest |logit alone − logit in the batch| (and in a second, different batch). */
  readonly maxAbsDiff: number;
  /** Every logit bit-identical. */
  readonly identical: boolean;
  /** Distinct argmax predictions among the single-sample runs (batch statistics of one sample would make all outputs equal). */
  readonly distinctPredictions: number;
  /** The eval program reads running_mean/running_var state inputs. */
  readonly readsRunningStats: boolean;
}

/**
 * Predict `samples` test samples one at a time, inside one batch of `batch` test samples, and
 * inside a second batch where every other sample is different; compare the logits bit for bit.
 * @example batchNormEvalIndependence(bnNet, test) // { identical: true, maxAbsDiff: 0, … }
 */
export function batchNormEvalIndependence(net: Net, ds: Dataset, batch = 512, samples = 16): EvalIndependence {
  const f = ds.features, k = ds.classes;
  const n = Math.min(batch, ds.count);
  // Batch A: the first n samples in order. Batch B: the same positions hold the samples of A
  // that are checked, everything else comes from the other end of the dataset.
  const positions = Array.from({ length: Math.min(samples, n) }, (_, i) => Math.floor((i * (n - 1)) / Math.max(1, samples - 1)));
  const a = ds.images.slice(0, n * f);
  const b = ds.images.slice((ds.count - n) * f, ds.count * f);
  for (const p of positions) b.set(a.subarray(p * f, (p + 1) * f), p * f);
  const la = net.predict(a), lb = net.predict(b);
  let maxAbsDiff = 0, identical = true;
  const predicted = new Set<number>();
  for (const p of positions) {
    const alone = net.predict(a.subarray(p * f, (p + 1) * f));
    let best = 0;
    for (let j = 0; j < k; j++) {
      const v = alone[j]!;
      if (v > alone[best]!) best = j;
      for (const other of [la[p * k + j]!, lb[p * k + j]!]) {
        if (!Object.is(v, other)) identical = false;
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(v - other));
      }
    }
    predicted.add(best);
  }
  const names = net.ir.eval.inputs.filter((i) => i.kind === "state").map((i) => i.name);
  const readsRunningStats = names.some((s) => s.endsWith("running_mean")) && names.some((s) => s.endsWith("running_var"));
  return { samples: positions.length, batch: n, maxAbsDiff, identical, distinctPredictions: predicted.size, readsRunningStats };
}

export interface BatchOne {
  readonly steps: number;
  /** Mean loss of the first and the last `window` steps. */
  readonly lossFirst: number;
  readonly lossLast: number;
  readonly window: number;
  /** Test error of the net after training, predicted one sample at a time. */
  readonly testError: number;
  readonly seconds: number;
  /** What compile says to a batchNorm net at batch 1 (the contrast). */
  readonly batchNormRefusal: string;
}

/**
 * Per-sample independence of a layerNorm net, exactly: the gradients of a `batch: 1` program,
 * averaged over k samples, equal the gradient of the `batch: k` program on the same k samples
 * (no term couples two samples). Returns the largest relative difference ‖ḡ₁ − g_k‖/‖g_k‖ over
 * the parameters, and the two losses.
 * @example batchOneGradientAgreement(train).maxRelDiff // ≈ 1e-7 (float32 rounding)
 */
export function batchOneGradientAgreement(ds: Dataset, o: { depth?: number; width?: number; c?: number; k?: number; seed?: number } = {}): {
  maxRelDiff: number; lossBatch: number; lossMeanOfSingles: number; k: number;
} {
  const { depth = 50, width = 100, c = 2, k = 8, seed = 0 } = o;
  const inputs = ds.features;
  const model = deepMlp({ c, depth, width, inputs, norm: "layerNorm" });
  const whole = compile(model, { inputs, batch: k, seed });
  const single = compile(model, { inputs, batch: 1, seed });
  const { images: x, labels: y } = subset(ds, k, seed); // random samples: the npm digits are sorted by class
  const g = whole.gradients(x, y);
  const mean: Record<string, Float64Array> = {};
  let loss = 0;
  for (let i = 0; i < k; i++) {
    const gi = single.gradients(x.subarray(i * inputs, (i + 1) * inputs), y.subarray(i, i + 1));
    loss += gi.loss / k;
    for (const [name, v] of Object.entries(gi.grads)) {
      const m = (mean[name] ??= new Float64Array(v.length));
      for (let j = 0; j < v.length; j++) m[j]! += v[j]! / k;
    }
  }
  let maxRelDiff = 0;
  for (const [name, v] of Object.entries(g.grads)) {
    let diff = 0, norm = 0;
    for (let j = 0; j < v.length; j++) {
      diff += (v[j]! - mean[name]![j]!) ** 2;
      norm += v[j]! ** 2;
    }
    maxRelDiff = Math.max(maxRelDiff, Math.sqrt(diff / (norm || 1)));
  }
  return { maxRelDiff, lossBatch: g.loss, lossMeanOfSingles: loss, k };
}

/**
 * Train a layerNorm net compiled for `batch: 1` (one sample per step) and predict sample by sample.
 * Default 5 blocks: one sample per step moves a 50-block plain MLP so slowly that 4,000 steps
 * leave it near chance (with SGD or Adam) — an optimization matter, see batchOneGradientAgreement.
 * @example layerNormBatchOne({ train, test, steps: 2000 }).lossLast // < lossFirst
 */
export function layerNormBatchOne(o: {
  train: Dataset; test: Dataset; steps: number; depth?: number; width?: number; c?: number; lr?: number; seed?: number; testSamples?: number;
}): BatchOne {
  const { depth = 5, width = 100, c = 2, lr = 0.001, seed = 0, steps } = o;
  const inputs = o.train.features;
  const model = (norm: Norm) => deepMlp({ c, depth, width, inputs, norm });
  const net = compile(model("layerNorm"), { inputs, batch: 1, seed, optimizer: sgd({ lr, momentum: 0.9 }) });
  const r = trainLoop({ net, train: o.train, batch: 1, steps, seed, every: steps });
  const window = Math.max(1, Math.min(200, Math.floor(r.losses.length / 4)));
  const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  // Predict one sample per call (the eval program at batch 1), on a random part of the test set:
  // the npm digits are sorted by class.
  const m = Math.min(o.testSamples ?? o.test.count, o.test.count);
  const probe = m < o.test.count ? subset(o.test, m, seed) : o.test;
  let wrong = 0;
  for (let i = 0; i < m; i++) {
    const logits = net.predict(probe.images.subarray(i * inputs, (i + 1) * inputs));
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
    if (best !== probe.labels[i]) wrong++;
  }
  let batchNormRefusal = "(accepted)";
  try {
    compile(model("batchNorm"), { inputs, batch: 1, seed });
  } catch (e) {
    batchNormRefusal = e instanceof KilnError ? e.message : String(e);
  }
  return {
    steps: r.losses.length, window,
    lossFirst: mean(r.losses.slice(0, window)),
    lossLast: mean(r.losses.slice(-window)),
    testError: wrong / m,
    seconds: r.seconds,
    batchNormRefusal,
  };
}

const NAMES: Record<Norm, string> = { none: "no normalization", layerNorm: "layerNorm", batchNorm: "batchNorm" };

/**
 * Training loss, training error and test error against steps, one series per normalization, and
 * the per-layer weight-gradient norms at initialization (why a deep batchNorm net is hard to train:
 * without residual connections its gradients grow toward the input, ≈ ×1.2 per layer here).
 * @example multiPanel(normsCharts(runs), { columns: 3 })
 */
export function normsCharts(runs: readonly NormRun[]): LineChartSpec[] {
  const panel = (title: string, ylabel: string, key: "loss" | "trainError" | "testError"): LineChartSpec => ({
    title,
    x: { label: "step" },
    y: { label: ylabel, log: true },
    series: runs.map((r, i) => ({
      name: NAMES[r.norm],
      color: PALETTE[i % PALETTE.length],
      points: r.curve.filter((k) => key !== "loss" || k.step > 0).map((k) => [k.step, key === "loss" ? k.loss : 100 * k[key]] as const),
    })),
  });
  return [
    panel("Training loss", "cross-entropy (mean between checkpoints)", "loss"),
    panel("Training error", "training error (%)", "trainError"),
    panel("Test error", "test error (%)", "testError"),
    {
      title: "Weight-gradient norm per layer at init",
      x: { label: "layer" },
      y: { label: "‖∂ℓ/∂W_i‖₂", log: true },
      series: runs.map((r, i) => ({ name: NAMES[r.norm], color: PALETTE[i % PALETTE.length], points: r.gradientAtInit.map((g, k) => [k + 1, g] as const) })),
    },
  ];
}
