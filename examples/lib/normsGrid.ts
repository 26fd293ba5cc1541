/**
 * The lecture's question, asked fairly: does normalization make every initialization trainable?
 * A grid σ² = c/n × {none, layerNorm, batchNorm} on the deep ReLU MLP, and for each cell a sweep
 * of learning rates with the same step budget, the cell reporting its best rate (lowest final
 * training error). One rate for all cells would answer a different question — which
 * normalization suits that rate — and the rate a plain net needs is not the one a normalized
 * net needs.
 */
import { subset } from "../../src/data/batches.js";
import type { Dataset } from "../../src/data/dataset.js";
import { compile, cosine, sgd, warmup } from "../../src/index.js";
import { evaluate } from "../../src/metrics.js";
import { PALETTE, type HeatmapCell, type HeatmapSpec, type LineChartSpec, type Series } from "../../src/plot/index.js";
import { deepMlp, normsAtInit, type Norm } from "./deep.js";
import { trainLoop } from "./train.js";

/** How every run of the grid is trained: SGD momentum 0.9, warmup then cosine to 0, one budget. */
export interface GridRecipe {
  readonly steps: number;
  readonly batch: number;
  readonly lrs: readonly number[];
  /** Cosine decay to 0 after the warmup (default true); false: the rate stays at its peak. */
  readonly decay?: boolean;
}

/** n log-spaced rates from `lo` to `hi`, rounded to 2 significant digits. @example logSpaced(1e-4, 1e-1, 7) // [0.0001, 0.00032, 0.001, …, 0.1] */
export function logSpaced(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Number((lo * (hi / lo) ** (i / (n - 1))).toPrecision(2)));
}

export const describeRecipe = (r: GridRecipe): string =>
  `SGD momentum 0.9, warmup ${warmupSteps(r.steps)} + ${r.decay === false ? "constant" : "cosine → 0"}, batch ${r.batch}, ${r.steps} steps, best of lr ∈ {${r.lrs.join(", ")}}`;

const warmupSteps = (steps: number) => Math.min(100, Math.floor(steps / 10));

export interface SweepRun {
  readonly lr: number;
  readonly trainError: number;
  readonly testError: number;
  /** The loss turned NaN or ±∞ (training stopped there; errors then measured on the broken net). */
  readonly diverged: boolean;
  /** Mean loss over the last 10% of the steps taken. */
  readonly finalLoss: number;
  readonly steps: number;
}

export interface GridCell {
  readonly c: number;
  readonly norm: Norm;
  readonly depth: number;
  readonly residual: boolean;
  readonly runs: readonly SweepRun[];
  /** The run with the lowest training error (a diverged run counts as error 1). */
  readonly best: SweepRun;
  /** Every rate diverged. */
  readonly diverged: boolean;
  /** ‖∂ℓ/∂W_1‖ / ‖∂ℓ/∂W_depth‖ at initialization: how much larger the gradient is at the input end. */
  readonly gradientRatio: number;
}

export interface GridOptions {
  readonly train: Dataset;
  readonly test: Dataset;
  /** Where the training error is measured (default: all of `train`). */
  readonly trainEval?: Dataset;
  readonly cs: readonly number[];
  readonly norms: readonly Norm[];
  readonly recipe: GridRecipe;
  readonly depth?: number;
  readonly width?: number;
  readonly residual?: boolean;
  readonly seed?: number;
  /** compile's threads (default: the cores available). */
  readonly threads?: number;
  readonly progress?: boolean;
  /** Called after each cell (e.g. to write partial results of a long grid). */
  readonly onCell?: (cell: GridCell) => void;
}

const errorOf = (r: SweepRun) => (r.diverged || !Number.isFinite(r.trainError) ? 1 : r.trainError);

/**
 * Train every (c, norm, lr) of the grid and pick each cell's best rate.
 * @example runGrid({ train, test, cs: [1, 2, 3], norms: ["none", "layerNorm"], recipe: { steps: 630, batch: 128, lrs: logSpaced(1e-4, 0.1, 7) } })
 */
export function runGrid(o: GridOptions): GridCell[] {
  const { depth = 50, width = 100, seed = 0, recipe } = o;
  const inputs = o.train.features;
  const trainEval = o.trainEval ?? o.train;
  const sample = subset(o.train, Math.min(128, o.train.count), seed);
  const cells: GridCell[] = [];
  for (const norm of o.norms) {
    for (const c of o.cs) {
      const model = deepMlp({ c, depth, width, inputs, norm, residual: o.residual });
      const runs = recipe.lrs.map((lr): SweepRun => {
        const net = compile(model, {
          inputs, batch: recipe.batch, seed, threads: o.threads,
          optimizer: sgd({ lr: warmup({ steps: warmupSteps(recipe.steps) }, recipe.decay === false ? lr : cosine({ from: lr, to: 0 })), momentum: 0.9 }),
        });
        const r = trainLoop({
          net, train: o.train, batch: recipe.batch, steps: recipe.steps, seed, every: recipe.steps,
          label: o.progress ? `${norm} c=${c} lr=${lr}` : undefined,
        });
        const tail = r.losses.slice(-Math.max(1, Math.floor(r.losses.length / 10)));
        return {
          lr, diverged: r.diverged, steps: r.losses.length,
          trainError: evaluate(net, trainEval).error, testError: evaluate(net, o.test).error,
          finalLoss: tail.reduce((s, v) => s + v, 0) / tail.length,
        };
      });
      const best = runs.reduce((a, b) => (errorOf(b) < errorOf(a) ? b : a));
      const g = normsAtInit({ c, depth, width, inputs, norm, residual: o.residual, seed, x: sample.images, labels: sample.labels }).gradient;
      const cell: GridCell = {
        c, norm, depth, residual: o.residual === true, runs, best,
        diverged: runs.every((r) => r.diverged), gradientRatio: g[0]! / g[g.length - 1]!,
      };
      o.onCell?.(cell);
      cells.push(cell);
    }
  }
  return cells;
}

const NAMES: Record<Norm, string> = { none: "no normalization", layerNorm: "layerNorm", batchNorm: "batchNorm" };
const cellName = (g: GridCell) => `${NAMES[g.norm]}${g.residual ? ", residual" : ""}${g.depth !== 50 ? `, ${g.depth} layers` : ""}`;

/**
 * The grid as a heat map: rows the normalizations, columns c, each cell its best training error
 * (%) with the test error and the rate under it; a cell where every rate diverged is grey.
 * @example writeFileSync("grid.svg", heatmap(gridHeatmap(cells, "Best training error")))
 */
export function gridHeatmap(cells: readonly GridCell[], title: string): HeatmapSpec {
  const rows = [...new Set(cells.map(cellName))];
  const cs = [...new Set(cells.map((g) => g.c))].sort((a, b) => a - b);
  return {
    title,
    columns: { label: "initialization σ² = c/n", names: cs.map((c) => `c = ${c}`) },
    rows: { label: "", names: rows },
    cells: rows.map((row) => cs.map((c): HeatmapCell => {
      const g = cells.find((k) => cellName(k) === row && k.c === c);
      if (!g) return { value: NaN, lines: ["not run"] };
      if (g.diverged) return { value: NaN, lines: ["diverged", "at every rate"] };
      return { value: 100 * g.best.trainError, lines: [`${(100 * g.best.trainError).toFixed(1)}%`, `test ${(100 * g.best.testError).toFixed(1)}%`, `lr ${g.best.lr}`] };
    })),
    scale: { label: "training error (%)", min: 0, max: 90 },
  };
}

/**
 * The sweeps behind the grid: final training error (%) against the learning rate, one panel per
 * normalization (and per repaired batchNorm net), one series per c; a diverged run is a gap.
 * @example multiPanel(sweepCharts(cells), { columns: 3 })
 */
export function sweepCharts(cells: readonly GridCell[]): LineChartSpec[] {
  const rows = [...new Set(cells.map(cellName))];
  const cs = [...new Set(cells.map((g) => g.c))].sort((a, b) => a - b);
  const lrs = cells[0]?.runs.map((r) => r.lr) ?? [];
  return rows.map((row): LineChartSpec => ({
    title: row,
    x: { label: "learning rate", log: true },
    y: { label: "final training error (%)", include: [0, 100] },
    markers: true,
    series: [
      ...cs.flatMap((c, i): Series[] => {
        const g = cells.find((k) => cellName(k) === row && k.c === c);
        return g ? [{ name: `σ² = ${c}/n`, color: PALETTE[i % PALETTE.length], points: g.runs.map((r) => [r.lr, r.diverged ? NaN : 100 * r.trainError] as const) }] : [];
      }),
      { name: "chance (90%)", reference: true, points: [[lrs[0] ?? 1e-4, 90], [lrs.at(-1) ?? 0.1, 90]] },
    ],
  }));
}
