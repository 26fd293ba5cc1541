/**
 * Does a program mix its samples? `predict` evaluates a large input in pieces, which gives the
 * same rows only when each output row depends on its own input row alone. The built-in layers
 * are like that in evaluation (batchNorm reads its running statistics), but a user's `fn` or
 * `layer` may reduce over the batch (x.mean(0)), contract it (x.matmul(y, { transposeA: true })),
 * or slice it: then the rows of a piece would see only that piece.
 *
 * Each value is followed through the graph as: free (not made from the data input), a tensor
 * whose axis `a` is the sample axis (index i along it depends on sample i only), or mixed. An op
 * that reduces, slices, pads, concatenates or contracts along the sample axis mixes, as does an
 * elementwise op whose operands carry the samples on different axes (an outer product of the
 * batch); an op this file does not know mixes whatever depends on the data (a safe answer).
 */
import { isElementwise } from "../ops/index.js";
import type { Graph, Node } from "./graph.js";
import type { V } from "./types.js";

const MIXED = -1;
/** undefined: free of the data; a number ≥ 0: the sample axis; MIXED. */
type Axis = number | undefined;

/** Ops that work along one `axis` attribute and keep the shape's axes. */
const ALONG_AXIS = new Set(["slice", "pad", "concat", "normalize", "log_softmax"]);
const REDUCE = new Set(["sum", "mean", "max", "max_mask"]);

/** True when some output of `g` depends on more than one sample of its data input (axis 0). */
export function mixesSamples(g: Graph): boolean {
  const axis = new Map<V, Axis>();
  for (const i of g.inputs) if (i.kind === "data") axis.set(i.value, 0);
  const shape = (v: V) => g.values[v]!.shape;
  for (const n of g.nodes) {
    const a = sampleAxis(n, (v) => axis.get(v), shape);
    for (const o of n.outputs) axis.set(o, a);
  }
  return g.outputs.some((o) => { const a = axis.get(o.value); return a !== undefined && a !== 0; });
}

/** The sample axis of node n's outputs, from its inputs'. */
function sampleAxis(n: Node, at: (v: V) => Axis, shape: (v: V) => readonly number[]): Axis {
  const ins = n.inputs.map(at);
  const given = ins.filter((x): x is number => x !== undefined);
  if (given.length === 0) return undefined;
  if (given.includes(MIXED)) return MIXED;
  const out = shape(n.outputs[0]!).length;
  // The elementwise primitives (the fusion's table) and broadcast_to keep each element's position.
  if (isElementwise(n.op) || n.op === "broadcast_to") {
    // Broadcasting aligns trailing axes: an operand of rank r has its axis a at a + out − r.
    const axes = new Set(n.inputs.flatMap((v, j) => (ins[j] === undefined ? [] : [ins[j]! + out - shape(v).length])));
    return axes.size === 1 ? [...axes][0]! : MIXED;
  }
  if (n.op === "matmul" || n.op === "linear") {
    // op(A) is [m, k], op(B) is [k, n] after r − 2 batch axes: A's samples must be its rows, B's
    // its columns (not both), or the same batch axis of both; linear's bias is [N], along the
    // output's columns.
    const { transA, transB } = n.attrs as { transA: boolean; transB: boolean };
    const [fa, fb, fbias] = ins;
    const r = out - 2;
    const from = (f: number | undefined, own: number, to: number) => (f === undefined ? undefined : f < r ? f : f === r + own ? to : MIXED);
    const fromA = from(fa, transA ? 1 : 0, r), fromB = from(fb, transB ? 0 : 1, r + 1);
    const axes = new Set([fromA, fromB, fbias === undefined ? undefined : r + 1].filter((x) => x !== undefined));
    return axes.size === 1 ? [...axes][0]! : MIXED;
  }
  // The remaining ops keep one operand's axes (concat: all of them, along the same axis).
  const a = given[0]!;
  if (given.some((x) => x !== a)) return MIXED;
  if (ALONG_AXIS.has(n.op)) {
    const ax = (n.attrs as { axis: number }).axis;
    return (ax < 0 ? ax + out : ax) === a ? MIXED : a;
  }
  if (REDUCE.has(n.op)) {
    const r = shape(n.inputs[0]!).length;
    const { axes, keepdims } = n.attrs as { axes: readonly number[]; keepdims: boolean };
    const reduced = axes.map((x) => (x < 0 ? x + r : x));
    if (reduced.includes(a)) return MIXED;
    return keepdims || n.op === "max_mask" ? a : a - reduced.filter((x) => x < a).length;
  }
  if (n.op === "tril") return a < out - 2 ? a : MIXED; // the triangle depends on the row's and column's indices
  if (n.op === "transpose") return (n.attrs as { perm: readonly number[] }).perm.indexOf(a); // the axis moves with its samples
  if (n.op === "reshape") {
    // The sample axis survives when the axes before it hold as many elements as before.
    const from = shape(n.inputs[0]!), to = shape(n.outputs[0]!);
    const before = from.slice(0, a).reduce((p, d) => p * d, 1);
    for (let k = 0, p = 1; k < to.length; p *= to[k]!, k++) if (p === before && to[k] === from[a]) return k;
    return MIXED;
  }
  return MIXED;
}
