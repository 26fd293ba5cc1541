/**
 * Each ONNX op kiln can compute, written with the IR's primitives (the inverse of
 * ./export-rules.ts, and more); the activation functions are in ./import-activations.ts, the
 * conditions, Where and Split in ./import-logic.ts. Used by ./import-primitives.ts when a graph
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
import { inferShape, size, type V } from "../../compiler/ir/types.js";
import { attr, attrFloat, attrInt, attrInts, attrString } from "./import-graph.js";
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

type Rule = (c: Ctx, n: Node) => V;

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

/** A shape for Reshape: 0 copies the input's dimension (unless allowzero), one −1 is inferred. */
export function reshapeTarget(c: Ctx, from: readonly number[], want: readonly number[], allowZero: boolean): number[] {
  const total = size(from);
  const dims = want.map((d, k) => {
    if (d === 0 && !allowZero) {
      if (k >= from.length) c.fail(`copies dimension ${k} (0) of an input of rank ${from.length}`);
      return from[k]!;
    }
    if (d < -1 || (d === 0 && allowZero)) c.fail(`cannot reshape to dimension ${d}`);
    return d;
  });
  if (dims.filter((d) => d === -1).length > 1) c.fail(`has more than one −1 in the shape [${want.join(",")}]`);
  return inferShape(total, dims) ?? c.fail(`cannot reshape [${from.join(",")}] to [${want.join(",")}]`);
}

/** Squeeze/Unsqueeze axes: an attribute before opset 13, input 1 from then on. */
export const squeezeAxes = (c: Ctx, n: Node): number[] | undefined => (c.opset < 13 ? attrInts(n, "axes") : c.has(1) ? [...c.ints(1)] : undefined);

export function squeezed(c: Ctx, shape: readonly number[], given: readonly number[] | undefined): number[] {
  const axes = given === undefined ? shape.flatMap((d, k) => (d === 1 ? [k] : [])) : given.map((a) => axisOf(c, a, shape.length));
  for (const a of axes) if (shape[a] !== 1) c.fail(`squeezes axis ${a} of size ${shape[a]}`);
  return shape.filter((_d, k) => !axes.includes(k));
}

export function unsqueezed(c: Ctx, shape: readonly number[], given: readonly number[] | undefined): number[] {
  if (given === undefined || given.length === 0) c.fail("needs axes");
  const rank = shape.length + given.length;
  const axes = given.map((a) => axisOf(c, a, rank));
  if (new Set(axes).size !== axes.length) c.fail(`repeats an axis (${given.join(", ")})`);
  const out: number[] = [];
  let k = 0;
  for (let d = 0; d < rank; d++) out.push(axes.includes(d) ? 1 : shape[k++]!);
  return out;
}

/** Numpy's broadcast of two shapes (Expand broadcasts both ways), or a KilnError. */
function broadcastShapes(c: Ctx, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, k) => {
    const x = a[k - rank + a.length] ?? 1, y = b[k - rank + b.length] ?? 1;
    if (x !== y && x !== 1 && y !== 1) c.fail(`cannot broadcast [${a.join(",")}] with [${b.join(",")}]`);
    return x === 1 ? y : x;
  });
}

/**
 * ONNX Slice bounds along one axis: negative indices count from the end, clamped to [0, dim] for
 * a positive step and to [−1, dim − 1] for a negative one (Python's rules).
 */
export function sliceBounds(start: number, end: number, dim: number, step = 1): [number, number] {
  const [lo, hi] = step > 0 ? [0, dim] : [-1, dim - 1];
  const at = (i: number) => Math.min(Math.max(i < 0 ? i + dim : i, lo), hi);
  return [at(start), at(end)];
}

/** Slice's starts, ends, axes and steps: attributes before opset 10, inputs 1-4 from then on. */
export function sliceArgs(c: Ctx, n: Node): { starts: readonly number[]; ends: readonly number[]; axes?: readonly number[]; steps?: readonly number[] } {
  if (c.opset < 10) return { starts: attrInts(n, "starts") ?? c.fail("needs starts"), ends: attrInts(n, "ends") ?? c.fail("needs ends"), axes: attrInts(n, "axes") };
  return { starts: c.ints(1), ends: c.ints(2), axes: c.has(3) ? c.ints(3) : undefined, steps: c.has(4) ? c.ints(4) : undefined };
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
    let y = normalizeFrom(c, x, axisOf(c, attrInt(n, "axis", -1), rank), nice(attrFloat(n, "epsilon", 1e-5)));
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
    const eps = nice(attrFloat(n, "epsilon", 1e-5));
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
  Flatten: (c, n) => {
    const x = c.data(0), shape = c.shape(x);
    const axis = attrInt(n, "axis", 1), a = axis < 0 ? axis + shape.length : axis;
    if (a < 0 || a > shape.length) c.fail(`axis ${axis} is outside [${-shape.length}, ${shape.length}]`);
    const prod = (d: readonly number[]) => d.reduce((p, q) => p * q, 1);
    return c.b.reshape(x, [prod(shape.slice(0, a)), prod(shape.slice(a))]);
  },
  Reshape: (c, n) => {
    const x = c.data(0);
    return c.b.reshape(x, reshapeTarget(c, c.shape(x), c.ints(1), attrInt(n, "allowzero", 0) !== 0));
  },
  Transpose: (c, n) => {
    // A reshape where it moves nothing but axes of size 1; else kiln's transpose.
    const x = c.data(0), shape = c.shape(x), perm = attrInts(n, "perm") ?? [...shape.keys()].reverse();
    if (perm.length !== shape.length || new Set(perm).size !== perm.length || perm.some((p) => p < 0 || p >= shape.length)) c.fail(`has perm [${perm.join(",")}] for rank ${shape.length}`);
    const moved = perm.filter((p) => shape[p] !== 1);
    if (moved.some((p, j) => j > 0 && moved[j - 1]! > p)) return c.b.transpose(x, perm);
    return c.b.reshape(x, perm.map((p) => shape[p]!));
  },
  // torch.tril / triu: k (the diagonal) an integer constant, 0 when absent.
  Trilu: (c, n) => {
    const k = c.has(1) ? c.ints(1) : [0];
    if (k.length !== 1) c.fail(`has ${k.length} values for k; expected one integer`);
    const x = c.data(0);
    if (c.shape(x).length < 2) c.fail(`takes a tensor of rank ${c.shape(x).length}; expected a matrix or a batch of them`);
    return c.b.tril(x, k[0]!, attrInt(n, "upper", 1) !== 0);
  },
  Squeeze: (c, n) => { const x = c.data(0); return c.b.reshape(x, squeezed(c, c.shape(x), squeezeAxes(c, n))); },
  Unsqueeze: (c, n) => { const x = c.data(0); return c.b.reshape(x, unsqueezed(c, c.shape(x), squeezeAxes(c, n))); },
  Expand: (c) => {
    const want = c.ints(1);
    if (want.some((d) => !Number.isInteger(d) || d < 1)) c.fail(`expands to [${want.join(",")}]; expected positive dimensions`);
    const x = c.data(0), to = broadcastShapes(c, c.shape(x), want);
    return to.length === c.shape(x).length && to.every((d, k) => d === c.shape(x)[k]) ? x : c.b.broadcastTo(x, to);
  },
  Concat: (c, n) => {
    const xs = n.input.map((_v, k) => c.data(k));
    return xs.length === 1 ? xs[0]! : c.b.concat(xs, axisOf(c, attrInt(n, "axis", 0), c.shape(xs[0]!).length));
  },
  Slice: (c, n) => {
    let x = c.data(0);
    const { starts, ends, axes: given, steps } = sliceArgs(c, n);
    const rank = c.shape(x).length, axes = given ?? starts.map((_v, k) => k);
    if (starts.length !== ends.length || axes.length !== starts.length || (steps && steps.length !== starts.length)) c.fail("has starts, ends, axes and steps of different lengths");
    if (steps?.some((t) => t !== 1)) c.fail(`has steps [${steps!.join(",")}]; kiln slices with step 1`);
    axes.forEach((a, k) => {
      const axis = axisOf(c, a, rank), dim = c.shape(x)[axis]!;
      const [lo, hi] = sliceBounds(starts[k]!, ends[k]!, dim);
      if (hi <= lo) c.fail(`takes nothing of axis ${axis} (size ${dim}): [${starts[k]}:${ends[k]}]`);
      if (lo !== 0 || hi !== dim) x = c.b.slice(x, axis, lo, hi);
    });
    return x;
  },
  Pad: (c, n) => {
    let x = c.data(0);
    const mode = attrString(n, "mode", "constant");
    if (mode !== "constant") c.fail(`pads in mode ${JSON.stringify(mode)}; kiln pads with zeros (constant)`);
    const old = c.opset < 11;
    const pads = old ? attrInts(n, "pads") ?? c.fail("needs pads") : c.ints(1);
    const value = old ? attrFloat(n, "value", 0) : c.has(2) ? c.scalar(2) : 0;
    if (value !== 0) c.fail(`pads with ${value}; kiln pads with zeros`);
    const rank = c.shape(x).length;
    const axes = !old && c.has(3) ? c.ints(3).map((a) => axisOf(c, a, rank)) : [...Array(rank).keys()];
    if (pads.length !== 2 * axes.length) c.fail(`has ${pads.length} pads for ${axes.length} axes`);
    axes.forEach((axis, k) => {
      const before = pads[k]!, after = pads[k + axes.length]!;
      if (before < 0 || after < 0) c.fail(`crops (negative pads ${before}, ${after}); kiln pads only`);
      if (before > 0 || after > 0) x = c.b.pad(x, axis, before, after);
    });
    return x;
  },
  Clip: (c, n) => {
    const old = c.opset < 11;
    const lo = old ? (attr(n, "min") ? attrFloat(n, "min", 0) : undefined) : c.has(1) ? c.scalar(1) : undefined;
    const hi = old ? (attr(n, "max") ? attrFloat(n, "max", 0) : undefined) : c.has(2) ? c.scalar(2) : undefined;
    return clamp(c, c.data(0), lo, hi);
  },
};
