/**
 * What checkNumerics costs: W2 (layerNorm MLP, batch 128) and W7 (the lecture's 50 × 100 ReLU
 * net, 784 in, batch 128) train steps with the check off and on, through the public API, at 1 and
 * 2 threads, interleaved in one run so the ratio is fair on a busy machine.
 *
 * Three nets per workload and thread count: off, on, and a second "off" net — the off/off ratio
 * is this run's noise floor (two identical nets differ by that much on a shared machine). Steps
 * alternate one by one (off, on, off′, off, on, off′ …); each net's figure is the median of its
 * step times, wall clock and CPU time of this process (all its threads: process.cpuUsage). On a
 * busy machine the CPU time is the steadier figure (time spent preempted is not counted); at 2
 * threads it also counts the workers' time, spinning included. At 2 threads it also prints how
 * many split calls the pool's judge ran on the calling thread alone (a busy machine's).
 *
 *   npx tsx bench/numerics.ts [rounds] [threads…]      # default: 60 rounds, threads 1 2
 */
import { loadavg } from "node:os";
import { poolStats } from "../runtime/pool.js";
import { compile, dropout, init, layerNorm, linear, relu, seq, sgd, type LayerNode, type Net } from "../src/index.js";

const rounds = Number(process.argv[2] ?? 60);
const threadCounts = process.argv.length > 3 ? process.argv.slice(3).map(Number) : [1, 2];
// He initialization keeps the activations normal (the default init shrinks them into subnormals over 50 layers).
const he = init.normal({ variance: (n) => 2 / n });
const w7 = seq(...Array.from({ length: 50 }, (_, i) => seq(linear(i === 0 ? 784 : 100, 100, { init: he }), relu)) as [LayerNode], linear(100, 10, { init: he }));
const w2 = seq(linear(784, 512), layerNorm(512), relu, dropout(0.1), linear(512, 512), layerNorm(512), relu, dropout(0.1), linear(512, 10));
const x = new Float32Array(128 * 784).map((_, i) => ((i * 7) % 13) / 13);
const y = new Int32Array(128).map((_, i) => i % 10);

const quantile = (a: number[], q: number) => [...a].sort((p, r) => p - r)[Math.floor((a.length - 1) * q)]!;
const pct = (r: number) => `${r >= 1 ? "+" : ""}${((r - 1) * 100).toFixed(1)}%`;

// The machine's state beside the figures: 2-thread figures mean little on a busy machine.
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`load average (1, 5, 15 min) at start: ${load()}`);
for (const threads of threadCounts) {
  for (const [name, model] of [["W2", w2], ["W7", w7]] as const) {
    const nets: Net[] = [false, true, false].map((checkNumerics) =>
      compile(model, { inputs: 784, batch: 128, seed: 0, checkNumerics, threads, optimizer: sgd({ lr: 0.001, momentum: 0.9, weightDecay: 1e-4 }) }));
    for (const net of nets) for (let i = 0; i < 10; i++) net.trainStep(x, y);
    const wall: number[][] = [[], [], []], cpu: number[][] = [[], [], []], alone = poolStats().ranAlone;
    for (let r = 0; r < rounds; r++) {
      nets.forEach((net, k) => {
        const c = process.cpuUsage(), t = performance.now();
        net.trainStep(x, y);
        wall[k]!.push(performance.now() - t);
        const d = process.cpuUsage(c);
        cpu[k]!.push((d.user + d.system) / 1000);
      });
    }
    const med = wall.map((t) => quantile(t, 0.5)), cmed = cpu.map((t) => quantile(t, 0.5));
    console.log(`${name} ${threads}t: wall off ${med[0]!.toFixed(2)} ms/step, on ${med[1]!.toFixed(2)}: ${pct(med[1]! / med[0]!)} (noise floor off′/off ${pct(med[2]! / med[0]!)});`
      + ` CPU off ${cmed[0]!.toFixed(2)} ms/step, on ${cmed[1]!.toFixed(2)}: ${pct(cmed[1]! / cmed[0]!)} (noise floor ${pct(cmed[2]! / cmed[0]!)}); medians of ${rounds}`
      // A busy machine's judge runs split calls alone: then a 2-thread figure is a 1-thread one.
      + (threads > 1 ? `; split calls the pool ran alone: ${poolStats().ranAlone - alone} in ${3 * rounds} steps` : ""));
    for (const net of nets) net.dispose();
  }
}
console.log(`load average at end: ${load()}`);
process.exit(0);
