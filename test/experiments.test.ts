/**
 * The experiment examples (examples/init-training.ts, norms.ts, regularization.ts) in their quick
 * form: their core functions from examples/lib, asserting the lecture's claims a short run can show.
 */
import { describe, expect, it } from "vitest";
import { subset } from "../src/data/batches.js";
import { loadMnistDigits } from "../src/data/mnist.js";
import { batchNorm, compile, cosine, init, linear, relu, seq, sgd } from "../src/index.js";
import { evaluate } from "../src/metrics.js";
import { numberOption } from "../examples/lib/cli.js";
import { deepMlp } from "../examples/lib/deep.js";
import { defaultRecipe, runInitTraining } from "../examples/lib/initTraining.js";
import { batchNormEvalIndependence, batchOneGradientAgreement, layerNormBatchOne, runNorms } from "../examples/lib/norms.js";
import { runRegularization } from "../examples/lib/regularization.js";
import { trainLoop } from "../examples/lib/train.js";

const finite = (xs: readonly number[]) => xs.every(Number.isFinite);

describe("§1 init-training: 50 × 100 ReLU MLPs, W ~ N(0, c/n), c ∈ {1.7, 2, 2.3}", () => {
  it("Var(W_i) starts at c/n and stays within 10% of it after a short training, for every layer and every c", async () => {
    const { train, test } = await loadMnistDigits();
    const runs = runInitTraining({
      train, test: subset(test, 200, 0), trainEval: subset(train, 500, 0), recipe: defaultRecipe(60, 32), every: 30,
    });
    expect(runs.map((r) => r.c)).toEqual([1.7, 2, 2.3]);
    for (const r of runs) {
      expect(r.layers).toHaveLength(51);
      expect(r.diverged).toBe(false);
      r.varianceStart.forEach((v, i) => {
        expect(v * r.layers[i]!.fanIn).toBeGreaterThan(0.9 * r.c); // sampled: ~1.4% spread for 10⁴ entries
        expect(v * r.layers[i]!.fanIn).toBeLessThan(1.1 * r.c);
        expect(r.varianceEnd[i]! / v).toBeGreaterThan(0.9);
        expect(r.varianceEnd[i]! / v).toBeLessThan(1.1);
      });
      expect(r.curve.map((k) => k.step)).toEqual([0, 30, 60]);
      expect(finite(r.curve.flatMap((k) => [k.trainError, k.varianceRatio]))).toBe(true);
    }
  }, 60_000);
});

describe("§2 norms", () => {
  it("no normalization, layerNorm and batchNorm all train and record finite curves", async () => {
    const { train, test } = await loadMnistDigits();
    const runs = runNorms({
      train, test: subset(test, 200, 0), trainEval: subset(train, 300, 0), depth: 8, width: 64, recipe: defaultRecipe(40, 32, 0.01), every: 20,
    });
    expect(runs.map((r) => r.norm)).toEqual(["none", "layerNorm", "batchNorm"]);
    for (const r of runs) {
      expect(r.gradientAtInit).toHaveLength(8);
      expect(r.curve.map((k) => k.step)).toEqual([0, 20, 40]);
      expect(finite(r.curve.flatMap((k) => [k.trainError, k.testError]))).toBe(true);
      expect(r.curve.at(-1)!.trainError).toBeLessThan(r.curve[0]!.trainError);
    }
  }, 60_000);

  it("batchNorm's eval program uses running statistics: logits alone equal logits inside a batch of 512, bit for bit", async () => {
    const { train, test } = await loadMnistDigits();
    const net = compile(deepMlp({ c: 2, depth: 6, width: 64, norm: "batchNorm" }), { inputs: 784, batch: 32, seed: 0, optimizer: sgd({ lr: 0.01, momentum: 0.9 }) });
    trainLoop({ net, train, batch: 32, steps: 30, seed: 0, every: 30 });
    expect(Array.from(net.state["0.1.running_mean"] as Float32Array).some((v) => v !== 0)).toBe(true);
    const proof = batchNormEvalIndependence(net, test, 512, 12);
    expect(proof).toMatchObject({ samples: 12, batch: 512, identical: true, maxAbsDiff: 0, readsRunningStats: true });
    expect(proof.distinctPredictions).toBeGreaterThan(1);
  }, 30_000);

  it("layerNorm trains at batch size 1 (the loss goes down, most predictions right); batchNorm is refused there", async () => {
    const { train, test } = await loadMnistDigits();
    const r = layerNormBatchOne({ train, test, steps: 1000, depth: 5, width: 100, lr: 0.001, testSamples: 300 });
    expect(r.steps).toBe(1000);
    expect(r.lossLast).toBeLessThan(0.7 * r.lossFirst);
    expect(r.testError).toBeLessThan(0.4);
    expect(r.batchNormRefusal).toMatch(/batchNorm\(100\) needs a training batch of at least 2, got 1/);
  }, 30_000);

  it("layerNorm at batch 1 is exact: the mean of 8 batch-1 gradients of the 50-layer net is the batch-8 gradient", async () => {
    const { train } = await loadMnistDigits();
    const r = batchOneGradientAgreement(subset(train, 8, 3));
    expect(r.maxRelDiff).toBeLessThan(1e-5);
    expect(r.lossMeanOfSingles).toBeCloseTo(r.lossBatch, 5);
  }, 30_000);
});

describe("§3 regularization: dropout p × weight decay λ on a small training subset", () => {
  it("gives a 3 × 3 table of finite errors, and weight decay shrinks the weights at every p", async () => {
    const { train, test } = await loadMnistDigits();
    const runs = runRegularization({ train: subset(train, 500, 0), test: subset(test, 300, 0), epochs: 3, hidden: 64, every: 1 });
    expect(runs.map((r) => [r.p, r.lambda])).toEqual([0, 0.1, 0.3].flatMap((p) => [0, 1e-4, 1e-3].map((l) => [p, l])));
    for (const r of runs) {
      expect(finite([r.trainError, r.testError, r.gap, r.weightNorm2])).toBe(true);
      expect(r.gap).toBeCloseTo(r.testError - r.trainError, 12);
      expect(r.curve.map((k) => k.epoch)).toEqual([0, 1, 2, 3]);
    }
    for (const p of [0, 0.1, 0.3]) {
      const norm = (l: number) => runs.find((r) => r.p === p && r.lambda === l)!.weightNorm2;
      expect(norm(1e-3)).toBeLessThan(norm(1e-4));
      expect(norm(1e-4)).toBeLessThan(norm(0));
    }
  }, 60_000);
});

describe("learning on the npm digits", () => {
  it("a short run (784 → 256 → 256 → 10 with batchNorm, 1,500 steps) reaches ≥ 95% test accuracy", async () => {
    const { train, test } = await loadMnistDigits();
    const model = seq(
      linear(784, 256, { init: init.he() }), batchNorm(256), relu,
      linear(256, 256, { init: init.he() }), batchNorm(256), relu,
      linear(256, 10),
    );
    const steps = 1500;
    const net = compile(model, { inputs: 784, batch: 64, seed: 0, optimizer: sgd({ lr: cosine({ from: 0.1, steps }), momentum: 0.9, weightDecay: 5e-4 }) });
    trainLoop({ net, train, batch: 64, steps, seed: 0, every: steps });
    const acc = evaluate(net, test).accuracy;
    console.log(`test accuracy after ${steps} steps: ${(acc * 100).toFixed(2)}%`);
    expect(acc).toBeGreaterThanOrEqual(0.95);
  }, 180_000); // 113 s at load 17 on the shared 2-core machine
});

describe("the examples' numeric options", () => {
  it("take the fallback when absent and refuse what is not a positive number (integer, or ≥ 0 when asked)", () => {
    expect(numberOption({}, "steps", 2000)).toBe(2000);
    expect(numberOption({ lr: "0.03" }, "lr", 0.001)).toBe(0.03);
    expect(numberOption({ seed: "0" }, "seed", 1, { integer: true, zero: true })).toBe(0);
    for (const bad of ["abc", "", "0", "-1", "Infinity", "1.5"]) {
      expect(() => numberOption({ steps: bad }, "steps", 1, { integer: true }), bad).toThrow(/--steps: expected a positive integer/);
    }
    expect(() => numberOption({ seed: "-2" }, "seed", 0, { integer: true, zero: true })).toThrow(/--seed: expected a non-negative integer, got "-2"/);
  });
});
