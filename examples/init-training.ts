/**
 * The lecture's §1 training experiment: 50-layer, 100-unit ReLU MLPs with W ~ N(0, c/n),
 * c ∈ {1.7, 2, 2.3}, trained with one recipe. Figures: Var(W_i) per layer at initialization and
 * after training (it barely moves: the optimizer does not repair a bad scale), and training error
 * against steps (which c reaches 5% first).
 *
 * Then what goes wrong at σ² = 3/n with a large learning rate (SGD momentum 0.9, --boom-lr): with
 * checkNumerics the first Infinity is named by layer; with clipGradNorm the same run trains.
 *
 *   npx tsx examples/init-training.ts [--out out/init-training] [--seed 0] [--quick] [--data DIR]
 *                                     [--steps 3000] [--lr 0.001] [--batch 64] [--boom-lr 0.01]
 */
import { subset } from "../src/data/batches.js";
import { multiPanel, panelsCsv, writeFigure } from "../src/plot/index.js";
import { commonArgs, loadData, numberOption, pct, table } from "./lib/cli.js";
import { defaultRecipe, initTrainingCharts, runExplosion, runInitTraining } from "./lib/initTraining.js";

const args = commonArgs("init-training", "Train 50×100 ReLU MLPs with W ~ N(0, c/n), c ∈ {1.7, 2, 2.3}.", {
  steps: "training steps per net (default 3000; 300 with --quick)",
  lr: "peak learning rate of SGD momentum 0.9 (default 0.001)",
  batch: "batch size (default 64)",
  "boom-lr": "learning rate of the σ² = 3/n run that blows up (default 0.01)",
}, process.argv.slice(2), { duration: { full: "3–4 minutes (193 s measured)", quick: "30–40 s" } });
const steps = numberOption(args.extra, "steps", args.quick ? 300 : 3000, { integer: true });
const recipe = defaultRecipe(steps, numberOption(args.extra, "batch", 64, { integer: true }), numberOption(args.extra, "lr", 0.001));
const boomLr = numberOption(args.extra, "boom-lr", 0.01); // checked before the runs, not after them
const { train, test, label } = await loadData(args.data);
// The training error is measured on the whole training set, or on 8,000 of it when larger.
const trainEval = train.count > 8000 ? subset(train, 8000, args.seed) : train;
const target = 0.05;

console.log(`${label}: ${train.count} train / ${test.count} test · 50 × 100 ReLU MLP · ${recipe.describe}`);
const started = performance.now();
const runs = runInitTraining({
  train, test, recipe, trainEval, target, seed: args.seed, every: args.quick ? 25 : 100, progress: true,
});
const seconds = (performance.now() - started) / 1000;

const charts = initTrainingCharts(runs, target);
const title = `50-layer ReLU MLP, 100 units, W ~ N(0, c/n) · ${recipe.describe}`;
for (const [file, panels, width] of [["weight-variance", charts.variance, 500], ["training", charts.training, 560]] as const) {
  const written = writeFigure(`${args.out}/${file}`, multiPanel(panels, { columns: 3, title, panelWidth: width, panelHeight: 380 }), panelsCsv(panels));
  console.log(`wrote ${written.svg} and ${written.csv}`);
}

const ratios = (r: (typeof runs)[number]) => r.varianceEnd.map((v, i) => v / r.varianceStart[i]!);
console.log(table(
  ["σ²", `reached ${pct(target, 0)} train error at`, "train error", "test error", "Var(W) end/start: min … max", "seconds"],
  runs.map((r) => [
    `${r.c}/n`,
    r.diverged ? "diverged" : r.reached === null ? `not in ${steps} steps` : `step ${r.reached}`,
    pct(r.trainError), pct(r.testError),
    `${Math.min(...ratios(r)).toFixed(3)} … ${Math.max(...ratios(r)).toFixed(3)}`,
    r.seconds.toFixed(0),
  ]),
));
const reached = runs.filter((r) => r.reached !== null).sort((a, b) => a.reached! - b.reached! || a.trainError - b.trainError);
console.log(reached.length > 0
  ? `first to ${pct(target, 0)} training error: σ² = ${reached[0]!.c}/n at step ${reached[0]!.reached} (checked every ${runs[0]!.curve[1]?.step ?? 0} steps)`
  : `no net reached ${pct(target, 0)} training error in ${steps} steps`);
console.log(`total ${seconds.toFixed(0)} s`);

// When training goes wrong: σ² = 3/n and a large learning rate, then the same with clipping.
const boomSteps = args.quick ? 30 : 1000;
console.log(`\nσ² = 3/n, SGD momentum 0.9, lr ${boomLr}, batch 64, compiled with checkNumerics:`);
const failed = runExplosion({ train, steps: boomSteps, lr: boomLr, seed: args.seed });
console.log(failed.error ?? `no NaN or ±∞ in ${failed.losses.length} steps (loss ${failed.losses.at(-1)})`);
const clipped = runExplosion({ train, trainEval, steps: boomSteps, lr: boomLr, clipGradNorm: 10, seed: args.seed });
console.log(`the same run with clipGradNorm: 10: ${clipped.error ?? `loss ${clipped.losses[0]!.toFixed(1)} → ${clipped.losses.at(-1)!.toFixed(3)} in ${clipped.losses.length} steps, training error ${pct(clipped.trainError)}`}`);
