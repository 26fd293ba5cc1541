/**
 * The primitives of the open DSL (issue 10) at the points finite differences cannot check: the
 * gradients at non-differentiable points follow PyTorch (abs'(0) = 0, ties of maximum/minimum
 * split the gradient, max sends it to the first maximal element), the float64 erf against
 * Python's math.erf, and every bad shape or attribute is a GraphError naming the op.
 */
import { describe, expect, it } from "vitest";
import { differentiate } from "../compiler/autodiff.js";
import { GraphBuilder } from "../compiler/ir/builder.js";
import type { V } from "../compiler/ir/types.js";
import { erf } from "../runtime/kernels/math.js";
import { GraphError } from "../runtime/errors.js";
import { maxRelErr, runGraph } from "./helpers/run.js";

/** Value and gradient of Σ f(x)·w at the given x (float64 reference interpreter). */
function valueAndGrad(shape: number[], x: number[], f: (b: GraphBuilder, x: V) => V, w?: number[]) {
  const b = new GraphBuilder();
  const xv = b.input("x", "param", { shape, dtype: "f32" });
  const y = f(b, xv);
  const wv = b.input("w", "data", b.type(y));
  b.output("y", "probe", y);
  b.output("loss", "loss", b.sum(b.mul(y, wv), b.type(y).shape.map((_d, i) => i)));
  const g = differentiate(b.build(), "loss", ["x"]);
  const n = b.type(y).shape.reduce((p, q) => p * q, 1);
  const out = runGraph(g, { x, w: w ?? new Array<number>(n).fill(1) });
  return { y: Array.from(out.y!), grad: Array.from(out["x.grad"]!) };
}

describe("gradients at non-differentiable points follow PyTorch", () => {
  it("abs'(0) = 0 and sign' = 0", () => {
    expect(valueAndGrad([4], [-2, 0, -0, 3], (b, x) => b.abs(x)).grad.map((v) => v + 0)).toEqual([-1, 0, 0, 1]);
    expect(valueAndGrad([3], [-2, 0, 3], (b, x) => b.sign(x))).toEqual({ y: [-1, 0, 1], grad: [0, 0, 0] });
  });
  it("maximum and minimum split the gradient on ties", () => {
    // f(x) = maximum(x, c) with c = [1, 2, 3]: x = [1, 5, 0] ties at 0, wins at 1, loses at 2.
    const c = (b: GraphBuilder) => b.add(b.constant(0, [3]), b.reshape(b.concat([b.scalar(1), b.scalar(2), b.scalar(3)].map((s) => b.reshape(s, [1])), 0), [3]));
    expect(valueAndGrad([3], [1, 5, 0], (b, x) => b.maximum(x, c(b)))).toEqual({ y: [1, 5, 3], grad: [0.5, 1, 0] });
    expect(valueAndGrad([3], [1, 5, 0], (b, x) => b.minimum(x, c(b)))).toEqual({ y: [1, 2, 0], grad: [0.5, 0, 1] });
    // maximum(x, x) = x: the two halves add up to the whole gradient.
    expect(valueAndGrad([2], [3, -1], (b, x) => b.maximum(x, x)).grad).toEqual([1, 1]);
  });
  it("max sends the gradient to the first maximal element", () => {
    expect(valueAndGrad([2, 4], [1, 3, 3, 2, 5, 5, 5, 5], (b, x) => b.max(x, [1]), [10, 20])).toEqual({ y: [3, 5], grad: [0, 10, 0, 0, 20, 0, 0, 0] });
    // Over axis 0 of [2, 3] (a strided reduction) and over both axes of a [2, 2, 2] with non-contiguous axes.
    expect(valueAndGrad([2, 3], [7, 1, 4, 7, 2, 4], (b, x) => b.max(x, [0])).grad).toEqual([1, 0, 1, 0, 1, 0]);
    const r = valueAndGrad([2, 2, 2], [1, 9, 9, 0, 9, 2, 3, 9], (b, x) => b.max(x, [0, 2]));
    expect(r).toEqual({ y: [9, 9], grad: [0, 1, 1, 0, 0, 0, 0, 0] });
    // keepdims over every axis; -Infinity everywhere still picks the first.
    expect(valueAndGrad([3], [-Infinity, -Infinity, -Infinity], (b, x) => b.max(x, [0], true)).grad).toEqual([1, 0, 0]);
  });
  it("max propagates NaN", () => {
    expect(valueAndGrad([3], [1, NaN, 2], (b, x) => b.max(x, [0])).y).toEqual([NaN]);
    expect(valueAndGrad([2], [NaN, 2], (b, x) => b.maximum(x, b.scalar(1))).y).toEqual([NaN, 2]);
  });
  it("slice, pad and concat move blocks and their gradients back", () => {
    const x = [0, 1, 2, 3, 4, 5];
    expect(valueAndGrad([2, 3], x, (b, v) => b.slice(v, -1, 1, 3), [1, 2, 3, 4])).toEqual({ y: [1, 2, 4, 5], grad: [0, 1, 2, 0, 3, 4] });
    expect(valueAndGrad([2, 3], x, (b, v) => b.pad(v, 0, 1, 0)).y).toEqual([0, 0, 0, 0, 1, 2, 3, 4, 5]);
    expect(valueAndGrad([2, 3], x, (b, v) => b.concat([v, b.slice(v, 1, 0, 1)], 1), [1, 2, 3, 4, 5, 6, 7, 8]))
      .toEqual({ y: [0, 1, 2, 0, 3, 4, 5, 3], grad: [5, 2, 3, 13, 6, 7] });
  });
  it("pow", () => {
    expect(valueAndGrad([3], [-2, 0.5, 3], (b, x) => b.pow(x, 3))).toEqual({ y: [-8, 0.125, 27], grad: [12, 0.75, 27] });
    expect(valueAndGrad([2], [4, 0.25], (b, x) => b.pow(x, 0.5))).toEqual({ y: [2, 0.5], grad: [0.25, 1] });
  });
});

describe("float64 reference math", () => {
  it("erf matches Python's math.erf to 1e-14", () => {
    const xs = [-5.5, -3.2, -2.9999, -1.3, -0.5, -1e-8, 0, 1e-3, 0.3, 0.9, 1.7, 2.5, 2.99, 3.0, 3.7, 4.4, 5.9, 6.5];
    const py = [-0.9999999999999927, -0.9999939742388483, -0.9999778955735178, -0.9340079449406524, -0.5204998778130465,
      -1.1283791670955126e-08, 0.0, 0.0011283787909692365, 0.3286267594591274, 0.7969082124228322, 0.9837904585907745,
      0.999593047982555, 0.9999764743969194, 0.9999779095030014, 0.9999998328489421, 0.999999999510829, 0.9999999999999999, 1.0];
    xs.forEach((x, i) => expect(Math.abs(erf(x) - py[i]!) / Math.max(Math.abs(py[i]!), 1e-300), `erf(${x})`).toBeLessThan(1e-14));
    expect(erf(NaN)).toBeNaN();
    expect(erf(-Infinity)).toBe(-1);
  });
  it("tanh, sigmoid and erf through the reference interpreter", () => {
    const x = [-30, -2, 0, 0.7, 40];
    const sig = x.map((v) => 1 / (1 + Math.exp(-v)));
    expect(maxRelErr(valueAndGrad([5], x, (b, v) => b.sigmoid(v)).y, sig, 1e-300)).toBeLessThan(1e-15);
    expect(valueAndGrad([5], x, (b, v) => b.tanh(v)).y).toEqual(x.map(Math.tanh));
    expect(valueAndGrad([5], x, (b, v) => b.erf(v)).y).toEqual(x.map(erf));
  });
});

describe("bad shapes and attributes are GraphErrors naming the op", () => {
  const b = new GraphBuilder();
  const x = b.input("x", "data", { shape: [2, 3], dtype: "f32" });
  const y = b.input("y", "data", { shape: [4, 3], dtype: "f32" });
  const i = b.input("i", "labels", { shape: [2], dtype: "i32" });
  const empty = b.input("empty", "data", { shape: [3, 0], dtype: "f32" });
  const cases: [string, () => unknown, RegExp][] = [
    ["slice past the end", () => b.slice(x, 1, 1, 4), /^slice\(f32\[2,3\]\): range \[1, 4\)/],
    ["empty slice", () => b.slice(x, 0, 1, 1), /^slice.*not a non-empty part/],
    ["fractional slice", () => b.slice(x, 0, 0.5, 1), /^slice/],
    ["slice axis out of range", () => b.slice(x, 2, 0, 1), /^slice.*axis 2 out of range/],
    ["pad negative", () => b.pad(x, 0, -1, 0), /^pad.*non-negative/],
    ["concat mismatch", () => b.concat([x, y], 1), /^concat.*input 1 differs from input 0 off axis 1/],
    ["concat nothing", () => b.concat([], 0), /^concat.*at least one input/],
    ["concat of int32", () => b.concat([i], 0), /^concat.*f32/],
    ["max repeated axis", () => b.emit("max", [x], { axes: [1, 1], keepdims: false }), /^max.*repeated axis/],
    ["max non-contiguous axes as one node", () => b.emit("max", [b.reshape(y, [2, 2, 3])], { axes: [0, 2], keepdims: false }), /^max.*not contiguous/],
    ["max no axes", () => b.max(x, []), /^max.*at least one axis/],
    ["max over an empty axis", () => b.max(empty, [1]), /^max.*size 0/],
    ["pow non-finite", () => b.pow(x, Infinity), /^pow.*finite/],
    ["maximum not broadcasting", () => b.maximum(x, y), /^maximum.*do not broadcast/],
    ["tanh of int32", () => b.tanh(i), /^tanh.*f32/],
  ];
  for (const [name, f, msg] of cases) {
    it(name, () => {
      expect(f).toThrow(GraphError);
      expect(f).toThrow(msg);
    });
  }
});
