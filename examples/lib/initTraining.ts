/**
 * The lecture's second init experiment (§1): 50-layer, 100-unit ReLU MLPs with W ~ N(0, c/n),
 * c ∈ {1.7, 2, 2.3}, trained with one recipe on MNIST. Two claims are measured:
 *   - the weight variance per layer after training stays close to its initial c/n — the
 *     optimizer does not repair a bad scale;
 *   - 2/n (He) is the one that reaches a 5% training error first.
 * Variances are read with probes: `net.gradients` leaves the weights alone and its probes
 * describe the weights it ran with, so one call before and one after training gives both ends.
 */
import { subset } from "../../src/data/batches.js";
import type { Dataset } from "../../src/data/dataset.js";
import { compile, cosine, NumericsError, sgd, warmup, type Net, type Optimizer } from "../../src/index.js";
import { PALETTE, type LineChartSpec, type Series } from "../../src/plot/index.js";
import { deepMlp } from "./deep.js";
import { evaluate } from "../../src/metrics.js";
import { batchStream, trainLoop } from "./train.js";

/** How every net is trained: the same batches, steps and optimizer for each c. */
export interface Recipe {
  readonly batch: number;
  readonly steps: number;
  /** Built once per net (schedules depend on `steps`). */
  readonly optimizer: (steps: number) => Optimizer;
  /** One line for tables and figure titles. */
  readonly describe: string;
}

/**
 * The recipe found for the 50 × 100 ReLU MLP: SGD momentum 0.9 at lr 0.01 is too large for a
 * 50-layer plain net (training error still jumping between 35% and 80% after 1,500 steps, as in
 * PyTorch; a smaller batch, a warmup + cosine at 0.03/0.005, or clipping the rate by the
 * gradient norm from probes did not fix it). lr 0.001 with a 100-step warmup and a cosine decay
 * to 0, batch 64, 3,000 steps brings 2/n under 5% training error around step 1,500.
 */
export function defaultRecipe(steps = 3000, batch = 64, lr = 0.001): Recipe {
  const warm = Math.min(100, Math.floor(steps / 10));
  return {
    batch, steps,
    optimizer: (s) => sgd({ lr: warmup({ steps: warm }, cosine({ from: lr, to: 0, steps: s - warm })), momentum: 0.9 }),
    describe: `SGD momentum 0.9, lr ${lr} (warmup ${warm} + cosine → 0), batch ${batch}, ${steps} steps`,
  };
}

export interface InitTrainingOptions {
  readonly train: Dataset;
  readonly test: Dataset;
  /** Default [1.7, 2, 2.3]. */
  readonly cs?: readonly number[];
  readonly depth?: number;
  readonly width?: number;
  readonly recipe: Recipe;
  /** Checkpoint (training error, variances) every this many steps. */
  readonly every: number;
  /** The training error to reach, default 0.05. */
  readonly target?: number;
  /** Where the training error is measured; default `train` itself. */
  readonly trainEval?: Dataset;
  readonly seed?: number;
  /** Progress bars on stderr. */
  readonly progress?: boolean;
}

export interface InitRun {
  readonly c: number;
  /** Linear layers in order (the head last): probe path and fan-in n. */
  readonly layers: readonly { path: string; fanIn: number }[];
  /** Var(W_i) at initialization and after training, per layer. */
  readonly varianceStart: readonly number[];
  readonly varianceEnd: readonly number[];
  /** Per checkpoint: step, mean loss since the previous one, training error, mean over layers of Var(W_i)/Var₀(W_i). */
  readonly curve: readonly { step: number; loss: number; trainError: number; varianceRatio: number }[];
  /** First checkpoint step whose training error is ≤ target; null if never. */
  readonly reached: number | null;
  readonly trainError: number;
  readonly testError: number;
  readonly diverged: boolean;
  readonly seconds: number;
}

/** Var(W_i) of every linear layer, read from the probes of the last trainStep/gradients call. */
function variances(net: Net, layers: readonly { path: string }[]): number[] {
  const v = net.probes().weightVariance;
  return layers.map((l) => v[l.path]!);
}

/**
 * Train one net per c with the same recipe; returns one run per c.
 * @example runInitTraining({ train, test, recipe: defaultRecipe(), every: 50 })
 */
export function runInitTraining(o: InitTrainingOptions): InitRun[] {
  const { depth = 50, width = 100, recipe, seed = 0, target = 0.05 } = o;
  const trainEval = o.trainEval ?? o.train;
  const inputs = o.train.features;
  return (o.cs ?? [1.7, 2, 2.3]).map((c) => {
    const net = compile(deepMlp({ c, depth, width, inputs }), {
      inputs, batch: recipe.batch, seed, optimizer: recipe.optimizer(recipe.steps), probes: { weightVariance: true },
    });
    const layers = Object.keys(net.params).filter((k) => k.endsWith(".weight"))
      .map((k, i) => ({ path: k.slice(0, -".weight".length), fanIn: i === 0 ? inputs : width }));
    // A fixed probe batch: gradients() changes nothing, and its probes report the current weights.
    const { images: probeX, labels: probeY } = subset(o.train, recipe.batch, seed);
    net.gradients(probeX, probeY);
    const varianceStart = variances(net, layers);
    const curve: InitRun["curve"][number][] = [];
    const result = trainLoop({
      net, train: o.train, batch: recipe.batch, steps: recipe.steps, seed, every: o.every,
      label: o.progress ? `c = ${c}` : undefined,
      evaluate: (n) => {
        // After step 0 the probes hold the weights the last step ran with; at step 0, the initial ones.
        const ratio = variances(n, layers).reduce((s, v, i) => s + v / varianceStart[i]!, 0) / layers.length;
        return { trainError: evaluate(n, trainEval).error, varianceRatio: ratio };
      },
      onCheckpoint: (k) => { curve.push({ step: k.step, loss: k.loss, trainError: k.metrics.trainError!, varianceRatio: k.metrics.varianceRatio! }); },
    });
    net.gradients(probeX, probeY);
    const varianceEnd = variances(net, layers);
    const reachedAt = curve.find((k) => k.trainError <= target);
    return {
      c, layers, varianceStart, varianceEnd, curve,
      reached: reachedAt ? reachedAt.step : null,
      trainError: evaluate(net, o.train).error,
      testError: evaluate(net, o.test).error,
      diverged: result.diverged,
      seconds: result.seconds,
    };
  });
}

export interface ExplosionRun {
  readonly lr: number;
  readonly clipGradNorm: number | null;
  /** Losses of the steps taken (the failing step's loss is not among them). */
  readonly losses: readonly number[];
  /** The NumericsError's message when a step made a NaN or ±∞; null when every step was finite. */
  readonly error: string | null;
  /** Training error on `trainEval` after the steps (NaN when the run failed). */
  readonly trainError: number;
}

/**
 * The lecture's warning made concrete: the 50 × 100 ReLU net at σ² = 3/n (activations grow
 * ~1.2× per layer, ~10⁴ at the head) with a large learning rate (SGD momentum 0.9). Compiled with
 * checkNumerics, the first step that makes an Infinity stops with a NumericsError naming the
 * layer; with `clipGradNorm` the same run trains.
 * @example runExplosion({ train, steps: 100, lr: 0.01 }).error
 */
export function runExplosion(o: {
  train: Dataset; trainEval?: Dataset; steps: number; lr: number; clipGradNorm?: number; batch?: number; seed?: number; depth?: number;
}): ExplosionRun {
  const { batch = 64, seed = 0, depth = 50 } = o;
  const inputs = o.train.features;
  const net = compile(deepMlp({ c: 3, depth, width: 100, inputs }), {
    inputs, batch, seed, checkNumerics: true,
    optimizer: sgd({ lr: o.lr, momentum: 0.9, ...(o.clipGradNorm === undefined ? {} : { clipGradNorm: o.clipGradNorm }) }),
  });
  const losses: number[] = [];
  let error: string | null = null;
  const stream = batchStream(o.train, batch, seed);
  for (let s = 0; s < o.steps && error === null; s++) {
    const { x, labels } = stream.next().value!;
    try {
      losses.push(net.trainStep(x, labels));
    } catch (e) {
      if (!(e instanceof NumericsError)) throw e;
      error = e.message;
    }
  }
  return { lr: o.lr, clipGradNorm: o.clipGradNorm ?? null, losses, error, trainError: error === null ? evaluate(net, o.trainEval ?? o.train).error : NaN };
}

const label = (c: number) => `σ² = ${c}/n`;

/**
 * (a) n·Var(W_i) per layer at the start (grey references) and after training (colour), their ratio per
 * layer, and the mean ratio during training; (b) training error and loss against steps.
 * @example multiPanel(initTrainingCharts(runs, 0.05).variance, { columns: 2 })
 */
export function initTrainingCharts(runs: readonly InitRun[], target = 0.05): { variance: LineChartSpec[]; training: LineChartSpec[] } {
  const color = (i: number) => PALETTE[i % PALETTE.length]!;
  const steps = runs[0]?.curve.at(-1)?.step ?? 0;
  const perLayer = (r: InitRun, values: readonly number[]) => values.map((v, i) => [i + 1, v] as const);
  // Ratio axes: ±10% unless the data go further.
  const ratios = runs.flatMap((r) => [...r.varianceEnd.map((v, k) => v / r.varianceStart[k]!), ...r.curve.map((k) => k.varianceRatio)]).filter(Number.isFinite);
  const ratioAxis = { label: "ratio", min: Math.min(0.9, ...ratios.map((x) => x - 0.01)), max: Math.max(1.1, ...ratios.map((x) => x + 0.01)) };
  const layerAxis = { label: "layer i (51 = output layer)" };
  const variance: LineChartSpec[] = [
    {
      title: "n·Var(W_i) per layer: trained vs at init (grey)",
      x: layerAxis,
      y: { label: "fan-in n × Var(W_i)   (= c at init)" },
      // Trained in colour over the values at init as grey references: where they coincide, nothing moved.
      series: [
        ...runs.map((r, i): Series => ({ name: label(r.c), points: perLayer(r, r.varianceEnd.map((v, k) => v * r.layers[k]!.fanIn)), color: color(i) })),
        ...runs.map((r, i): Series => ({
          name: i === 0 ? "at initialization" : "", reference: true,
          points: perLayer(r, r.varianceStart.map((v, k) => v * r.layers[k]!.fanIn)),
        })),
      ],
    },
    {
      title: "Var(W_i) after training / at init",
      x: layerAxis,
      y: ratioAxis,
      series: runs.map((r, i) => ({ name: label(r.c), points: perLayer(r, r.varianceEnd.map((v, k) => v / r.varianceStart[k]!)), color: color(i) })),
    },
    {
      title: "Mean over layers of Var(W_i)/Var₀(W_i)",
      x: { label: "step" },
      y: ratioAxis,
      series: runs.map((r, i) => ({ name: label(r.c), points: r.curve.map((k) => [k.step, k.varianceRatio] as const), color: color(i) })),
    },
  ];
  const curve = (r: InitRun, key: "trainError" | "loss") =>
    r.curve.filter((k) => key === "trainError" || k.step > 0).map((k) => [k.step, key === "trainError" ? 100 * k.trainError : k.loss] as const);
  const training: LineChartSpec[] = [
    {
      title: "Training error (full training set)",
      x: { label: "step" },
      y: { label: "training error (%)", log: true },
      series: [
        ...runs.map((r, i) => ({ name: label(r.c), points: curve(r, "trainError"), color: color(i) })),
        { name: `${100 * target}% target`, points: [[0, 100 * target], [steps, 100 * target]], reference: true },
      ],
    },
    {
      title: "Training loss (mean between checkpoints)",
      x: { label: "step" },
      y: { label: "cross-entropy", log: true },
      series: runs.map((r, i) => ({ name: label(r.c), points: curve(r, "loss"), color: color(i) })),
    },
  ];
  return { variance, training };
}
