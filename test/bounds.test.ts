/**
 * Kernels that write through byte offsets never write past their buffers (issue 9): widths at the
 * edges of every split and scratch rule run correctly against the reference interpreter, and a
 * call whose buffers are too short for its parameters is refused when the program is made.
 */
import { describe, expect, it } from "vitest";
import { batchNorm, compile, KilnError, layerNorm, mse, seq, sgd, type LayerNode } from "../src/index.js";
import { Arena } from "../runtime/arena.js";
import { kernels } from "../runtime/kernels/index.js";
import { SGEMM_SCRATCH_BYTES } from "../runtime/wasm/sgemm.js";
import { maxRelErr, rand } from "./helpers/run.js";

/**
 * Loss and gradients of the optimized 2-thread net against the reference interpreter (the inputs
 * are tens of millions of floats: one call each keeps the test in seconds). `tol` is 1e-5, or
 * 1e-4 where a sum runs over millions of float32 terms.
 */
function agrees(model: LayerNode, inputs: number, batch: number, tol = 1e-5): void {
  const opts = { inputs, batch, seed: 1, loss: mse(), optimizer: sgd({ lr: 0.1 }) };
  const fast = compile(model, { ...opts, threads: 2 }), ref = compile(model, { ...opts, optimize: false });
  const r = rand(inputs + batch);
  const x = new Float32Array(batch * inputs), y = new Float32Array(batch * inputs);
  for (let i = 0; i < x.length; i++) { x[i] = 4 * r() - 2; y[i] = r(); }
  const before = Object.fromEntries(Object.entries(fast.params).map(([k, v]) => [k, v.slice()]));
  const a = fast.gradients(x, y), b = ref.gradients(x, y);
  // Nothing but the gradients is written: a kernel writing past its scratch would land in a neighbour (the parameters).
  for (const [k, v] of Object.entries(before)) expect(fast.params[k]!.every((p, i) => Object.is(p, v[i])), `${k} unchanged`).toBe(true);
  expect(maxRelErr([a.loss], [b.loss]), "loss").toBeLessThan(tol);
  for (const k of Object.keys(b.grads)) expect(maxRelErr(a.grads[k]!, b.grads[k]!), k).toBeLessThan(tol);
  fast.dispose();
}

const SLOW = 180_000;

describe("widths at the edges of split and scratch rules", () => {
  // layerNorm's 2-thread backward puts the second half's dγ, dβ (2·cols floats) in a thread's
  // sgemm scratch: one width that just fits, one past it by more than the 64-byte alignment padding (runs unsplit).
  const fitsCols = Math.floor(SGEMM_SCRATCH_BYTES / 8);
  for (const cols of [fitsCols, fitsCols + 16]) {
    it(`layerNorm(${cols}) at batch 64 (split rows; partial dγ/dβ ${8 * cols} bytes of ${SGEMM_SCRATCH_BYTES})`, () => {
      agrees(seq(layerNorm(cols), layerNorm(cols)), cols, 64); // the second one's backward needs dx: norm_backward
    }, SLOW);
  }
  it("the widest layerNorm the IR allows, layerNorm(2^24), at batch 1", () => agrees(seq(layerNorm(2 ** 24)), 2 ** 24, 1, 1e-4), SLOW);
  it("the widest batchNorm the IR allows, batchNorm(2^24), at batch 2", () => agrees(seq(batchNorm(2 ** 24)), 2 ** 24, 2, 1e-4), SLOW);
});

describe("a kernel call whose buffers are too short is refused at prepare time", () => {
  const arena = new Arena(2);
  const f32 = (n: number) => arena.f32(arena.allocPersistent(4 * n), n);
  const ctx = () => arena.context;
  it("linear: Y shorter than M·N", () => {
    const [a, w, bias, y] = [f32(4 * 8), f32(16 * 8), f32(16), f32(4 * 16 - 1)];
    expect(() => kernels.linear.prepare!([a, w, bias, y], [4, 16, 8, 0, 1, 0], ctx())).toThrow(KilnError);
    expect(() => kernels.linear.prepare!([a, w, bias, y], [4, 16, 8, 0, 1, 0], ctx())).toThrow(/Y holds 63 floats, but the call would touch 64/);
  });
  it("norm_backward: a statistics buffer shorter than the rows", () => {
    const n = 64 * 32;
    const bufs = [f32(n), f32(n), f32(63), f32(64), f32(32), f32(n), f32(32), f32(32)];
    expect(() => kernels.normBackward.prepare!(bufs, [64, 32, 1, 1], ctx())).toThrow(/norm_backward: buffer 2 holds 63 floats/);
  });
  it("norm_forward: an output shorter than the input", () => {
    const bufs = [f32(64 * 32), f32(64 * 32 - 4), f32(64), f32(64), f32(64)];
    expect(() => kernels.normForward.prepare!(bufs, [64, 32, 1, 1e-5, 0, 0], ctx())).toThrow(KilnError);
  });
  it("reduceSum: column sums into too few columns", () => {
    expect(() => kernels.reduceSum.prepare!([f32(64), f32(7)], [1, 2, 8, 8, 0, 1], ctx())).toThrow(KilnError);
  });
});

describe("the kernels added since: softmax cross-entropy and copy check their buffers too", () => {
  const arena = new Arena(1);
  const f32 = (n: number) => arena.f32(arena.allocPersistent(4 * n), n);
  it("softmax_xent: dz shorter than rows·classes", () => {
    const labels = arena.i32(arena.allocPersistent(4 * 8), 8);
    expect(() => kernels.softmaxXent.prepare!([f32(80), labels, f32(1), f32(79)], [8, 10, 0.125, -0.125], arena.context)).toThrow(/softmax_xent: dz holds 79 floats/);
  });
  it("copy: a source shorter than the destination", () => {
    expect(() => kernels.copy.prepare!([f32(9), f32(10)], [], arena.context)).toThrow(/copy: x holds 9 floats/);
  });
});
