/** The compiled network's contract: names, errors on bad input, nothing changed by a rejected call. */
import { describe, expect, it } from "vitest";
import {
  batchNorm, compile, dropout, InputError, KilnError, layerNorm, linear, ModelError, mse, relu, residual, seq, sgd, softmaxCrossEntropy,
} from "../src/index.js";

const model = () => seq(
  linear(6, 5), layerNorm(5), relu, dropout(0.1),
  residual(seq(linear(5, 5), batchNorm(5), relu)),
  linear(5, 3),
);
const make = () => compile(model(), { inputs: 6, batch: 4, seed: 0, optimizer: sgd({ lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }) });
const x = () => new Float32Array(24).map((_, i) => Math.sin(i));
const y = () => new Int32Array([0, 1, 2, 1]);

function snapshot(net: ReturnType<typeof make>) {
  const copy = (r: Readonly<Record<string, Float32Array | BigInt64Array>>) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.slice()]));
  return { params: copy(net.params), state: copy(net.state), optim: copy(net.optimizerState), step: net.step };
}

describe("names follow PyTorch's nn.Sequential state dict", () => {
  it("params, state and optimizer buffers", () => {
    const net = make();
    expect(Object.keys(net.params)).toEqual([
      "0.weight", "0.bias", "1.weight", "1.bias", "4.fn.0.weight", "4.fn.0.bias", "4.fn.1.weight", "4.fn.1.bias", "5.weight", "5.bias",
    ]);
    expect(Object.keys(net.state)).toEqual(["4.fn.1.running_mean", "4.fn.1.running_var", "4.fn.1.num_batches_tracked"]);
    expect(net.params["0.weight"]!.length).toBe(5 * 6);
    expect(net.optimizerState["0.weight.momentum_buffer"]!.length).toBe(30);
  });

  it("nested seq and residual of a bare layer; layerNorm without affine has no parameters", () => {
    const net = compile(seq(relu, linear(3, 4), seq(linear(4, 4), layerNorm(4, { affine: false })), residual(linear(4, 4))), { inputs: 3, batch: 2 });
    expect(Object.keys(net.params)).toEqual(["1.weight", "1.bias", "2.0.weight", "2.0.bias", "3.fn.weight", "3.fn.bias"]);
  });

  it("a bare layer is a model too", () => {
    expect(Object.keys(compile(linear(3, 2, { bias: false }), { inputs: 3, batch: 1 }).params)).toEqual(["weight"]);
  });
});

describe("bad input gets a KilnError and changes nothing", () => {
  const bad: [string, (net: ReturnType<typeof make>) => unknown, RegExp][] = [
    ["short x", (n) => n.trainStep(x().subarray(0, 20), y()), /x: expected 24 values \(batch 4 × 6 features; this program was compiled for batch 4\), got 20/],
    ["NaN in x", (n) => { const v = x(); v[7] = NaN; return n.trainStep(v, y()); }, /x\[7\]: expected a finite number, got NaN/],
    ["Infinity in x", (n) => { const v = x(); v[3] = Infinity; return n.gradients(v, y()); }, /x\[3\]: expected a finite number, got Infinity/],
    ["label out of range", (n) => n.trainStep(x(), new Int32Array([0, 3, 1, 1])), /labels\[1\]: expected an integer class index in \[0, 2\], got 3/],
    ["negative label", (n) => n.trainStep(x(), [0, -1, 1, 1]), /labels\[1\]: expected an integer class index in \[0, 2\], got -1/],
    ["non-integer label", (n) => n.trainStep(x(), [0, 1.5, 1, 1]), /labels\[1\]: expected an integer class index in \[0, 2\], got 1.5/],
    ["a label given as a string", (n) => n.trainStep(x(), [0, "1", 1, 1] as never), /labels\[1\]: expected an integer class index in \[0, 2\], got string "1"/],
    ["a string in a plain array x", (n) => n.trainStep([...x()].map((t, i) => (i === 2 ? String(t) : t)) as never, y()), /x\[2\]: expected a finite number, got string "/],
    ["wrong number of labels", (n) => n.trainStep(x(), new Int32Array(3)), /labels: expected 4 values/],
    ["another batch size", (n) => n.trainStep(new Float32Array(48), new Int32Array(8)), /expected 24 values .*compiled for batch 4.*got 48/],
    ["x not an array", (n) => n.trainStep("abc" as never, y()), /x: expected a Float32Array of 24 values/],
    ["predict length not a multiple", (n) => n.predict(new Float32Array(13)), /x: expected a positive multiple of 6 values \(batch×6\), got 13/],
    ["predict empty", (n) => n.predict(new Float32Array(0)), /got 0/],
    ["predict NaN", (n) => n.predict(new Float32Array(6).fill(NaN)), /x\[0\]: expected a finite number, got NaN/],
    ["predict −∞ in a later chunk", (n) => { const v = new Float32Array(6 * 1030); v[6 * 1025 + 2] = -Infinity; return n.predict(v); },
      /x\[6152\]: expected a finite number, got -Infinity/],
    ["NaN in a plain array x", (n) => n.trainStep([...x()].map((t, i) => (i === 5 ? NaN : t)), y()), /x\[5\]: expected a finite number, got NaN/],
  ];
  for (const [name, call, message] of bad) {
    it(name, () => {
      const net = make();
      net.trainStep(x(), y()); // non-trivial momentum and running statistics
      const before = snapshot(net);
      expect(() => call(net)).toThrow(InputError);
      expect(() => call(net)).toThrow(message);
      expect(snapshot(net)).toEqual(before);
    });
  }

  it("the reference interpreter (optimize: false) checks x the same way", () => {
    const net = compile(seq(linear(6, 3)), { inputs: 6, batch: 4, optimize: false });
    const v = x(); v[9] = NaN;
    expect(() => net.trainStep(v, y())).toThrow(/x\[9\]: expected a finite number, got NaN/);
    expect(() => net.predict(v)).toThrow(/x\[9\]: expected a finite number, got NaN/);
  });

  it("mse targets are checked for length and finiteness", () => {
    const net = compile(seq(linear(2, 2)), { inputs: 2, batch: 2, loss: mse() });
    expect(() => net.trainStep([1, 2, 3, 4], [1, 2, 3])).toThrow(/labels: expected 4 values/);
    expect(() => net.trainStep([1, 2, 3, 4], [1, 2, NaN, 4])).toThrow(/targets\[2\]: expected a finite number, got NaN/);
    // Float32Array targets are checked in WebAssembly after the copy; the message is the same.
    const x = new Float32Array([1, 2, 3, 4]);
    expect(() => net.gradients(x, new Float32Array([1, 2, 3, -Infinity]))).toThrow(/targets\[3\]: expected a finite number, got -Infinity/);
    expect(net.trainStep(x, new Float32Array([1, 2, 3, 4]))).toBeGreaterThan(0);
  });

  it("gradients() and predict() change nothing", () => {
    const net = make();
    net.trainStep(x(), y());
    const before = snapshot(net);
    const { loss } = net.gradients(x(), y());
    net.predict(x());
    expect(snapshot(net)).toEqual(before);
    expect(net.trainStep(x(), y())).toBe(loss);
  });
});

describe("model errors name the layer", () => {
  it("input width mismatch names the path and the layer", () => {
    expect(() => compile(model(), { inputs: 7, batch: 4 })).toThrow(/seq\[0\] linear\(6→5\) expects 6 features, but its input has 7/);
    expect(() => compile(seq(relu, residual(seq(layerNorm(5)))), { inputs: 4, batch: 2 }))
      .toThrow(/seq\[1\]\.fn\[0\] layerNorm\(5\) expects 5 features, but its input has 4/);
  });

  it("bad compile options and hyper-parameters are ModelErrors", () => {
    expect(() => compile(model(), { inputs: 6, batch: 0 })).toThrow(/batch must be an integer in \[1, 16777216\], got number 0/);
    expect(() => compile({} as never, { inputs: 6, batch: 1 })).toThrow(ModelError);
    expect(() => compile(seq(linear(6, 3), batchNorm(3)), { inputs: 6, batch: 1 })).toThrow(/needs a training batch of at least 2, got 1/);
    expect(() => dropout(1)).toThrow(/dropout probability p must be a number in \[0, 1\), got 1/);
    expect(() => linear(0, 3)).toThrow(/linear input features must be a positive integer/);
    expect(() => layerNorm(4, { eps: -1 })).toThrow(KilnError);
    expect(() => sgd({ lr: -1 })).toThrow(/lr must be a finite number ≥ 0/);
    expect(() => sgd({ lr: 0.1, nesterov: true })).toThrow(/nesterov needs a momentum > 0/);
    expect(() => compile(linear(4096, 4096), { inputs: 4096, batch: 1 << 17 })).toThrow(/limit per tensor/);
  });

  it("a learning-rate schedule returning garbage is refused before the step", () => {
    const net = compile(linear(2, 2), { inputs: 2, batch: 1, optimizer: sgd({ lr: () => NaN }) });
    expect(() => net.trainStep([1, 2], [0])).toThrow(/schedule gave NaN at step 0/);
    expect(net.step).toBe(0);
  });
});

describe("train and eval programs", () => {
  it("batchNorm's eval output of a sample does not depend on the rest of the batch", () => {
    const net = make();
    for (let i = 0; i < 5; i++) net.trainStep(x(), y());
    const all = net.predict(x());
    const one = net.predict(x().subarray(6, 12));
    expect(Array.from(one)).toEqual(Array.from(all.subarray(3, 6)));
  });

  it("predict takes any batch size, chunking large ones", () => {
    const net = make();
    const big = new Float32Array(2500 * 6).map((_, i) => Math.cos(i));
    const out = net.predict(big);
    expect(out.length).toBe(2500 * 3);
    expect(Array.from(out.subarray(2400 * 3, 2401 * 3))).toEqual(Array.from(net.predict(big.subarray(2400 * 6, 2401 * 6))));
  });

  it("running statistics move as PyTorch's: momentum 0.1 toward the batch mean, unbiased variance", () => {
    const net = compile(batchNorm(2), { inputs: 2, batch: 4, loss: mse() });
    net.trainStep([1, 10, 2, 20, 3, 30, 6, 40], new Float32Array(8));
    const rm = net.state["running_mean"] as Float32Array, rv = net.state["running_var"] as Float32Array;
    expect(rm[0]).toBeCloseTo(0.1 * 3, 6);
    expect(rm[1]).toBeCloseTo(0.1 * 25, 5);
    expect(rv[0]).toBeCloseTo(0.9 + 0.1 * (14 / 3), 5); // deviations −2,−1,0,3 → Σ² = 14, /(n−1)
    expect(net.state["num_batches_tracked"]).toEqual(new BigInt64Array([1n]));
  });

  it("weight decay with momentum 0 is the lecture's W := (1 − αλ)W − α∇ℓ", () => {
    const net = compile(linear(3, 1, { bias: false }), { inputs: 3, batch: 1, loss: mse(), optimizer: sgd({ lr: 0.1, weightDecay: 0.5 }) });
    const w0 = net.params.weight!.slice();
    const { grads } = net.gradients([1, 2, 3], [0]);
    net.trainStep([1, 2, 3], [0]);
    for (let i = 0; i < 3; i++) expect(net.params.weight![i]).toBeCloseTo((1 - 0.1 * 0.5) * w0[i]! - 0.1 * grads.weight![i]!, 6);
  });
});

describe("memory", () => {
  it("a training step allocates no buffers after warm-up: under 128 bytes per step (heap delta over 1,000 steps, no GC, the least of three)", async () => {
    const { setFlagsFromString } = await import("node:v8");
    const { runInNewContext } = await import("node:vm");
    setFlagsFromString("--expose_gc");
    const gc = runInNewContext("gc") as () => void;
    const net = compile(seq(linear(64, 64), layerNorm(64), relu, dropout(0.2), linear(64, 64), batchNorm(64), relu, linear(64, 10)), {
      inputs: 64, batch: 32, threads: 2, optimizer: sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }),
    });
    const xs = new Float32Array(32 * 64).map((_, i) => Math.sin(i)), ys = new Int32Array(32).map((_, i) => i % 10);
    for (let i = 0; i < 2000; i++) net.trainStep(xs, ys); // warm-up: until the optimizing compiler is done
    // The heap is the isolate's: a timer or message of the test runner, or of an earlier test's
    // pool, allocates in the same window now and then (a full suite on a loaded machine measured
    // 134 bytes per step once; alone, 19 every time). Per-step garbage is in every window, so the
    // least of three windows of 1,000 steps is what the steps allocate.
    const perStep = Array.from({ length: 3 }, () => {
      gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 1000; i++) net.trainStep(xs, ys);
      return (process.memoryUsage().heapUsed - before) / 1000;
    });
    // What remains are V8's boxed numbers crossing calls (the loss returned: 16 bytes, collected
    // young); any per-step array — the smallest here is 32 floats — or closure per kernel would exceed this.
    expect(Math.min(...perStep)).toBeLessThan(128);
  });

  it("10,000 train steps leave the heap flat", async () => {
    const { setFlagsFromString } = await import("node:v8");
    const { runInNewContext } = await import("node:vm");
    setFlagsFromString("--expose_gc");
    const gc = runInNewContext("gc") as () => void;
    const net = compile(seq(linear(8, 16), layerNorm(16), relu, dropout(0.2), linear(16, 4)), {
      inputs: 8, batch: 8, optimizer: sgd({ lr: 0.01, momentum: 0.9 }), loss: softmaxCrossEntropy(),
    });
    const xs = new Float32Array(64).map((_, i) => Math.sin(i)), ys = new Int32Array(8).map((_, i) => i % 4);
    for (let i = 0; i < 1000; i++) net.trainStep(xs, ys);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10_000; i++) net.trainStep(xs, ys);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(grown).toBeLessThan(512 * 1024);
  });
});
