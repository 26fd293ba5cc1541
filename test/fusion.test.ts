/**
 * The normalization and softmax cross-entropy fusions through compile(): the optimized train,
 * gradient and eval programs agree with the reference interpreter (optimize: false) on models
 * with layerNorm (with and without affine), batchNorm and residuals, at odd batch sizes and
 * widths; and the optimized train graph of a layerNorm MLP keeps none of the primitives fused.
 */
import { describe, expect, it } from "vitest";
import { batchNorm, compile, dropout, layerNorm, linear, printIR, relu, residual, seq, sgd, type LayerNode } from "../src/index.js";
import { maxRelErr, rand } from "./helpers/run.js";

const TOL = 1e-5;

const models: [string, (w: number) => LayerNode][] = [
  ["layerNorm", (w) => seq(linear(5, w), layerNorm(w), relu, linear(w, 3))],
  ["layerNorm without affine", (w) => seq(linear(5, w), layerNorm(w, { affine: false }), linear(w, 3))],
  ["batchNorm", (w) => seq(linear(5, w), batchNorm(w), relu, linear(w, 3))],
  ["residual", (w) => seq(linear(5, w), residual(seq(layerNorm(w), linear(w, w), batchNorm(w), relu)), dropout(0.2), linear(w, 3))],
];

/** max |a − b| over max |b| of a whole family of arrays (a gradient may be 0 up to rounding). */
function familyErr(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  const scale = Math.max(1e-3, ...Object.values(b).flatMap((v) => Array.from(v, Math.abs)));
  return Math.max(...Object.keys(b).map((k) => maxRelErr(a[k]!, b[k]!, scale)));
}

describe("fused normalization and softmax cross-entropy agree with the reference", () => {
  for (const [name, make] of models) {
    for (const width of [1, 7, 33]) {
      for (const batch of [2, 7, 33]) {
        it(`${name}, width ${width}, batch ${batch}`, () => {
          const model = make(width);
          const opts = { inputs: 5, batch, seed: width + batch, optimizer: sgd({ lr: 0.05, momentum: 0.9 }) };
          const fast = compile(model, opts), ref = compile(model, { ...opts, optimize: false });
          const r = rand(31 * width + batch);
          const x = () => Float32Array.from({ length: batch * 5 }, () => 4 * r() - 1);
          const y = () => Int32Array.from({ length: batch }, () => Math.floor(r() * 3));
          const [x0, y0] = [x(), y()];
          const a = fast.gradients(x0, y0), b = ref.gradients(x0, y0);
          expect(maxRelErr([a.loss], [b.loss])).toBeLessThan(TOL);
          expect(familyErr(a.grads, b.grads)).toBeLessThan(TOL);
          for (let s = 0; s < 3; s++) {
            const [xs, ys] = [x(), y()];
            expect(maxRelErr([fast.trainStep(xs, ys)], [ref.trainStep(xs, ys)]), `step ${s}`).toBeLessThan(TOL);
          }
          expect(familyErr(fast.params, ref.params)).toBeLessThan(TOL);
          const state = (n: typeof fast) => Object.fromEntries(Object.entries(n.state).filter((e): e is [string, Float32Array] => e[1] instanceof Float32Array));
          expect(familyErr(state(fast), state(ref))).toBeLessThan(TOL);
          const xe = Float32Array.from({ length: 6 * 5 }, () => 2 * r() - 1);
          expect(maxRelErr(fast.predict(xe), ref.predict(xe))).toBeLessThan(TOL);
        });
      }
    }
  }
});

describe("the optimized train graph of a layerNorm MLP", () => {
  it("runs the normalizations and the loss as fused kernels, with no primitive left of them", () => {
    const model = seq(linear(12, 8), layerNorm(8), relu, dropout(0.1), linear(8, 8), layerNorm(8), relu, dropout(0.1), linear(8, 4));
    const net = compile(model, { inputs: 12, batch: 6, optimizer: sgd({ lr: 0.1, momentum: 0.9 }) });
    const ops = new Map<string, number>();
    for (const n of net.ir.train.nodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
    expect([ops.get("norm_forward"), ops.get("norm_backward"), ops.get("softmax_xent")]).toEqual([2, 2, 1]);
    for (const op of ["normalize", "log_softmax", "one_hot", "rsqrt", "mean", "exp"]) expect(ops.has(op), op).toBe(false);
    const text = printIR(net.ir.train);
    expect(text).toMatch(/norm_forward\[axis=1 eps=0.00001 affine=true xhat=false\]/);
    expect(text).toMatch(/norm_backward\[axis=1 affine=true\]/);
    // The eval program normalizes with the same kernel, without writing statistics it needs.
    expect(printIR(net.ir.eval)).toMatch(/norm_forward\[axis=1 eps=0.00001 affine=true xhat=false\]/);
  });
});
