/**
 * The lecture's figure (§1): activation norm and weight-gradient norm per layer of a 50-layer
 * ReLU MLP (100 units) at initialization, on a batch of real MNIST digits, for W ~ N(0, c/n):
 *   c ∈ {1, 2, 3}: vanishing, flat (He), exploding;  c ∈ {1.7, 2, 2.3}: only 2 stays flat;
 * then the same nets with a layerNorm after every linear: every curve flat.
 *
 *   npx tsx examples/init-norms.ts [--out out/init-norms] [--seed 0] [--data DIR] [--batch 256]
 */
import { multiPanel, panelsCsv, writeFigure } from "../src/plot/index.js";
import { subset } from "../src/data/batches.js";
import { announceRun, commonArgs, loadData, numberOption } from "./lib/cli.js";
import { initNormsCharts, normsAtInit, type LayerNorms } from "./lib/deep.js";

const args = commonArgs("init-norms", "Activation and weight-gradient norm per layer of a 50-layer ReLU MLP at initialization, σ² = c/n.", {
  batch: "training samples in the one forward/backward pass (default 256; 64 with --quick)",
}, process.argv.slice(2), { usage: "[--out out/init-norms] [--seed 0] [--quick] [--data DIR] [--batch 256]", duration: { full: "10–30 s", quick: "10–20 s" } });
const { train } = await loadData(args.data, { announce: false });
const batch = numberOption(args.extra, "batch", args.quick ? 64 : 256, { integer: true, max: train.count });
announceRun();
const sample = subset(train, batch, args.seed);

const figures: [string, string, number[], "none" | "layerNorm"][] = [
  ["three-regimes", "σ² = c/n, c ∈ {1, 2, 3}", [1, 2, 3], "none"],
  ["near-he", "σ² = c/n, c ∈ {1.7, 2, 2.3}", [1.7, 2, 2.3], "none"],
  ["layernorm", "with layerNorm after every linear", [1, 2, 3], "layerNorm"],
];

const rows: string[][] = [];
for (const [file, title, cs, norm] of figures) {
  const results: [number, LayerNorms][] = cs.map((c) => [c, normsAtInit({ c, norm, x: sample.images, labels: sample.labels })]);
  const charts = initNormsCharts(results);
  const written = writeFigure(`${args.out}/${file}`, multiPanel(charts, { columns: 2, title: `50-layer ReLU MLP, 100 units: ${title}` }), panelsCsv(charts));
  console.log(`wrote ${written.svg}`);
  for (const [c, r] of results) {
    const a = r.activation, g = r.gradient;
    rows.push([norm, String(c), a[0]!.toExponential(2), a[a.length - 1]!.toExponential(2), (a[a.length - 1]! / a[0]!).toExponential(2),
      g[0]!.toExponential(2), g[g.length - 1]!.toExponential(2)]);
  }
}
const header = ["norm", "c", "‖Z_1‖", "‖Z_50‖", "ratio", "‖∇W_1‖", "‖∇W_50‖"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const fmt = (r: string[]) => r.map((c, i) => c.padStart(widths[i]!)).join("  ");
console.log(fmt(header));
for (const r of rows) console.log(fmt(r));
