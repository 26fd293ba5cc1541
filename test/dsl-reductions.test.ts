/**
 * T.min and T.logsumexp: values against float64 references, PyTorch's gradient rules (min's to
 * the first minimum, as torch.min(dim); logsumexp's the softmax), keepdims either way, and no
 * overflow where exp of the input would.
 */
import { describe, expect, it } from "vitest";
import { javascriptSteps } from "./helpers/run.js";
import { compile, layer, lossFn, seq, type T } from "../src/index.js";

const sum = lossFn("sum", (out: T) => out.sum());

/** predict and the input gradient of sum(f(x)) for x [2, n] → [2, m], optimized and on the reference. */
function run(n: number, m: number, f: (x: T) => T, x: Float32Array) {
  return [true, false].map((optimize) => {
    const net = compile(seq(layer({ name: "f", in: n, out: m, apply: (_p, t) => f(t) })), { inputs: n, batch: 2, loss: sum, optimize, threads: 1 });
    return { net, y: net.predict(x), g: net.gradients(x, new Float32Array(2 * m), { input: true }).inputGrad! };
  });
}

describe("min", () => {
  it("is the minimum along the axis; its gradient goes to the first minimal element (torch.min(dim))", () => {
    const x = Float32Array.of(3, -1, 2, -1, 5, 0, 0, 7);
    const [opt, ref] = run(4, 1, (t) => t.min(1, { keepdims: true }), x);
    for (const { y, g } of [opt!, ref!]) {
      expect([...y]).toEqual([-1, 0]);
      expect([...g]).toEqual([0, 1, 0, 0, 0, 1, 0, 0]); // the first -1 and the first 0
    }
    expect(javascriptSteps(opt!.net)).toEqual([]);
    const [all] = run(4, 1, (t) => t.min().reshape([1, 1]).add(t.slice(1, 0, 1).mul(0)), x);
    expect([...all!.y]).toEqual([-1, -1]);
  });
});

describe("logsumexp", () => {
  it("is log Σ exp without overflow (inputs near 1000), with the softmax as its gradient", () => {
    const x = Float32Array.of(1000, 999, 998.5, 1, -2, 0.5);
    for (const { y, g } of run(3, 1, (t) => t.logsumexp(1, { keepdims: true }), x)) {
      for (let r = 0; r < 2; r++) {
        const row = [...x.subarray(3 * r, 3 * r + 3)], top = Math.max(...row);
        const lse = top + Math.log(row.reduce((a, v) => a + Math.exp(v - top), 0));
        expect(Math.abs(y[r]! - lse)).toBeLessThanOrEqual(1e-6 * Math.abs(lse) + 1e-6);
        row.forEach((v, j) => expect(Math.abs(g[3 * r + j]! - Math.exp(v - lse))).toBeLessThan(1e-6));
      }
    }
  });

  it("keeps or drops the axis; over all axes it is one number", () => {
    const x = Float32Array.of(0.5, -1, 2, 0, 1, -0.25);
    const [kept] = run(3, 1, (t) => t.logsumexp(-1, { keepdims: true }), x);
    const [dropped] = run(3, 1, (t) => t.logsumexp(1).reshape([t.shape[0]!, 1]), x);
    expect([...dropped!.y]).toEqual([...kept!.y]);
    const [whole] = run(3, 1, (t) => t.logsumexp().reshape([1, 1]).add(t.slice(1, 0, 1).mul(0)), x);
    const lse = Math.log([...x].reduce((a, v) => a + Math.exp(v), 0));
    expect(Math.abs(whole!.y[0]! - lse)).toBeLessThan(1e-6);
  });
});
