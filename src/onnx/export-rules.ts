/**
 * One entry per IR primitive: the ONNX nodes (opset 17) that compute it. A mapped type over the
 * op registry, so a new primitive without an entry is a `tsc` error here. An entry that is a
 * string is the reason the primitive has no ONNX form; exporting a graph that holds one is a
 * KilnError naming the layer (these are train-only or fused ops, which an exported eval trace
 * never holds).
 *
 * Rules see ONNX value names and both traces' attributes (the eval graph is traced at two batch
 * sizes, see ./export.ts): an attribute that differs between the two traces depends on the batch
 * size and must become symbolic, or the primitive is refused.
 */
import type { AttrsOf, OpName } from "../../compiler/ops/index.js";
import type { ValueType } from "../../compiler/ir/types.js";
import { f, i, ints, type OnnxBuilder } from "./builder.js";

export interface RuleArgs<A> {
  readonly ins: readonly string[];
  /** The output names to define (one per IR output). */
  readonly outs: readonly string[];
  readonly attrs: A;
  /** The same node's attributes in the trace at the other batch size. */
  readonly other: A;
  /** And in a third trace, at batch 5: what a form read from the first two must also give. */
  readonly third: A;
  readonly types: readonly ValueType[];
}
/** Emit the nodes; return null, or why this instance cannot be expressed. */
export type Rule<A> = (o: OnnxBuilder, a: RuleArgs<A>) => string | null;
export type Rules = { readonly [K in OpName]: Rule<AttrsOf<K>> | string };

const unary = (op: string): Rule<unknown> => (o, { ins, outs }) => (o.node(op, ins, {}, outs), null);
const binary = unary;

/** Positions where the two traces' shapes differ: the batch dimension(s). */
const varying = (a: readonly number[], b: readonly number[]): number[] => a.flatMap((d, k) => (d === b[k] ? [] : [k]));
const sameAttrs = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const BATCH = "depends on the batch size in a way ONNX cannot express with a symbolic batch";

/** The traces' batch sizes (./export.ts). */
export const TRACE_BATCHES = [2, 3, 5] as const;

/**
 * Emit `out` = a·B + c (or its reciprocal) with B the input's batch size, when the values v of
 * the three traces fit that form exactly in float32; false when they fit neither.
 */
function batchNumber(o: OnnxBuilder, out: string, v: readonly [number, number, number]): boolean {
  const [b0, b1, b2] = TRACE_BATCHES;
  const fit = (w: readonly number[]): [number, number] | null => {
    const a = (w[1]! - w[0]!) / (b1 - b0), c = w[0]! - a * b0;
    return Number.isFinite(a) && Number.isFinite(c) && Math.fround(a * b2 + c) === Math.fround(w[2]!) ? [a, c] : null;
  };
  const linear = fit(v), reciprocal = linear ? null : v.every((x) => x !== 0) ? fit(v.map((x) => 1 / x)) : null;
  const form = linear ?? reciprocal;
  if (!form) return false;
  const [a, c] = form;
  let y = o.one("Cast", [o.one("Gather", [o.one("Shape", ["x"]), o.int64s([0])], { axis: i(0) })], { to: i(1) }); // [1]: B as float
  if (a !== 1) y = o.one("Mul", [y, o.floats([], [a])]);
  if (c !== 0) y = o.one("Add", [y, o.floats([], [c])]);
  if (reciprocal) y = o.one("Reciprocal", [y]);
  o.node("Reshape", [y, o.int64s([])], {}, [out]); // the scalar the IR holds
  return true;
}

/** Reduce over axes with ONNX 17's two conventions: axes attribute (ReduceMean), axes input (ReduceSum). */
function reduce(op: "ReduceMean" | "ReduceSum"): Rule<{ axes: number[]; keepdims: boolean }> {
  return (o, { ins, outs, attrs, other }) => {
    if (!sameAttrs(attrs, other)) return BATCH;
    const keepdims = i(attrs.keepdims ? 1 : 0);
    if (op === "ReduceMean") o.node(op, ins, { axes: ints(attrs.axes), keepdims }, outs);
    else o.node(op, [ins[0]!, o.int64s(attrs.axes)], { keepdims }, outs);
    return null;
  };
}

export const rules: Rules = {
  neg: unary("Neg"),
  exp: unary("Exp"),
  log: unary("Log"),
  relu: unary("Relu"),
  sqrt: unary("Sqrt"),
  // 1/√x: Reciprocal(Sqrt(x)) rounds twice, as kiln's reference kernel does.
  rsqrt: (o, { ins, outs }) => (o.node("Reciprocal", [o.one("Sqrt", ins)], {}, outs), null),
  // 1[x > 0] as float.
  step: (o, { ins, outs }) => (o.node("Cast", [o.one("Greater", [ins[0]!, o.floats([], [0])])], { to: i(1) }, outs), null),
  tanh: unary("Tanh"),
  sigmoid: unary("Sigmoid"),
  erf: unary("Erf"),
  abs: unary("Abs"),
  sign: unary("Sign"),
  // A value without a gradient: ONNX graphs have no gradients.
  detach: unary("Identity"),
  pow: (o, { ins, outs, attrs }) => (o.node("Pow", [ins[0]!, o.floats([], [attrs.k])], {}, outs), null),
  // Where(c = 0, 0, x) for when 1, Where(c = 0, x, 0) for when 0: a selection, as kiln's.
  keep: (o, { ins, outs, attrs }) => {
    const zero = o.floats([], [0]), isZero = o.one("Equal", [ins[1]!, zero]);
    o.node("Where", attrs.when ? [isZero, zero, ins[0]!] : [isZero, ins[0]!, zero], {}, outs);
    return null;
  },
  maximum: binary("Max"),
  minimum: binary("Min"),
  add: binary("Add"),
  sub: binary("Sub"),
  mul: binary("Mul"),
  div: binary("Div"),
  // A constant is a Constant node under the value's own name (an initializer would be read back
  // as a parameter).
  constant: (o, { outs, attrs, other, third }) => {
    if (sameAttrs(attrs, other)) {
      o.constant(outs[0]!, attrs.shape, new Float32Array(attrs.shape.reduce((x, y) => x * y, 1)).fill(attrs.value));
      return null;
    }
    // A number computed from the batch size (x.div(x.shape[0])): a·B + c or 1/(a·B + c), read
    // from the traces at 2 and 3 and held to the one at 5, else refused (never a guess).
    if (attrs.shape.length > 0 || other.shape.length > 0) return BATCH;
    return batchNumber(o, outs[0]!, [attrs.value, other.value, third.value]) ? null : BATCH;
  },
  sum: reduce("ReduceSum"),
  mean: reduce("ReduceMean"),
  max: (o, { ins, outs, attrs, other }) => {
    if (!sameAttrs(attrs, other)) return BATCH;
    o.node("ReduceMax", ins, { axes: ints(attrs.axes), keepdims: i(attrs.keepdims ? 1 : 0) }, outs);
    return null;
  },
  max_mask: "max_mask is part of max's gradient; an eval program has none",
  slice: (o, { ins, outs, attrs, other }) => {
    if (!sameAttrs(attrs, other)) return BATCH;
    o.node("Slice", [ins[0]!, o.int64s([attrs.start]), o.int64s([attrs.end]), o.int64s([attrs.axis])], {}, outs);
    return null;
  },
  pad: (o, { ins, outs, attrs, other, types }) => {
    if (!sameAttrs(attrs, other)) return BATCH;
    const rank = types[0]!.shape.length, axis = attrs.axis < 0 ? attrs.axis + rank : attrs.axis;
    const pads = new Array<number>(2 * rank).fill(0); // [begin of each axis…, end of each axis…]
    pads[axis] = attrs.before;
    pads[rank + axis] = attrs.after;
    o.node("Pad", [ins[0]!, o.int64s(pads)], {}, outs);
    return null;
  },
  concat: (o, { ins, outs, attrs }) => (o.node("Concat", ins, { axis: i(attrs.axis) }, outs), null),
  reshape: (o, { ins, outs, attrs, other, types }) => {
    // A dimension that follows the batch: 0 (copy the input's) where it is the input's batch
    // dimension at the same position, otherwise -1 (inferred), which ONNX allows once.
    const vary = varying(attrs.shape, other.shape);
    const inVary = types[0]!.shape.length === attrs.shape.length ? vary : [];
    const shape = attrs.shape.map((d, k) => (!vary.includes(k) ? d : inVary.includes(k) && attrs.shape[k] === types[0]!.shape[k] ? 0 : -1));
    if (shape.filter((d) => d === -1).length > 1) return BATCH;
    o.node("Reshape", [ins[0]!, o.int64s(shape)], {}, outs);
    return null;
  },
  broadcast_to: (o, { ins, outs, attrs, other, types }) => {
    // Expand broadcasts both ways, so a batch dimension the input already has is written as 1.
    const x = types[0]!.shape, off = attrs.shape.length - x.length;
    const vary = varying(attrs.shape, other.shape);
    if (vary.some((k) => k < off || x[k - off] === 1)) return BATCH;
    o.node("Expand", [ins[0]!, o.int64s(attrs.shape.map((d, k) => (vary.includes(k) ? 1 : d)))], {}, outs);
    return null;
  },
  transpose: (o, { ins, outs, attrs }) => (o.node("Transpose", ins, { perm: ints(attrs.perm) }, outs), null),
  tril: (o, { ins, outs, attrs }) => (o.node("Trilu", [ins[0]!, o.int64s([attrs.diagonal], [])], { upper: i(attrs.upper ? 1 : 0) }, outs), null),
  matmul: (o, { ins, outs, attrs, types }) => {
    const r = types[0]!.shape.length;
    if (r === 2) return o.node("Gemm", ins, { transA: i(attrs.transA ? 1 : 0), transB: i(attrs.transB ? 1 : 0) }, outs), null;
    // Batched: MatMul, a flag a Transpose of the last two axes (fromOnnx reads it back as the flag).
    const perm = ints([...Array(r - 2).keys(), r - 1, r - 2]);
    const t = (x: string, flag: boolean) => (flag ? o.one("Transpose", [x], { perm }) : x);
    o.node("MatMul", [t(ins[0]!, attrs.transA), t(ins[1]!, attrs.transB)], {}, outs);
    return null;
  },
  normalize: (o, { ins, outs, attrs, types }) => {
    const rank = types[0]!.shape.length;
    const axis = attrs.axis < 0 ? attrs.axis + rank : attrs.axis;
    if (axis === rank - 1) {
      // LayerNormalization over the last axis, with a unit scale and no bias.
      const n = types[0]!.shape[axis]!;
      o.node("LayerNormalization", [ins[0]!, o.floats([n], new Float32Array(n).fill(1))], { axis: i(-1), epsilon: f(attrs.eps) }, outs);
      return null;
    }
    // (x − mean) / √(mean((x − mean)²) + eps) along another axis (a batch normalization).
    const axes = { axes: ints([axis]), keepdims: i(1) };
    const centered = o.one("Sub", [ins[0]!, o.one("ReduceMean", ins, axes)]);
    const variance = o.one("ReduceMean", [o.one("Mul", [centered, centered])], axes);
    o.node("Div", [centered, o.one("Sqrt", [o.one("Add", [variance, o.floats([], [attrs.eps])])])], {}, outs);
    return null;
  },
  log_softmax: (o, { ins, outs, attrs }) => (o.node("LogSoftmax", ins, { axis: i(attrs.axis) }, outs), null),
  one_hot: "one_hot encodes training labels; an eval program has none",
  dropout_mask: "a dropout mask exists only in training programs (eval drops the layer)",
  fused_elementwise: "fused kernels exist only in optimized programs; the exporter reads the traced graph",
  linear: "fused kernels exist only in optimized programs; the exporter reads the traced graph",
  norm_forward: "fused kernels exist only in optimized programs; the exporter reads the traced graph",
  norm_backward: "a gradient kernel has no place in an inference graph",
  softmax_xent: "a loss kernel has no place in an inference graph",
};
