/**
 * Quick W2 timing without the peers: the layerNorm MLP train step at batch 128, with 1 and 2
 * threads (`--bn`: W2b, the batchNorm MLP). `KILN_DEBUG=4 npx tsx bench/w2.ts` adds per-kernel
 * times.
 *
 *   npx tsx bench/w2.ts [steps] [--bn]
 */
import { batchNorm, compile, dropout, layerNorm, linear, relu, seq, sgd } from "../src/index.js";

const args = process.argv.slice(2);
const steps = Number(args.find((a) => !a.startsWith("--")) ?? 200);
const norm = args.includes("--bn") ? batchNorm : layerNorm;
const model = seq(linear(784, 512), norm(512), relu, dropout(0.1), linear(512, 512), norm(512), relu, dropout(0.1), linear(512, 10));
const x = new Float32Array(128 * 784).map((_, i) => ((i * 7) % 13) / 13);
const y = new Int32Array(128).map((_, i) => i % 10);
for (const threads of [1, 2]) {
  const net = compile(model, { inputs: 784, batch: 128, seed: 0, threads, optimizer: sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }) });
  for (let i = 0; i < 30; i++) net.trainStep(x, y);
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    net.trainStep(x, y);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const med = times[times.length >> 1]!;
  console.log(`threads ${threads}: median ${med.toFixed(2)} ms/step (best ${times[0]!.toFixed(2)}), ${(128 / med * 1000).toFixed(0)} samples/s`);
}
process.exit(0);
