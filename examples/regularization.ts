/**
 * The lecture's §3: dropout p ∈ {0, 0.1, 0.3} × weight decay λ ∈ {0, 1e-4, 1e-3} on a
 * 2,000-sample training subset (784 → 512 → 512 → 10 ReLU MLP, SGD momentum 0.9 with cosine
 * decay): the train/test error gap of each setting, as a 3×3 table and figures.
 *
 *   npx tsx examples/regularization.ts [--out out/regularization] [--seed 0] [--quick] [--data DIR]
 *                                      [--epochs 30] [--samples 2000] [--lr 0.05]
 */
import { subset } from "../src/data/batches.js";
import { multiPanel, panelsCsv, writeFigure } from "../src/plot/index.js";
import { commonArgs, loadData, numberOption, pct, table } from "./lib/cli.js";
import { regularizationCharts, runRegularization, type RegularizationRun } from "./lib/regularization.js";

const args = commonArgs("regularization", "Dropout × weight decay on a 2,000-sample training subset.", {
  epochs: "epochs over the subset (default 30; 4 with --quick)",
  samples: "training samples (default 2000)",
  lr: "peak learning rate (default 0.05)",
}, process.argv.slice(2), { duration: { full: "3–4 minutes (195 s measured)", quick: "10–15 s" } });
const epochs = numberOption(args.extra, "epochs", args.quick ? 4 : 30, { integer: true });
const samples = numberOption(args.extra, "samples", 2000, { integer: true });
const lr = numberOption(args.extra, "lr", 0.05);
const hidden = args.quick ? 128 : 512;
const data = await loadData(args.data);
const train = subset(data.train, samples, args.seed);
const test = args.quick ? subset(data.test, Math.min(1000, data.test.count), args.seed) : data.test;
const recipe = `784 → ${hidden} → ${hidden} → 10, SGD momentum 0.9, lr ${lr} cosine → 0, batch 50, ${epochs} epochs`;

console.log(`${data.label}: ${train.count} of ${data.train.count} train samples / ${test.count} test · ${recipe}`);
const started = performance.now();
const runs = runRegularization({ train, test, epochs, hidden, lr, seed: args.seed, every: Math.max(1, Math.floor(epochs / 30)), progress: true });
const seconds = (performance.now() - started) / 1000;

const charts = regularizationCharts(runs);
for (const [file, panels, title, columns] of [
  ["gap", charts.summary, `Dropout × weight decay · ${train.count} training samples, ${hidden}-unit MLP, ${epochs} epochs`, 2],
  ["curves", charts.curves, `Train (dashed) and test (solid) error · ${train.count} training samples`, 3],
] as const) {
  const written = writeFigure(`${args.out}/${file}`, multiPanel(panels, { columns, title, panelWidth: 460, panelHeight: 340 }), panelsCsv(panels));
  console.log(`wrote ${written.svg} and ${written.csv}`);
}

const ps = [...new Set(runs.map((r) => r.p))];
const lambdas = [...new Set(runs.map((r) => r.lambda))];
const at = (p: number, l: number) => runs.find((r) => r.p === p && r.lambda === l)!;
const grid = (title: string, cell: (r: RegularizationRun) => string) => {
  console.log(`\n${title}`);
  console.log(table(["p \\ λ", ...lambdas.map(String)], ps.map((p) => [String(p), ...lambdas.map((l) => cell(at(p, l)))])));
};
grid("train error / test error", (r) => (r.diverged ? "diverged" : `${pct(r.trainError)} / ${pct(r.testError)}`));
grid("gap = test − train error (percentage points)", (r) => (100 * r.gap).toFixed(2));
grid("Σ‖W‖² after training", (r) => r.weightNorm2.toFixed(1));
const best = [...runs].sort((a, b) => a.testError - b.testError)[0]!;
console.log(`\nlowest test error: p = ${best.p}, λ = ${best.lambda} (${pct(best.testError)}); total ${seconds.toFixed(0)} s`);
