/**
 * Issue 10's example, as written: user fn, user layer, concat, the built-in activations, BCE on
 * logits, input gradients, and the parameter names.
 */
import { describe, expect, it } from "vitest";
import {
  seq, linear, layer, fn, concat, tanh, sigmoid, gelu, leakyRelu, silu, relu,
  binaryCrossEntropy, huber, l1, lossFn, cat, sgd, init, compile, printIR,
} from "../src/index.js";

void [sigmoid, silu, relu, huber, l1, lossFn, cat];

// a shape-preserving elementwise function, written with kiln's tensor expressions
const swish = fn("swish", (x) => x.mul(x.sigmoid()));

// a layer with its own parameters (names land in the state dict as "<path>.<param>")
const glu = (n: number) => layer({
  name: "glu", in: n, out: n,
  params: { weight: { shape: [2 * n, n], init: init.xavier() }, bias: { shape: [2 * n], init: init.zeros() } },
  apply: (p, x) => {
    const h = x.matmul(p.weight, { transposeB: true }).add(p.bias);     // [batch, 2n]
    return h.slice(1, 0, n).mul(h.slice(1, n, 2 * n).sigmoid());         // [batch, n]
  },
});

const model = seq(
  linear(20, 64), gelu, concat(seq(linear(64, 32), tanh), seq(linear(64, 16), swish)),   // 48 features
  glu(48), leakyRelu(0.1), linear(48, 1),
);

function data(batch: number, inputs: number): { x: Float32Array; targets: Float32Array } {
  let s = 12345;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const x = Float32Array.from({ length: batch * inputs }, () => r() * 2 - 1);
  // A learnable rule: the target is 1 when the first feature exceeds the second.
  const targets = Float32Array.from({ length: batch }, (_v, i) => (x[i * inputs]! > x[i * inputs + 1]! ? 1 : 0));
  return { x, targets };
}

describe("issue 10's example", () => {
  it("runs as written: train step, input gradients, names, printIR", () => {
    const net = compile(model, { inputs: 20, batch: 32, seed: 0,
      loss: binaryCrossEntropy({ logits: true }), optimizer: sgd({ lr: 0.1 }) });
    const { x, targets } = data(32, 20);
    const first = net.trainStep(x, targets);                                 // targets: Float32Array in [0, 1], shaped like the output
    expect(Number.isFinite(first)).toBe(true);
    const { grads, inputGrad } = net.gradients(x, targets, { input: true });   // inputGrad: dLoss/dx, x's shape
    expect(inputGrad.length).toBe(x.length);
    expect(inputGrad.some((g) => g !== 0)).toBe(true);
    expect(Object.keys(grads).sort()).toEqual(Object.keys(net.params).sort());
    expect(net.params["2.0.0.weight"]!.length).toBe(32 * 64);             // concat branches are "<i>.<branch>.<…>"
    expect(net.params["2.1.0.bias"]!.length).toBe(16);
    expect(net.params["3.weight"]!.length).toBe(96 * 48);
    expect(net.params["3.bias"]!.length).toBe(96);
    expect(Object.keys(net.params)).toEqual([
      "0.weight", "0.bias", "2.0.0.weight", "2.0.0.bias", "2.1.0.weight", "2.1.0.bias", "3.weight", "3.bias", "5.weight", "5.bias",
    ]);
    const text = printIR(net.ir.train);                                      // swish and glu appear as ordinary primitives, fused
    expect(text).toContain("fused_elementwise");
    expect(printIR(net.ir.forward)).toContain(`# fn "swish" at 2.1.1`);
    expect(printIR(net.ir.forward)).toContain(`# layer "glu" at 3`);
    // It learns the rule: the loss falls over a few dozen steps on the same batch.
    let last = first;
    for (let i = 0; i < 60; i++) last = net.trainStep(x, targets);
    expect(last).toBeLessThan(first * 0.7);
  });

  it("input gradients match finite differences of the loss (float32 program, central differences)", () => {
    const net = compile(model, { inputs: 20, batch: 4, seed: 3, loss: binaryCrossEntropy({ logits: true }), optimizer: sgd({ lr: 0.1 }) });
    const { x, targets } = data(4, 20);
    const { inputGrad } = net.gradients(x, targets, { input: true });
    const h = 1e-2;
    for (const i of [0, 7, 21, 79]) {
      const xp = Float32Array.from(x), xm = Float32Array.from(x);
      xp[i]! += h; xm[i]! -= h;
      const fd = (net.gradients(xp, targets).loss - net.gradients(xm, targets).loss) / (2 * h);
      expect(Math.abs(fd - inputGrad[i]!)).toBeLessThan(2e-3 + 2e-2 * Math.abs(fd));
    }
  });
});
