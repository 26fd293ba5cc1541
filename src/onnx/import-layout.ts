/**
 * The ONNX ops that move or reshape data (Flatten, Reshape, Transpose, Trilu, Squeeze, Unsqueeze,
 * Expand, Concat, Slice, Pad), written with the IR's primitives, and the shape rules they share
 * with the integer tensors evaluated at import (./import-ints.ts). Used as ./import-ops.ts's
 * rules are.
 */
import { MAX_RANK } from "../../compiler/ir/graph.js";
import { inferShape, size } from "../../compiler/ir/types.js";
import { attrFloat, attrInt, attrInts, attrString } from "./import-graph.js";
import { axisOf, type Ctx, type Rule } from "./import-ops.js";
import type { Node } from "./proto.js";

/** A shape for Reshape: 0 copies the input's dimension (unless allowzero), one −1 is inferred. */
export function reshapeTarget(c: Ctx, from: readonly number[], want: readonly number[], allowZero: boolean): number[] {
  if (want.length > MAX_RANK) c.fail(`reshapes to ${want.length} axes; kiln's tensors have at most ${MAX_RANK}`);
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

export const LAYOUT_RULES: Readonly<Record<string, Rule>> = {
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
};
