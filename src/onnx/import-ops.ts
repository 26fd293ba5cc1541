/**
 * Each ONNX op kiln can compute, written with the IR's primitives (the inverse of
 * ./export-rules.ts, and more); the activation functions are in ./import-activations.ts, the
 * conditions, Where and Split in ./import-logic.ts, the ops that move or reshape data in
 * ./import-layout.ts. Used by ./import-primitives.ts when a graph
 * is not a chain of kiln's layers. A rule gets its node's
 * inputs through a Ctx: `data(k)` is a float tensor of the graph being traced, `ints(k)` and
 * `scalar(k)` read values known at import (initializers, Constant nodes, and integer tensors
 * computed from shapes, such as Shape → Gather → Concat → Reshape, which torch writes for
 * `x.view(x.size(0), -1)`). Anything outside what a rule handles is a KilnError naming the node.
 *
 * Numbers: where ONNX defines a function by a formula (Elu, Softplus, HardSigmoid, …) the rule
 * computes that formula in float32 primitives; PyTorch's fused kernels may differ in the last
 * bits (expm1 against exp − 1, for one).
 */
import type { GraphBuilder } from "../../compiler/ir/builder.js";
import type { V } from "../../compiler/ir/types.js";
import { attr, attrEpsilon, attrFloat, attrInt, attrInts } from "./import-graph.js";
import { nice } from "./import-match.js";
import type { Tracing } from "../dsl/scope.js";
import { batchNormTrain } from "../trace.js";
import type { Node } from "./proto.js";

/** An integer tensor known at import (a shape, axes, indices). */
export interface Ints { readonly dims: readonly number[]; readonly data: readonly number[] }

export interface Ctx {
  readonly b: GraphBuilder;
  readonly opset: number;
  /** Whether input k is given (an optional input may be absent or named ""). */
  has(k: number): boolean;
  /** Input k as a float tensor of the traced graph. */
  data(k: number): V;
  /** Input k as a matrix operand: a Transpose of a value's last two axes is read as that value, `t` set. */
  matrix(k: number): { readonly v: V; readonly t: boolean };
  /** Input k's values, known at import (a constant or an integer tensor from shapes). */
  ints(k: number): readonly number[];
  /** Input k as one number (a constant). */
  scalar(k: number): number;
  shape(v: V): readonly number[];
  fail(what: string): never;
  /** The trace the layer runs in: training or eval, and dropout's masks (src/dsl/tensor.ts). */
  readonly tracing: Tracing;
  /** Input k, a state buffer, takes the value v after a training step. */
  update(k: number, v: V): void;
}

export type Rule = (c: Ctx, n: Node) => V;

const unary = (f: (b: GraphBuilder, x: V) => V): Rule => (c) => f(c.b, c.data(0));
const binary = (f: (b: GraphBuilder, x: V, y: V) => V): Rule => (c) => f(c.b, c.data(0), c.data(1));
/** A variadic op folded left over its inputs (Max, Min, Sum of ONNX). */
const fold = (f: (b: GraphBuilder, x: V, y: V) => V): Rule => (c, n) => {
  let acc = c.data(0);
  for (let k = 1; k < n.input.length; k++) acc = f(c.b, acc, c.data(k));
  return acc;
};

export const s = (c: Ctx, x: number): V => c.b.scalar(x);
/** max(lo, min(hi, x)) with lo or hi left out when undefined. */
export const clamp = (c: Ctx, x: V, lo: number | undefined, hi: number | undefined): V => {
  let y = x;
  if (lo !== undefined) y = c.b.maximum(y, s(c, lo));
  if (hi !== undefined) y = c.b.minimum(y, s(c, hi));
  return y;
};

/** A possibly negative axis of a rank-r tensor, else a KilnError. */
export function axisOf(c: Ctx, axis: number, rank: number, what = "axis"): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) c.fail(`${what} ${axis} is outside [${-rank}, ${rank - 1}] for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** Axes of a reduction: an attribute before `inputFrom`, input 1 from then on; none given: all (or none, with noop_with_empty_axes). */
export function reduceAxes(c: Ctx, n: Node, rank: number, inputFrom: number): number[] {
  const given = c.opset < inputFrom ? attrInts(n, "axes") : c.has(1) ? [...c.ints(1)] : undefined;
  if (given === undefined || given.length === 0) return c.opset >= inputFrom && attrInt(n, "noop_with_empty_axes", 0) === 1 ? [] : [...Array(rank).keys()];
  const axes = given.map((a) => axisOf(c, a, rank, "reduction axis"));
  if (new Set(axes).size !== axes.length) c.fail(`repeats a reduction axis (${given.join(", ")})`);
  return axes;
}

function reduce(op: "sum" | "mean" | "max" | "logsumexp" | "l2", inputFrom: number): Rule {
  return (c, n) => {
    const x = c.data(0), rank = c.shape(x).length;
    const axes = reduceAxes(c, n, rank, inputFrom), keep = attrInt(n, "keepdims", 1) !== 0;
    if (axes.length === 0) return x;
    return op === "l2" ? c.b.sqrt(c.b.sum(c.b.mul(x, x), axes, keep)) : c.b[op](x, axes, keep);
  };
}

/** Softmax and LogSoftmax: along one axis from opset 13; before, over the axes from `axis` on (coerced to 2-D). */
function softmaxLike(exp: boolean): Rule {
  return (c, n) => {
    const x = c.data(0), shape = c.shape(x), rank = shape.length;
    const axis = axisOf(c, attrInt(n, "axis", c.opset >= 13 ? -1 : 1), rank);
    let y: V;
    if (c.opset >= 13 || axis === rank - 1) y = c.b.logSoftmax(x, axis);
    else {
      const flat = c.b.reshape(x, [shape.slice(0, axis).reduce((p, q) => p * q, 1), shape.slice(axis).reduce((p, q) => p * q, 1)]);
      y = c.b.reshape(c.b.logSoftmax(flat, 1), shape);
    }
    return exp ? c.b.exp(y) : y;
  };
}

/** (x − mean)/√(var + ε) over the axes from `from` on: kiln's normalize for the last axis, primitives otherwise. */
function normalizeFrom(c: Ctx, x: V, from: number, eps: number): V {
  const rank = c.shape(x).length, { b } = c;
  if (from === rank - 1) return b.normalize(x, from, eps);
  const axes = [...Array(rank - from).keys()].map((k) => k + from);
  const d = b.sub(x, b.mean(x, axes, true));
  return b.div(d, b.sqrt(b.add(b.mean(b.mul(d, d), axes, true), s(c, eps))));
}

export const RULES: Readonly<Record<string, Rule>> = {
  Identity: unary((_b, x) => x),
  Neg: unary((b, x) => b.neg(x)),
  Exp: unary((b, x) => b.exp(x)),
  Log: unary((b, x) => b.log(x)),
  Relu: unary((b, x) => b.relu(x)),
  Sqrt: unary((b, x) => b.sqrt(x)),
  Tanh: unary((b, x) => b.tanh(x)),
  Sigmoid: unary((b, x) => b.sigmoid(x)),
  Erf: unary((b, x) => b.erf(x)),
  Abs: unary((b, x) => b.abs(x)),
  Sign: unary((b, x) => b.sign(x)),
  // 1/x, rounded once; Reciprocal(Sqrt(x)) is how kiln writes rsqrt (whose reference rounds twice too).
  Reciprocal: (c) => c.b.div(s(c, 1), c.data(0)),
  Add: binary((b, x, y) => b.add(x, y)),
  Sub: binary((b, x, y) => b.sub(x, y)),
  Mul: binary((b, x, y) => b.mul(x, y)),
  Div: binary((b, x, y) => b.div(x, y)),
  Max: fold((b, x, y) => b.maximum(x, y)),
  Min: fold((b, x, y) => b.minimum(x, y)),
  Sum: fold((b, x, y) => b.add(x, y)),
  Pow: (c) => c.b.pow(c.data(0), c.scalar(1)),
  // A transposed operand (torch's export without constant folding transposes a weight first) is
  // the product's transpose flag.
  // Batched (rank r > 2, equal leading axes) as kiln's matmul; [..., k]·[k, n] (a Linear on tokens).
  MatMul: (c) => {
    const a = c.matrix(0), w = c.matrix(1), as = c.shape(a.v), ws = c.shape(w.v);
    const batched = as.length > 2 && as.length === ws.length && as.slice(0, -2).every((d, k) => d === ws[k]);
    if (!(as.length === 2 && ws.length === 2) && !batched && !(as.length > 2 && ws.length === 2 && !a.t)) {
      c.fail(`multiplies [${as.join(",")}] by [${ws.join(",")}]; kiln multiplies 2-D operands, batched ones of one rank with equal leading axes, or [..., k] by [k, n]`);
    }
    return c.b.product(a.v, w.v, a.t, w.t);
  },
  Gemm: (c, n) => {
    const a = c.matrix(0), w = c.matrix(1);
    if (c.shape(a.v).length !== 2 || c.shape(w.v).length !== 2) c.fail("needs 2-D A and B");
    const alpha = attrFloat(n, "alpha", 1), beta = attrFloat(n, "beta", 1);
    let y = c.b.matmul(a.v, w.v, (attrInt(n, "transA", 0) !== 0) !== a.t, (attrInt(n, "transB", 0) !== 0) !== w.t);
    if (alpha !== 1) y = c.b.mul(y, s(c, alpha));
    if (c.has(2) && beta !== 0) y = c.b.add(y, beta === 1 ? c.data(2) : c.b.mul(c.data(2), s(c, beta)));
    return y;
  },
  ReduceSum: reduce("sum", 13),
  ReduceMean: reduce("mean", 18),
  ReduceMax: reduce("max", 18),
  ReduceLogSumExp: reduce("logsumexp", 18),
  ReduceL2: reduce("l2", 18), // √Σx² (F.normalize's norm)
  Softmax: softmaxLike(true),
  LogSoftmax: softmaxLike(false),
  LayerNormalization: (c, n) => {
    const x = c.data(0), rank = c.shape(x).length;
    let y = normalizeFrom(c, x, axisOf(c, attrInt(n, "axis", -1), rank), nice(attrEpsilon(n)));
    y = c.b.mul(y, c.data(1));
    return c.has(2) ? c.b.add(y, c.data(2)) : y;
  },
  BatchNormalization: (c, n) => {
    // Per channel (axis 1), as kiln's batchNorm and PyTorch's BatchNorm1d: in eval
    // ((x − μ)·rsqrt(σ² + ε))·γ + β on the running statistics (so the eval folds apply:
    // compiler/passes/foldBatchNorm.ts); in training the batch's statistics, and μ, σ² move by
    // (1 − momentum) toward them (ONNX's momentum is 1 − PyTorch's).
    // training_mode = 1 (an export in training mode) reads the same: the phase decides, as for the layer.
    const x = c.data(0), shape = c.shape(x), { b } = c;
    if (shape.length < 2) c.fail(`normalizes a tensor of rank ${shape.length}; expected [batch, channels, …]`);
    const per = (k: number) => (shape.length === 2 ? c.data(k) : b.reshape(c.data(k), [shape[1]!, ...shape.slice(2).map(() => 1)]));
    const eps = nice(attrEpsilon(n));
    if (!c.tracing.training) return b.add(b.mul(b.mul(b.sub(x, per(3)), b.rsqrt(b.add(per(4), s(c, eps)))), per(1)), per(2));
    const momentum = attrFloat(n, "momentum", 0.9);
    if (!(momentum >= 0 && momentum <= 1)) c.fail(`has momentum ${momentum}; expected a number in [0, 1]`);
    const next = batchNormTrain(b, x, [c.data(3), c.data(4)], eps, nice(1 - nice(momentum)), "it");
    c.update(3, next.mean);
    c.update(4, next.variance);
    return b.add(b.mul(next.xhat, per(1)), per(2));
  },
  // Dropout: its input in eval; in training x·mask (its mask output must be unread: ./import-primitives.ts).
  Dropout: (c, n) => {
    const ratio = c.has(1) ? c.scalar(1) : attrFloat(n, "ratio", 0.5);
    if (!(ratio >= 0 && ratio < 1)) c.fail(`has ratio ${ratio}; expected 0 ≤ ratio < 1`);
    return c.tracing.dropout(c.data(0), nice(ratio));
  },
  Cast: (c, n) => {
    if (attrInt(n, "to", 1) !== 1) c.fail(`casts to data type ${attrInt(n, "to", 1)}; kiln computes in FLOAT (1)`);
    return c.data(0);
  },
  Clip: (c, n) => {
    const old = c.opset < 11;
    const lo = old ? (attr(n, "min") ? attrFloat(n, "min", 0) : undefined) : c.has(1) ? c.scalar(1) : undefined;
    const hi = old ? (attr(n, "max") ? attrFloat(n, "max", 0) : undefined) : c.has(2) ? c.scalar(2) : undefined;
    return clamp(c, c.data(0), lo, hi);
  },
};
