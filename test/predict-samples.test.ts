/**
 * predict() on more samples than one eval piece (1024): a model whose user code mixes the
 * samples (a mean over the batch, a product contracting it) must see all of them as one batch,
 * not each piece by itself; a per-sample model still goes in pieces (compiler/ir/samples.ts).
 */
import { describe, expect, it } from "vitest";
import {
  batchNorm, cat, compile, concat, dropout, fn, gelu, layer, layerNorm, leakyRelu, linear, relu, residual, seq, sigmoid, silu, tanh, type T,
} from "../src/index.js";

const N = 1500; // 1024 + 476

/** A deterministic batch in [-1, 1], its second part shifted so that piece statistics differ. */
function floats(n: number, width: number): Float32Array {
  let s = 7;
  return Float32Array.from({ length: n * width }, (_v, i) => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1 + (i >= 1024 * width ? 3 : 0));
}

type Model = Parameters<typeof compile>[0];
const evalPrograms = (m: Model, inputs: number): string[] => {
  const net = compile(m, { inputs, batch: 4 });
  net.predict(floats(N, inputs));
  return [...net.programs().keys()].filter((k) => k.startsWith("eval")).sort();
};

const center = fn("center", (x) => x.sub(x.mean(0, { keepdims: true })));
const gram = layer({
  name: "gram", in: 3, out: 3, params: { w: { shape: [3, 3] } },
  apply: (p, x) => x.matmul(x.matmul(x.matmul(p.w), { transposeA: true })).div(x.shape[0]!),
});
const batchMax = fn("batchMax", (x) => x.sub(x.max(0)));
const allMean = fn("allMean", (x) => x.sub(x.mean()));
const outer = fn("outer", (x) => x.matmul(x, { transposeB: true }).matmul(x).div(x.shape[0]!));
const shifted = fn("shifted", (x) => cat([x.slice(0, 1), x.slice(0, 0, 1)], 0));
const swish = fn("swish", (x) => x.mul(x.sigmoid()));
const rows = fn("softmaxRows", (x: T) => { const e = x.sub(x.max(-1, { keepdims: true })).exp(); return e.div(e.sum(-1, { keepdims: true })); });
const glu = layer({
  name: "glu", in: 3, out: 3, params: { weight: { shape: [6, 3] }, bias: { shape: [6] } },
  apply: (p, x) => { const h = x.matmul(p.weight, { transposeB: true }).add(p.bias); return h.slice(1, 0, 3).mul(h.slice(1, 3, 6).sigmoid()); },
});
const colScale = layer({ name: "colScale", in: 3, out: 3, params: { g: { shape: [1, 3] } }, apply: (p, x) => x.mul(p.g).add(x.sum(1, { keepdims: true })) });

describe("predict on more than one piece of samples", () => {
  it("gives a batch-mixing model all samples at once: the rows equal one evaluation of the whole batch", () => {
    const net = compile(seq(linear(3, 2), center), { inputs: 3, batch: 4 });
    const x = floats(N, 3);
    const y = net.predict(x);
    const w = net.params["0.weight"]!, b = net.params["0.bias"]!;
    // float64: h = x·Wᵀ + b, then each column minus its mean over all N samples
    const h = Array.from({ length: N * 2 }, (_v, k) => {
      const i = Math.floor(k / 2), j = k % 2;
      return b[j]! + w[j * 3]! * x[i * 3]! + w[j * 3 + 1]! * x[i * 3 + 1]! + w[j * 3 + 2]! * x[i * 3 + 2]!;
    });
    const mean = [0, 1].map((j) => h.filter((_v, k) => k % 2 === j).reduce((s, v) => s + v, 0) / N);
    let worst = 0;
    h.forEach((v, k) => { worst = Math.max(worst, Math.abs(y[k]! - (v - mean[k % 2]!))); });
    expect(worst).toBeLessThan(1e-5); // in pieces, rows 0–1023 lack the shifted samples' mean: off by ~1
    expect([...net.programs().keys()].filter((k) => k.startsWith("eval"))).toEqual(["eval[1500]"]);
  });

  it("finds the user code that mixes samples: reductions, products and slices over the batch", () => {
    for (const m of [seq(linear(3, 3), center), seq(gram), seq(batchMax), seq(allMean), seq(outer), seq(shifted),
      seq(linear(3, 3), relu, residual(seq(linear(3, 3), center)))] as Model[]) {
      expect(evalPrograms(m, 3)).toEqual(["eval[1500]"]);
    }
  });

  it("still splits a per-sample model, built-in layers and user code alike", () => {
    const models = [
      seq(linear(3, 4), relu, linear(4, 3)),
      seq(linear(3, 4), batchNorm(4), layerNorm(4), dropout(0.5), gelu, linear(4, 3)),
      seq(residual(seq(linear(3, 3), tanh)), concat(seq(linear(3, 2), sigmoid), silu), leakyRelu(0.1), linear(5, 3)),
      seq(swish, glu, rows, colScale, gelu({ approximate: "tanh" })),
    ] as Model[];
    for (const m of models) expect(evalPrograms(m, 3)).toEqual(["eval[1024]", "eval[476]"]);
  });

  it("reads x before writing an out that shares its bytes (predict(x, x), an out over a buffer x views)", () => {
    // 3 inputs → 8 outputs: the first piece's outputs cover samples of the second piece's inputs,
    // which were read after them (half the outputs wrong) until x was read into a copy first.
    const net = compile(seq(linear(3, 8), tanh), { inputs: 3, batch: 4, seed: 1 });
    const buf = new Float32Array(N * 8);
    buf.set(floats(N, 3));
    const x = buf.subarray(0, N * 3), want = net.predict(x.slice());
    expect(net.predict(x, buf)).toEqual(want);
    const square = compile(seq(linear(3, 3)), { inputs: 3, batch: 4, seed: 1 });
    const y = floats(N, 3), wantY = square.predict(y.slice());
    expect(square.predict(y, y)).toEqual(wantY); // in place
  });
});
