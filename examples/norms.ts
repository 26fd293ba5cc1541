/**
 * The lecture's §2: the lecture's 50-layer, 100-unit ReLU MLP (He init, σ² = 2/n) with no
 * normalization, a layerNorm, or a batchNorm after every linear (before the ReLU), trained with
 * the init-training recipe; a fourth panel shows the per-layer gradient norms at init. Then two
 * checks, printed and asserted:
 *   - batchNorm's eval program uses running statistics: a sample's logits are bit-identical
 *     alone and inside batches of 512;
 *   - layerNorm works at batch size 1: the per-sample gradients of a `batch: 1` program average
 *     to the batch gradient, and a net compiled for `batch: 1` trains and predicts.
 *
 *   npx tsx examples/norms.ts [--out out/norms] [--seed 0] [--quick] [--data DIR]
 *                             [--steps 2000] [--lr 0.001] [--depth 50] [--c 2]
 *
 * PyTorch with the same data, model and recipe: bench/torch_norms.py. Seeds 0–2 there give test
 * error 11.1–13.1% without normalization, 18.0–24.2% with LayerNorm and 61–77% with BatchNorm (kiln,
 * seeds 0–1: 11.2–11.5%, 17.4–18.2%, 57–67%): at depth 50 batchNorm fails to train in both.
 */
import assert from "node:assert/strict";
import { subset } from "../src/data/batches.js";
import { multiPanel, panelsCsv, writeFigure } from "../src/plot/index.js";
import { commonArgs, loadData, numberOption, pct, table } from "./lib/cli.js";
import { defaultRecipe } from "./lib/initTraining.js";
import { batchNormEvalIndependence, batchOneGradientAgreement, layerNormBatchOne, normsCharts, runNorms } from "./lib/norms.js";

const args = commonArgs("norms", "No normalization vs layerNorm vs batchNorm on a 50×100 ReLU MLP.", {
  steps: "training steps per net (default 2000; 200 with --quick)",
  lr: "peak learning rate of SGD momentum 0.9 (default 0.001)",
  depth: "hidden layers (default 50)",
  c: "initialization σ² = c/n (default 2)",
});
const steps = numberOption(args.extra, "steps", args.quick ? 200 : 2000, { integer: true });
const lr = numberOption(args.extra, "lr", 0.001);
const depth = numberOption(args.extra, "depth", 50, { integer: true });
const c = numberOption(args.extra, "c", 2);
const recipe = defaultRecipe(steps, 64, lr);
const { train, test, label } = await loadData(args.data);
const trainEval = train.count > 8000 ? subset(train, 8000, args.seed) : train;
const started = performance.now();

const netName = `${depth}-layer ReLU MLP, 100 units, σ² = ${c}/n`;
console.log(`${label}: ${train.count} train / ${test.count} test · ${netName} · ${recipe.describe}`);
const runs = runNorms({ train, test, recipe, trainEval, depth, c, seed: args.seed, every: args.quick ? 25 : 50, progress: true });
const charts = normsCharts(runs);
const written = writeFigure(`${args.out}/training`, multiPanel(charts, {
  columns: 2, title: `${netName} · ${recipe.describe}`, panelWidth: 540, panelHeight: 360,
}), panelsCsv(charts));
console.log(`wrote ${written.svg} and ${written.csv}`);
console.log(table(["normalization", "train loss (last)", "train error", "test error", "‖∇W_1‖/‖∇W_last‖ at init", "seconds"], runs.map((r) => [
  r.norm, r.diverged ? "diverged" : r.curve.at(-1)!.loss.toFixed(4), pct(r.trainError), pct(r.testError),
  (r.gradientAtInit[0]! / r.gradientAtInit.at(-1)!).toExponential(2), r.seconds.toFixed(0),
])));

// batchNorm in evaluation: running statistics, so each prediction is independent of the batch.
const bn = runs.find((r) => r.norm === "batchNorm")!; // trained: running statistics far from their initial 0 and 1
const proof = batchNormEvalIndependence(bn.net, test, 512, 16);
console.log(`\nbatchNorm eval: ${proof.samples} test samples predicted alone vs inside two different batches of ${proof.batch}: ` +
  `max |Δlogit| = ${proof.maxAbsDiff}, bit-identical: ${proof.identical}; ${proof.distinctPredictions} distinct classes predicted alone; ` +
  `eval program reads running_mean/running_var: ${proof.readsRunningStats}`);
assert.ok(proof.identical, "batchNorm eval: a sample's logits must not depend on the rest of the batch");
assert.ok(proof.readsRunningStats, "batchNorm eval: the program must read the running statistics");
assert.ok(proof.distinctPredictions > 1, "batchNorm eval: single-sample predictions must depend on the sample");

// layerNorm at batch 1: per-sample statistics, nothing to do with the batch.
const agree = batchOneGradientAgreement(train, { depth, c, seed: args.seed });
console.log(`layerNorm, ${depth} layers: the mean of ${agree.k} gradients of the batch-1 program vs the gradient of the batch-${agree.k} program: ` +
  `max relative difference ${agree.maxRelDiff.toExponential(2)} (losses ${agree.lossMeanOfSingles.toFixed(6)} vs ${agree.lossBatch.toFixed(6)})`);
assert.ok(agree.maxRelDiff < 1e-4, "layerNorm at batch 1: per-sample gradients must average to the batch gradient");
const oneDepth = Math.min(depth, 5);
const one = layerNormBatchOne({ train, test, depth: oneDepth, c, steps: args.quick ? 400 : 4000, seed: args.seed, lr: 0.001, testSamples: args.quick ? 300 : test.count });
console.log(`layerNorm at batch 1, ${oneDepth} layers × 100, SGD momentum 0.9 lr 0.001: ${one.steps} steps of one sample each in ${one.seconds.toFixed(1)} s; ` +
  `mean loss of the first ${one.window} steps ${one.lossFirst.toFixed(4)} → last ${one.window} ${one.lossLast.toFixed(4)}; ` +
  `test error, predicted one sample at a time: ${pct(one.testError)}`);
console.log(`batchNorm at batch 1, for contrast: ${one.batchNormRefusal}`);
assert.ok(one.lossLast < one.lossFirst, "layerNorm at batch 1: the loss must go down");
assert.ok(one.testError < 0.5, "layerNorm at batch 1: most test samples right");
console.log(`checks passed · total ${((performance.now() - started) / 1000).toFixed(0)} s`);
