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
/**
 * A cross-entropy near 0 is a difference of O(1) terms (z_label − logΣexp z), so its rounding
 * is relative to 1, not to the small result.
 */
const LOSS_FLOOR = 1;

/** [name, model of a width, has a batchNorm] */
const models: [string, (w: number) => LayerNode, boolean][] = [
  ["layerNorm", (w) => seq(linear(5, w), layerNorm(w), relu, linear(w, 3)), false],
  ["layerNorm without affine", (w) => seq(linear(5, w), layerNorm(w, { affine: false }), linear(w, 3)), false],
  ["batchNorm", (w) => seq(linear(5, w), batchNorm(w), relu, linear(w, 3)), true],
  ["residual", (w) => seq(linear(5, w), residual(seq(layerNorm(w), linear(w, w), batchNorm(w), relu)), dropout(0.2), linear(w, 3)), true],
];

/**
 * Over a batch of 2, x̂ = ±σ/√(σ² + ε) and batchNorm's input gradient is
 * (g₁ − g₂)/2 · ε/(σ² + ε)^(3/2): pure cancellation, so three steps of training amplify
 * rounding whichever kernels run (one input element moved by 1 ulp moves the reference's
 * running statistics by ~3e-5, and a different matmul summation order by ~1e-4).
 */
const tolerance = (batch: number, hasBatchNorm: boolean) => (batch === 2 && hasBatchNorm ? 1e-3 : TOL);

/** max |a − b| over max |b| of a whole family of arrays (a gradient may be 0 up to rounding). */
function familyErr(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  const scale = Math.max(1e-3, ...Object.values(b).flatMap((v) => Array.from(v, Math.abs)));
  return Math.max(...Object.keys(b).map((k) => maxRelErr(a[k]!, b[k]!, scale)));
}

describe("fused normalization and softmax cross-entropy agree with the reference", () => {
  for (const [name, make, hasBatchNorm] of models) {
    for (const width of [1, 7, 33]) {
      for (const batch of [2, 7, 33]) {
        it(`${name}, width ${width}, batch ${batch}`, () => {
          const model = make(width), tol = tolerance(batch, hasBatchNorm);
          const opts = { inputs: 5, batch, seed: width + batch, optimizer: sgd({ lr: 0.05, momentum: 0.9 }) };
          const fast = compile(model, opts), ref = compile(model, { ...opts, optimize: false });
          const r = rand(31 * width + batch);
          const x = () => Float32Array.from({ length: batch * 5 }, () => 4 * r() - 1);
          const y = () => Int32Array.from({ length: batch }, () => Math.floor(r() * 3));
          const [x0, y0] = [x(), y()];
          const a = fast.gradients(x0, y0), b = ref.gradients(x0, y0);
          expect(maxRelErr([a.loss], [b.loss], LOSS_FLOOR)).toBeLessThan(tol);
          expect(familyErr(a.grads, b.grads)).toBeLessThan(tol);
          for (let s = 0; s < 3; s++) {
            const [xs, ys] = [x(), y()];
            expect(maxRelErr([fast.trainStep(xs, ys)], [ref.trainStep(xs, ys)], LOSS_FLOOR), `step ${s}`).toBeLessThan(tol);
          }
          expect(familyErr(fast.params, ref.params)).toBeLessThan(tol);
          const state = (n: typeof fast) => Object.fromEntries(Object.entries(n.state).filter((e): e is [string, Float32Array] => e[1] instanceof Float32Array));
          expect(familyErr(state(fast), state(ref))).toBeLessThan(tol);
          const xe = Float32Array.from({ length: 6 * 5 }, () => 2 * r() - 1);
          expect(maxRelErr(fast.predict(xe), ref.predict(xe))).toBeLessThan(tol);
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
    // Statistics only: relu's loop (and the backward's relu gate) recompute the normalized values.
    expect(text).toMatch(/norm_forward\[axis=1 eps=0.00001 affine=false xhat=false y=false\]/);
    expect(text).toMatch(/norm_backward\[axis=1 affine=true\]/);
    // The eval program too.
    expect(printIR(net.ir.eval)).toMatch(/norm_forward\[axis=1 eps=0.00001 affine=false xhat=false y=false\]/);
  });
});
