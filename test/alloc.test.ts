/**
 * Memory: a train step and a predict into the caller's array allocate nothing on the JavaScript
 * heap that grows with the model — measured with process.memoryUsage().heapUsed over 10,000
 * calls after warm-up (no GC can hide garbage that small: 10,000 × 128 bytes fits in V8's young
 * generation, so heapUsed only grows by what was allocated).
 *
 * What remains in a train step is V8's, not kiln's: a double returned from a function that is not
 * inlined is boxed (16 bytes): the loss trainStep returns, and each value of a learning-rate
 * schedule or optimizer scalar (Adam's bias corrections) read per step.
 */
import { describe, expect, it } from "vitest";
import { adam, batchNorm, compile, cosine, dropout, layerNorm, linear, mse, relu, seq, sgd, type Net } from "../src/index.js";

const STEPS = 10_000;

/** Heap bytes per call of f over STEPS calls (least of four rounds: a JIT tier-up may allocate once). */
function bytesPerCall(f: () => void): number {
  for (let i = 0; i < 1000; i++) f();
  let least = Infinity;
  for (let round = 0; round < 4; round++) {
    const h0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < STEPS; i++) f();
    least = Math.min(least, (process.memoryUsage().heapUsed - h0) / STEPS);
  }
  return least;
}

function nets(): [string, Net, number, number][] {
  const small = seq(linear(20, 32), relu, linear(32, 5));
  const deep = seq(dropout(0.1), linear(20, 32), layerNorm(32), relu, linear(32, 32), batchNorm(32), relu,
    ...Array.from({ length: 4 }, () => linear(32, 32)), linear(32, 5));
  return [
    ["3 layers, sgd", compile(small, { inputs: 20, batch: 16, threads: 1, optimizer: sgd({ lr: 0.01, momentum: 0.9 }) }), 20, 5],
    ["13 layers with dropout and both norms, adam on a cosine schedule",
      compile(deep as never, { inputs: 20, batch: 16, threads: 1, optimizer: adam({ lr: cosine({ from: 1e-3, to: 0, steps: 50_000 }) }) }), 20, 5],
  ];
}

describe("no JavaScript allocation per call", () => {
  for (const [name, net, inputs, outputs] of nets()) {
    it(`train step and predict(x, out): ${name}`, () => {
      const x = Float32Array.from({ length: 16 * inputs }, (_, i) => Math.sin(i));
      const y = Int32Array.from({ length: 16 }, (_, i) => i % outputs);
      let sum = 0;
      const train = bytesPerCall(() => { sum += net.trainStep(x, y); });
      expect(Number.isFinite(sum)).toBe(true);
      // A few boxed doubles (16 bytes each: the loss, lr, Adam's two scalars, and what V8 boxes
      // before trainStep is optimized), whatever the model's size: one closure or array per
      // kernel call would be ≥ 16 bytes × the 10–30 kernels of these programs.
      expect(train).toBeLessThan(128);
      const xe = Float32Array.from({ length: 3 * inputs }, (_, i) => Math.cos(i)), out = new Float32Array(3 * outputs);
      const predict = bytesPerCall(() => net.predict(xe, out));
      expect(predict).toBeLessThan(1);
      expect(Array.from(out)).toEqual(Array.from(net.predict(xe)));
    }, 120_000); // ~3 s on an idle machine; generous for a loaded one
  }

  it("gradients into the caller's arrays: the same numbers, in those arrays", () => {
    const [, net] = nets()[1]!;
    const x = Float32Array.from({ length: 16 * 20 }, (_, i) => Math.sin(i)), y = Int32Array.from({ length: 16 }, (_, i) => i % 5);
    const fresh = net.gradients(x, y, { input: true });
    const grads = Object.fromEntries(Object.entries(net.params).map(([k, p]) => [k, new Float32Array(p.length)]));
    const out = { grads, inputGrad: new Float32Array(16 * 20) };
    const got = net.gradients(x, y, { input: true, out });
    expect(got.grads).toBe(grads);
    expect(got.inputGrad).toBe(out.inputGrad);
    expect(got.loss).toBe(fresh.loss);
    for (const k of Object.keys(fresh.grads)) expect(Array.from(grads[k]!), k).toEqual(Array.from(fresh.grads[k]!));
    expect(Array.from(out.inputGrad)).toEqual(Array.from(fresh.inputGrad));
    // Filled again, in place: a second call's numbers replace the first's.
    for (const g of Object.values(grads)) g.fill(NaN);
    net.gradients(x, y, { out: { grads } });
    for (const k of Object.keys(fresh.grads)) expect(Array.from(grads[k]!), k).toEqual(Array.from(fresh.grads[k]!));
  });

  it("gradients refuses an out it cannot fill, before anything runs", () => {
    const [, net] = nets()[0]!;
    const x = new Float32Array(16 * 20), y = new Int32Array(16);
    const grads = () => Object.fromEntries(Object.entries(net.params).map(([k, p]) => [k, new Float32Array(p.length)]));
    const step = net.step;
    expect(() => net.gradients(x, y, { out: null as never })).toThrow(/gradients: out must be \{ grads: \{ <parameter>: Float32Array, … \} \}, got null/);
    expect(() => net.gradients(x, y, { out: { grads: { ...grads(), "0.weight": new Float32Array(3) } } })).toThrow(/out.grads\["0.weight"\] must be a Float32Array of 640 values \(the parameter's\), got Float32Array\(3\)/);
    expect(() => net.gradients(x, y, { out: { grads: { ...grads(), "9.weight": new Float32Array(3) } } })).toThrow(/out.grads has no parameter "9.weight" \(parameters: 0.weight, 0.bias, 2.weight, 2.bias\)/);
    // A misspelt name is named (it was reported as the parameter it left missing, "got undefined").
    const { "0.weight": w0, ...rest } = grads();
    expect(() => net.gradients(x, y, { out: { grads: { ...rest, "0.weigth": w0! } } })).toThrow(/out.grads has no parameter "0.weigth" \(parameters: 0.weight, 0.bias, 2.weight, 2.bias\)/);
    expect(() => net.gradients(x, y, { input: true, out: { grads: grads() } })).toThrow(/out.inputGrad must be a Float32Array of 320 values \(x's\), got undefined/);
    expect(() => net.gradients(x, y, { out: { grads: grads(), inputGrad: new Float32Array(320) } })).toThrow(/out.inputGrad is filled only with \{ input: true \}/);
    // One array for two parameters of the same size (the deep net's 32×32 layers).
    const [, deep] = nets()[1]!;
    const mine = Object.fromEntries(Object.entries(deep.params).map(([k, p]) => [k, new Float32Array(p.length)]));
    const [a, b] = Object.keys(mine).filter((k) => mine[k]!.length === 1024);
    expect(() => deep.gradients(x, y, { out: { grads: { ...mine, [b!]: mine[a!]! } } })).toThrow(new RegExp(`out.grads\\["${a}"\\] and out.grads\\["${b}"\\] are the same array`));
    // Views of one buffer: side by side (a flat gradient vector) they are filled as separate
    // arrays; overlapping by one float, refused (the later one would overwrite the earlier).
    const names = Object.keys(deep.params), total = names.reduce((t, k) => t + deep.params[k]!.length, 0);
    const flat = new Float32Array(total), packed: Record<string, Float32Array> = {}, skewed: Record<string, Float32Array> = {};
    let at = 0;
    for (const k of names) { const n = deep.params[k]!.length; packed[k] = flat.subarray(at, at + n); skewed[k] = flat.subarray(Math.max(0, at - 1), Math.max(0, at - 1) + n); at += n; }
    const ref = deep.gradients(x, y).grads;
    deep.gradients(x, y, { out: { grads: packed } });
    for (const k of names) expect(Array.from(packed[k]!), k).toEqual(Array.from(ref[k]!));
    flat.fill(7);
    expect(() => deep.gradients(x, y, { out: { grads: skewed } })).toThrow(new RegExp(`out.grads\\["${names[0]}"\\] and out.grads\\["${names[1]}"\\] share memory`));
    expect(flat.every((v) => v === 7)).toBe(true);
    // The network's own arrays as out: refused, the parameters untouched.
    const before = Object.fromEntries(Object.entries(net.params).map(([k, p]) => [k, p.slice()]));
    expect(() => net.gradients(x, y, { out: { grads: { ...net.params } } })).toThrow(/out.grads\["0.weight"\] is a view of the network's own memory \(net.params, net.state, net.optimizerState\)/);
    for (const [k, p] of Object.entries(net.params)) expect(Array.from(p), k).toEqual(Array.from(before[k]!));
    expect(net.step).toBe(step);
  });

  it("the reference interpreter's optimizer buffers (arrays of their own, outside an arena) are refused as out too", () => {
    // Without the check, gradients filled the momentum buffers with gradients and the next step used them.
    const net = compile(seq(linear(4, 3)), { inputs: 4, batch: 2, seed: 0, optimize: false, loss: mse(), optimizer: sgd({ lr: 0.1, momentum: 0.9 }) });
    const x = new Float32Array(8).fill(1), y = new Float32Array(6).fill(0.5);
    net.trainStep(x, y);
    const m = net.optimizerState, before = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.slice()]));
    expect(() => net.gradients(x, y, { out: { grads: { "0.weight": m["0.weight.momentum_buffer"]!, "0.bias": m["0.bias.momentum_buffer"]! } } }))
      .toThrow(/out.grads\["0.weight"\] is a view of the network's own memory/);
    expect(() => net.predict(new Float32Array(4), m["0.bias.momentum_buffer"]!)).toThrow(/predict: out is a view of the network's own memory/);
    for (const [k, v] of Object.entries(m)) expect(Array.from(v), k).toEqual(Array.from(before[k]!));
  });

  it("predict refuses an out array of the wrong size or type", () => {
    const [, net] = nets()[0]!;
    const xe = new Float32Array(2 * 20);
    expect(() => net.predict(xe, new Float32Array(9))).toThrow(/predict: out must be a Float32Array of 10 values \(2 samples × 5 outputs\), got Float32Array\(9\)/);
    expect(() => net.predict(xe, new Float64Array(10) as never)).toThrow(/got Float64Array\(10\)/);
    // A view of the network's own memory of the right length: refused, the bias untouched.
    const bias = net.params["2.bias"]!, before = bias.slice();
    expect(() => net.predict(xe.subarray(0, 20), bias)).toThrow(/predict: out is a view of the network's own memory/);
    expect(Array.from(bias)).toEqual(Array.from(before));
  });
});
