/** Probes: the lecture's per-layer measurements as program outputs. */
import { describe, expect, it } from "vitest";
import { compile, dropout, layerNorm, linear, printIR, relu, residual, seq, sgd, type LayerNode } from "../src/index.js";

const layers = (): LayerNode[] => [linear(6, 8), layerNorm(8), relu, residual(seq(linear(8, 8), relu)), linear(8, 3)];
const x = new Float32Array(4 * 6).map((_, i) => Math.sin(i * 1.3));
const y = new Int32Array([0, 2, 1, 1]);
const l2 = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));
const variance = (a: ArrayLike<number>) => {
  const m = Array.from(a).reduce((s, v) => s + v, 0) / a.length;
  return Array.from(a).reduce((s, v) => s + (v - m) ** 2, 0) / a.length;
};

describe("probes", () => {
  it("agree with norms computed directly from the layers' outputs, gradients and weights", () => {
    const probes = { activationNorm: true, gradNorm: true, weightVariance: true };
    for (const optimize of [true, false]) {
      const net = compile(seq(...(layers() as [LayerNode])), { inputs: 6, batch: 4, probes, optimize, optimizer: sgd({ lr: 0.1 }) });
      const w0 = Object.fromEntries(Object.entries(net.params).map(([k, v]) => [k, v.slice()]));
      const { grads } = net.gradients(x, y);
      net.trainStep(x, y);
      const p = net.probes();
      expect(Object.keys(p.activationNorm).sort()).toEqual(["0", "1", "2", "3", "3.fn", "3.fn.0", "3.fn.1", "4"]);
      expect(Object.keys(p.gradNorm).sort()).toEqual(["0", "1", "3.fn.0", "4", "total"]);
      // The global norm over every parameter's gradient, biases and γ, β included.
      expect(p.gradNorm.total).toBeCloseTo(Math.sqrt(Object.values(grads).reduce((s, g) => s + l2(g) ** 2, 0)), 5);
      // Each prefix of the model, with the same (pre-update) weights, gives that layer's output.
      layers().forEach((_l, k) => {
        const prefix = compile(seq(...(layers().slice(0, k + 1) as [LayerNode])), { inputs: 6, batch: 4 });
        for (const name of Object.keys(prefix.params)) prefix.params[name]!.set(w0[name]!);
        expect(p.activationNorm[String(k)]).toBeCloseTo(l2(prefix.predict(x)), 4);
      });
      for (const path of ["0", "1", "3.fn.0", "4"]) {
        expect(p.gradNorm[path]).toBeCloseTo(l2(grads[`${path}.weight`]!), 5);
        expect(p.weightVariance[path]).toBeCloseTo(variance(w0[`${path}.weight`]!), 6);
      }
    }
  });

  it("leave the compiled graphs byte-for-byte unchanged when off", () => {
    const model = seq(linear(5, 4), relu, dropout(0.2), linear(4, 2));
    const plain = compile(model, { inputs: 5, batch: 3 });
    const off = compile(model, { inputs: 5, batch: 3, probes: { activationNorm: false } });
    const on = compile(model, { inputs: 5, batch: 3, probes: { activationNorm: true } });
    for (const k of ["forward", "backward", "train", "eval"] as const) expect(printIR(off.ir[k])).toBe(printIR(plain.ir[k]));
    expect(printIR(on.ir.train)).not.toBe(printIR(plain.ir.train));
    expect(printIR(on.ir.train)).toMatch(/activationNorm:0=/);
    expect(printIR(on.ir.eval)).toBe(printIR(plain.ir.eval));
  });

  it("are NaN before the first step and reject unknown kinds", () => {
    const net = compile(linear(2, 2), { inputs: 2, batch: 1, probes: { weightVariance: true } });
    expect(net.probes().weightVariance[""]).toBeNaN();
    expect(() => compile(linear(2, 2), { inputs: 2, batch: 1, probes: { norms: true } as never })).toThrow(/unknown probe "norms"/);
  });
});
