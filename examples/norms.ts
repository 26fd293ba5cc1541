/**
 * The lecture's §2, asked fairly: does normalization make every initialization trainable?
 *   1. A grid σ² = c/n, c ∈ {1, 1.7, 2, 2.3, 3} × {no normalization, layerNorm, batchNorm} on the
 *      50-layer, 100-unit ReLU MLP; each cell trained at every rate of a log-spaced sweep
 *      (1e-4 … 1e-1) with the same step budget, reporting its best rate's final training and
 *      test error and whether every rate diverged: heat map, sweep curves, table, grid.json.
 *   2. Why batchNorm fails at depth 50 (the weight-gradient norm per layer at init grows toward
 *      the input), and that a residual or a 10-layer batchNorm net trains with the same sweep.
 *   3. Training curves of each normalization at its best rate for c = 2.
 *   4. Two checks, printed and asserted: batchNorm's eval program uses running statistics (a
 *      sample's logits are bit-identical alone and inside batches of 512); layerNorm works at
 *      batch size 1 (per-sample gradients average to the batch gradient; a batch-1 net trains).
 *
 *   npx tsx examples/norms.ts [--out out/norms] [--seed 0] [--quick] [--data DIR]
 *                             [--steps 200] [--batch 64] [--rates 6] [--depth 50]
 *
 * PyTorch with the same data, model and recipe: bench/torch_norms.py.
 */
import assert from "node:assert/strict";
import { writeFileSync, mkdirSync } from "node:fs";
import { subset } from "../src/data/batches.js";
import { heatmap, multiPanel, panelsCsv, writeFigure } from "../src/plot/index.js";
import { commonArgs, loadData, numberOption, pct, table } from "./lib/cli.js";
import { defaultRecipe } from "./lib/initTraining.js";
import { batchNormEvalIndependence, batchOneGradientAgreement, layerNormBatchOne, normsCharts, runNorms } from "./lib/norms.js";
import { describeRecipe, gridHeatmap, logSpaced, runGrid, sweepCharts, type GridCell } from "./lib/normsGrid.js";
import type { Norm } from "./lib/deep.js";

const args = commonArgs("norms", "Does normalization make every initialization trainable? σ² = c/n × {none, layerNorm, batchNorm}, best rate of a sweep per cell.", {
  steps: "training steps per run (default 200; 100 with --quick; PyTorch's reference used 630)",
  batch: "batch size (default 64; PyTorch's reference used 128)",
  rates: "learning rates in the log-spaced sweep 1e-4 … 1e-1 (default 6; 3 with --quick)",
  depth: "hidden layers (default 50)",
}, process.argv.slice(2), {
  duration: { full: "13–20 minutes (102 runs of the 50-layer net; 13 minutes measured)", quick: "1–2 minutes" },
  usage: "[--out out/norms] [--seed 0] [--quick] [--data DIR] [--steps 200] [--batch 64] [--rates 6] [--depth 50]",
});
const steps = numberOption(args.extra, "steps", args.quick ? 100 : 200, { integer: true });
const batch = numberOption(args.extra, "batch", 64, { integer: true });
const rates = numberOption(args.extra, "rates", args.quick ? 3 : 6, { integer: true, max: 20 });
const depth = numberOption(args.extra, "depth", 50, { integer: true });
const lrs = rates === 1 ? [1e-3] : logSpaced(1e-4, 1e-1, rates);
const recipe = { steps, batch, lrs };
const cs = args.quick ? [1, 2, 3] : [1, 1.7, 2, 2.3, 3];
const norms: Norm[] = ["none", "layerNorm", "batchNorm"];
const { train, test, label } = await loadData(args.data);
const trainEval = train.count > 8000 ? subset(train, 8000, args.seed) : train;
const testEval = args.quick ? subset(test, Math.min(1000, test.count), args.seed) : test;
const started = performance.now();
const netName = `${depth}-layer ReLU MLP, 100 units`;
console.log(`${label}: ${train.count} train / ${test.count} test · ${netName} · ${describeRecipe(recipe)}`);
mkdirSync(args.out, { recursive: true });

// 1. The grid (written as it goes: a long run leaves its finished cells behind).
const cells: GridCell[] = [];
const save = (extra: Record<string, unknown> = {}) => writeFileSync(`${args.out}/grid.json`, JSON.stringify({
  data: label, net: netName, recipe: describeRecipe(recipe), steps, batch, lrs, cells: cells.map(({ c, norm, depth: d, residual, runs, best, diverged, gradientRatio }) =>
    ({ c, norm, depth: d, residual, best, diverged, gradientRatio, runs })), ...extra,
}, null, 1));
const cellLine = (g: GridCell) => [
  g.residual ? `${g.norm}, residual` : g.depth !== depth ? `${g.norm}, ${g.depth} layers` : g.norm, `${g.c}/n`, String(g.best.lr),
  pct(g.best.trainError), pct(g.best.testError), g.diverged ? "every rate" : g.runs.filter((r) => r.diverged).map((r) => r.lr).join(" ") || "none",
  g.gradientRatio.toExponential(1),
];
const HEADER = ["normalization", "σ²", "best lr", "train error", "test error", "diverged at lr", "‖∇W_1‖/‖∇W_last‖ init"];
runGrid({
  train, test: testEval, trainEval, cs, norms, recipe, depth, seed: args.seed, progress: true,
  onCell: (g) => {
    cells.push(g);
    save();
    console.log(table(HEADER, [cellLine(g)]).split("\n").at(-1));
  },
});
const grid = cells.slice();

// 2. batchNorm repaired by a residual connection or a shallower net (c = 2, same sweep).
const repaired = [
  ...runGrid({ train, test: testEval, trainEval, cs: [2], norms: ["batchNorm"], recipe, depth, residual: true, seed: args.seed, progress: true, onCell: (g) => { cells.push(g); save(); } }),
  ...runGrid({ train, test: testEval, trainEval, cs: [2], norms: ["batchNorm"], recipe, depth: 10, seed: args.seed, progress: true, onCell: (g) => { cells.push(g); save(); } }),
];

const title = `${netName} · ${label} · final training error against the rate (${steps} steps, batch ${batch})`;
const map = gridHeatmap(grid, `Best training error per cell (${steps} steps, batch ${batch}, best of ${lrs.length} rates)`);
writeFileSync(`${args.out}/grid.svg`, heatmap(map));
const sweeps = sweepCharts([...grid, ...repaired]);
let written = writeFigure(`${args.out}/sweep`, multiPanel(sweeps, { columns: 3, title, panelWidth: 420, panelHeight: 330 }), panelsCsv(sweeps));
console.log(`wrote ${args.out}/grid.svg, ${written.svg}, ${args.out}/grid.json`);
console.log(`\n${table(HEADER, [...grid, ...repaired].map(cellLine))}`);

// 3. Curves of each normalization at its own best rate, c = 2, and the gradients at init.
const bestAt2 = (norm: Norm) => grid.find((g) => g.norm === norm && g.c === 2)?.best.lr ?? 1e-3;
const runs = norms.map((norm) => runNorms({
  train, test: testEval, recipe: defaultRecipe(steps, batch, bestAt2(norm)), trainEval: subset(trainEval, Math.min(2000, trainEval.count), args.seed),
  norms: [norm], depth, c: 2, seed: args.seed, every: Math.max(10, Math.floor(steps / 20)), progress: true,
})[0]!);
const charts = normsCharts(runs);
written = writeFigure(`${args.out}/training`, multiPanel(charts, {
  columns: 2, title: `${netName}, σ² = 2/n, each at its best rate (${norms.map((n) => `${n} ${bestAt2(n)}`).join(", ")})`, panelWidth: 540, panelHeight: 360,
}), panelsCsv(charts));
console.log(`wrote ${written.svg} and ${written.csv}`);
save({ seconds: (performance.now() - started) / 1000 });

// 4a. batchNorm in evaluation: running statistics, so each prediction is independent of the batch.
const bn = runs.find((r) => r.norm === "batchNorm")!;
const proof = batchNormEvalIndependence(bn.net, test, 512, 16);
console.log(`\nbatchNorm eval: ${proof.samples} test samples predicted alone vs inside two different batches of ${proof.batch}: ` +
  `max |Δlogit| = ${proof.maxAbsDiff}, bit-identical: ${proof.identical}; ${proof.distinctPredictions} distinct classes predicted alone; ` +
  `eval program reads running_mean/running_var: ${proof.readsRunningStats}`);
assert.ok(proof.identical, "batchNorm eval: a sample's logits must not depend on the rest of the batch");
assert.ok(proof.readsRunningStats, "batchNorm eval: the program must read the running statistics");

// 4b. layerNorm at batch 1: per-sample statistics, nothing to do with the batch.
const agree = batchOneGradientAgreement(train, { depth, c: 2, seed: args.seed });
console.log(`layerNorm, ${depth} layers: the mean of ${agree.k} gradients of the batch-1 program vs the gradient of the batch-${agree.k} program: ` +
  `max relative difference ${agree.maxRelDiff.toExponential(2)} (losses ${agree.lossMeanOfSingles.toFixed(6)} vs ${agree.lossBatch.toFixed(6)})`);
assert.ok(agree.maxRelDiff < 1e-4, "layerNorm at batch 1: per-sample gradients must average to the batch gradient");
const oneDepth = Math.min(depth, 5);
const one = layerNormBatchOne({ train, test, depth: oneDepth, c: 2, steps: args.quick ? 400 : 4000, seed: args.seed, lr: 0.001, testSamples: args.quick ? 300 : test.count });
console.log(`layerNorm at batch 1, ${oneDepth} layers × 100, SGD momentum 0.9 lr 0.001: ${one.steps} steps of one sample each in ${one.seconds.toFixed(1)} s; ` +
  `mean loss of the first ${one.window} steps ${one.lossFirst.toFixed(4)} → last ${one.window} ${one.lossLast.toFixed(4)}; ` +
  `test error, predicted one sample at a time: ${pct(one.testError)}`);
console.log(`batchNorm at batch 1, for contrast: ${one.batchNormRefusal}`);
assert.ok(one.lossLast < one.lossFirst, "layerNorm at batch 1: the loss must go down");
console.log(`checks passed · total ${((performance.now() - started) / 1000).toFixed(0)} s`);
