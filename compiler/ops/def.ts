/**
 * What defines a primitive: its attributes (an io-ts codec, so the same definition gives the
 * static type, the JSON check and the encoder), its shape rule, its gradient rule written with
 * other primitives, and how it lowers to a runtime kernel.
 */
import type * as t from "io-ts";
import { GraphError } from "../../runtime/errors.js";
import type { KernelName } from "../../runtime/kernels/index.js";
import { fmtType, type V, type ValueType } from "../ir/types.js";

/**
 * What gradient rules emit through: the graph builder (compiler/ir/builder.ts implements it), seen
 * here as an interface so that ops/ does not depend on the builder, which depends on the op
 * registry. A rule needing another primitive adds its method here; the builder then fails to
 * type-check until it has it.
 */
export interface Emitter {
  type(v: V): ValueType;
  scalar(value: number): V;
  constant(value: number, shape: readonly number[]): V;
  neg(x: V): V; exp(x: V): V; log(x: V): V; relu(x: V): V; step(x: V): V; sqrt(x: V): V; rsqrt(x: V): V;
  tanh(x: V): V; sigmoid(x: V): V; erf(x: V): V; abs(x: V): V; sign(x: V): V;
  pow(x: V, k: number): V;
  add(x: V, y: V): V; sub(x: V, y: V): V; mul(x: V, y: V): V; div(x: V, y: V): V;
  maximum(x: V, y: V): V; minimum(x: V, y: V): V; keep(x: V, c: V, when: 0 | 1): V;
  sum(x: V, axes: readonly number[], keepdims?: boolean): V;
  mean(x: V, axes: readonly number[], keepdims?: boolean): V;
  max(x: V, axes: readonly number[], keepdims?: boolean): V;
  maxMask(x: V, axes: readonly number[]): V;
  reshape(x: V, shape: readonly number[]): V;
  transpose(x: V, perm: readonly number[]): V;
  tril(x: V, diagonal: number, upper: boolean): V;
  broadcastTo(x: V, shape: readonly number[]): V;
  /** Sum a broadcast result back to `shape` (the adjoint of broadcasting). */
  sumTo(x: V, shape: readonly number[]): V;
  slice(x: V, axis: number, start: number, end: number): V;
  pad(x: V, axis: number, before: number, after: number): V;
  concat(xs: readonly V[], axis: number): V;
  matmul(a: V, b: V, transA?: boolean, transB?: boolean): V;
}

export interface Lowered {
  readonly kernel: KernelName | "generated";
  readonly params: readonly number[];
  /** Source of a generated kernel: built from numbers and compiler-made names only. */
  readonly source?: string;
  /** The same kernel as a WebAssembly module, for planned programs (see runtime/program.ts). */
  readonly wasm?: Uint8Array;
}

/**
 * Vector-Jacobian product: given the cotangents of the outputs (null for an output nothing
 * depends on), emit the cotangents of the inputs (null where an input takes no gradient:
 * integer labels, random masks, constants).
 */
export type Vjp<A> = (
  b: Emitter, gs: readonly (V | null)[], ins: readonly V[], outs: readonly V[], attrs: A,
) => readonly (V | null)[];

/** A primitive with any number of outputs (fused kernels often have several). */
export interface OpDef<A> {
  readonly attrs: t.Type<A, unknown, unknown>;
  /** Number of inputs; null for fused ops taking any number (their shape rule checks them). */
  readonly arity: number | null;
  readonly shapes: (ins: readonly ValueType[], attrs: A) => readonly ValueType[];
  /** null only for ops that appear after differentiation (fused kernels). */
  readonly vjp: Vjp<A> | null;
  /** One kernel call; its buffers are the node's inputs then its outputs. */
  readonly lower: (attrs: A, ins: readonly ValueType[], outs: readonly ValueType[]) => Lowered;
  /**
   * Element i of every output depends only on element i of the inputs of the output's shape
   * (other inputs broadcast), and the kernel reads them all before writing: an output may then
   * take the buffer of such an input that dies here (in-place update).
   */
  readonly elementwise?: boolean;
  /** With `elementwise`: how many leading outputs are elementwise (default: all); the rest never take an input's buffer. */
  readonly inPlaceOutputs?: (attrs: A) => number;
  /** Compact text for the attributes in printIR (default: key=value pairs). */
  readonly printAttrs?: (attrs: A, inputs: number) => string;
  /** Floating-point operations of one call (default: one per output element). */
  readonly flops?: (attrs: A, ins: readonly ValueType[], outs: readonly ValueType[]) => number;
}

/** The common case: one output, so shape, vjp and lower speak of `out` and `g` directly. */
export interface SingleOutputOp<A> {
  readonly attrs: t.Type<A, unknown, unknown>;
  readonly arity: number;
  readonly shape: (ins: readonly ValueType[], attrs: A) => ValueType;
  readonly vjp: ((b: Emitter, g: V, ins: readonly V[], out: V, attrs: A) => readonly (V | null)[]) | null;
  readonly lower: (attrs: A, ins: readonly ValueType[], out: ValueType) => Lowered;
  readonly elementwise?: boolean;
  readonly printAttrs?: (attrs: A, inputs: number) => string;
  readonly flops?: (attrs: A, ins: readonly ValueType[], out: ValueType) => number;
}

export function defineOp<A>(op: SingleOutputOp<A>): OpDef<A> {
  const vjp = op.vjp;
  return Object.freeze({
    attrs: op.attrs,
    arity: op.arity,
    shapes: (ins: readonly ValueType[], a: A) => [op.shape(ins, a)],
    vjp: vjp && ((b: Emitter, gs: readonly (V | null)[], ins: readonly V[], outs: readonly V[], a: A) =>
      gs[0] === null || gs[0] === undefined ? ins.map(() => null) : vjp(b, gs[0], ins, outs[0]!, a)),
    lower: (a: A, ins: readonly ValueType[], outs: readonly ValueType[]) => op.lower(a, ins, outs[0]!),
    elementwise: op.elementwise ?? false,
    ...(op.printAttrs ? { printAttrs: op.printAttrs } : {}),
    ...(op.flops ? { flops: (a: A, ins: readonly ValueType[], outs: readonly ValueType[]) => op.flops!(a, ins, outs[0]!) } : {}),
  });
}

export const defineMultiOp = <A>(op: OpDef<A>): OpDef<A> => Object.freeze(op);

/** Raise a shape-rule violation naming the op and its operand types. */
export function shapeError(op: string, ins: readonly ValueType[], why: string): never {
  throw new GraphError(`${op}(${ins.map(fmtType).join(", ")}): ${why}`);
}

export function requireF32(op: string, ins: readonly ValueType[]): void {
  if (ins.some((v) => v.dtype !== "f32")) shapeError(op, ins, "expected f32 operands");
}

/** Normalize a possibly negative axis against a rank, or fail. */
export function axisOf(op: string, ins: readonly ValueType[], axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) shapeError(op, ins, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** [outer, n, inner] view of a shape around one axis (used by normalize and log_softmax kernels). */
export function aroundAxis(shape: readonly number[], axis: number): [number, number, number] {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  return [outer, shape[axis]!, inner];
}

/** Row-major strides of `shape`, as seen from an output of rank `rank`, 0 where broadcast. */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = out.length - shape.length + i;
    strides[o] = shape[i] === 1 && out[o] !== 1 ? 0 : s;
    s *= shape[i]!;
  }
  return strides;
}
