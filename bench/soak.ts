/**
 * Long-running process: compile, use and dispose varied models many times; RSS and heap must stay
 * flat (issue 9). `npx tsx --expose-gc bench/soak.ts [cycles=1000]` prints memory every 100 cycles.
 */
import { batchNorm, compile, dropout, layerNorm, linear, mse, relu, residual, seq, sgd, softmaxCrossEntropy, type LayerNode } from "../src/index.js";

/** Model i of the cycle: widths, depth, layer kinds and thread counts vary with i. */
export function soakModel(i: number): { model: LayerNode; inputs: number; outputs: number; threads: number; batch: number; mse: boolean } {
  const inputs = [13, 64, 100, 37][i % 4]!, hidden = [32, 48, 96, 130, 7][i % 5]!, outputs = [10, 3, 1][i % 3]!;
  const norm = i % 3 === 0 ? layerNorm(hidden) : i % 3 === 1 ? batchNorm(hidden) : relu;
  const body: LayerNode[] = [linear(inputs, hidden), norm, relu, dropout(i % 2 ? 0.1 : 0)];
  if (i % 4 === 1) body.push(residual(seq(linear(hidden, hidden), relu) as never));
  body.push(linear(hidden, outputs));
  return { model: seq(...(body as [LayerNode])), inputs, outputs, threads: 1 + (i % 4), batch: [8, 33, 64][i % 3]!, mse: outputs === 1 };
}

/**
 * One cycle: compile, two train steps, a prediction, dispose. The seed (default: the cycle's
 * number) goes into the dropout kernels, so distinct seeds also exercise the caches' eviction.
 */
export function soakCycle(i: number, seed = i): void {
  const m = soakModel(i);
  const net = compile(m.model, {
    inputs: m.inputs, batch: m.batch, seed, threads: m.threads,
    loss: m.mse ? mse() : softmaxCrossEntropy(), optimizer: sgd({ lr: 0.01, momentum: 0.9 }),
  });
  const x = new Float32Array(m.batch * m.inputs).fill(0.5);
  const y = m.mse ? new Float32Array(m.batch) : new Int32Array(m.batch).fill(1);
  net.trainStep(x, y); net.trainStep(x, y);
  net.predict(x.subarray(0, 3 * m.inputs));
  net.dispose();
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const cycles = Number(process.argv[2] ?? 1000);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc (npx tsx --expose-gc bench/soak.ts)");
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  const t0 = performance.now();
  for (let i = 0; i < cycles; i++) {
    soakCycle(i);
    if ((i + 1) % 100 === 0 || i === 19) {
      gc();
      const m = process.memoryUsage();
      console.log(`cycle ${i + 1}: rss ${mb(m.rss)} MB, heap ${mb(m.heapUsed)} MB, external ${mb(m.external)} MB, ${((performance.now() - t0) / (i + 1)).toFixed(1)} ms/cycle`);
    }
  }
}
