import { compile, seq, linear, layerNorm, relu, dropout, sgd } from "../src/index.js";
const model = seq(linear(784, 512), layerNorm(512), relu, dropout(0.1), linear(512, 512), layerNorm(512), relu, dropout(0.1), linear(512, 10));
for (const threads of [1, 2]) {
  const net = compile(model, { inputs: 784, batch: 128, seed: 0, threads, optimizer: sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }) });
  const x = new Float32Array(128 * 784).map((_, i) => ((i * 7) % 13) / 13), y = new Int32Array(128).map((_, i) => i % 10);
  for (let i = 0; i < 20; i++) net.trainStep(x, y);
  const t = performance.now(); const N = 50; let l = 0; for (let i = 0; i < N; i++) l = net.trainStep(x, y);
  const ms = (performance.now() - t) / N;
  console.log(`threads ${threads}: ${ms.toFixed(2)} ms/step, ${(128 / ms * 1000).toFixed(0)} samples/s, loss ${l}`);
}
process.exit(0);
