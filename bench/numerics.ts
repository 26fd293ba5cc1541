/**
 * What checkNumerics costs: W2 (layerNorm MLP, batch 128) and W7 (the lecture's 50 × 100 ReLU
 * net, 784 in, batch 128) train steps with the check off and on, interleaved in one run so the
 * ratio is fair on a busy machine.
 *
 *   npx tsx bench/numerics.ts [rounds]
 */
import { compile, dropout, init, layerNorm, linear, relu, seq, sgd, type LayerNode } from "../src/index.js";

const rounds = Number(process.argv[2] ?? 20);
// He initialization keeps the activations normal (the default init shrinks them into subnormals over 50 layers).
const he = init.normal({ variance: (n) => 2 / n });
const w7 = seq(...Array.from({ length: 50 }, (_, i) => seq(linear(i === 0 ? 784 : 100, 100, { init: he }), relu)) as [LayerNode], linear(100, 10, { init: he }));
const w2 = seq(linear(784, 512), layerNorm(512), relu, dropout(0.1), linear(512, 512), layerNorm(512), relu, dropout(0.1), linear(512, 10));
const x = new Float32Array(128 * 784).map((_, i) => ((i * 7) % 13) / 13);
const y = new Int32Array(128).map((_, i) => i % 10);

const threads = Number(process.env.THREADS ?? 1);
for (const [name, model] of [["W2", w2], ["W7", w7]] as const) {
  const nets = [false, true].map((checkNumerics) =>
    compile(model, { inputs: 784, batch: 128, seed: 0, checkNumerics, threads, optimizer: sgd({ lr: 0.001, momentum: 0.9, weightDecay: 1e-4 }) }));
  for (const net of nets) for (let i = 0; i < 10; i++) net.trainStep(x, y);
  const times: number[][] = [[], []];
  // Blocks of 5 steps, alternating off/on, so both see the same machine load.
  for (let r = 0; r < rounds; r++) {
    nets.forEach((net, k) => {
      const t = performance.now();
      for (let i = 0; i < 5; i++) net.trainStep(x, y);
      times[k]!.push((performance.now() - t) / 5);
    });
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;
  const [off, on] = times.map(med) as [number, number];
  console.log(`${name}: check off ${off.toFixed(2)} ms/step, on ${on.toFixed(2)} ms/step (median of ${rounds} blocks of 5): +${((on / off - 1) * 100).toFixed(1)}%`);
}
