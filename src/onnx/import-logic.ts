/**
 * ONNX ops on conditions, and Split, for the layer of primitives (./import-primitives.ts).
 *
 * A condition (Greater, Less, Equal, …, Not) is a float tensor of 0 and 1, which is how the IR
 * holds it (GraphBuilder.greater, .greaterEqual: exact, 0 for NaN as ONNX's false, no gradient).
 * Where(c, x, y) is GraphBuilder.where, a selection: x or y exactly, whatever the side not taken
 * holds (±∞, NaN), its gradient to the side taken, as PyTorch's torch.where.
 *
 * Split has several outputs: each a slice of its input along the axis (torch's chunk, GLU).
 */
import type { V } from "../../compiler/ir/types.js";
import { attr, attrInt, attrInts } from "./import-graph.js";
import { axisOf, type Ctx } from "./import-ops.js";
import type { Node } from "./proto.js";

type Rule = (c: Ctx, n: Node) => V;

const not = (c: Ctx, q: V): V => c.b.sub(c.b.scalar(1), q);

export const LOGIC_RULES: Readonly<Record<string, Rule>> = {
  Greater: (c) => c.b.greater(c.data(0), c.data(1)),
  Less: (c) => c.b.greater(c.data(1), c.data(0)),
  GreaterOrEqual: (c) => c.b.greaterEqual(c.data(0), c.data(1)),
  LessOrEqual: (c) => c.b.greaterEqual(c.data(1), c.data(0)),
  Equal: (c) => { const a = c.data(0), b = c.data(1); return c.b.mul(c.b.greaterEqual(a, b), c.b.greaterEqual(b, a)); },
  Not: (c) => not(c, c.data(0)),
  And: (c) => c.b.mul(c.data(0), c.data(1)),
  Or: (c) => { const p = c.data(0), q = c.data(1); return c.b.sub(c.b.add(p, q), c.b.mul(p, q)); },
  Where: (c) => c.b.where(c.data(0), c.data(1), c.data(2)),
};

/** Split: its outputs, slices of the input along `axis` by the sizes given, else in equal parts. */
export function split(c: Ctx, n: Node): V[] {
  const x = c.data(0), shape = c.shape(x);
  const axis = axisOf(c, attrInt(n, "axis", 0), shape.length);
  if (axis === 0) c.fail("splits the batch axis; kiln keeps every sample of a batch together");
  const dim = shape[axis]!, parts = n.output.length;
  // Opset 18's num_outputs, when given, must be the outputs' count (as ONNX Runtime holds it).
  const declared = c.opset >= 18 && attr(n, "num_outputs") ? attrInt(n, "num_outputs", parts) : parts;
  if (declared !== parts) c.fail(`declares num_outputs ${declared} but has ${parts} outputs`);
  let sizes = c.opset < 13 ? attrInts(n, "split") : c.has(1) ? [...c.ints(1)] : undefined;
  if (sizes === undefined || sizes.length === 0) {
    // Equal parts (the last smaller when they do not divide, from opset 18).
    const each = Math.ceil(dim / parts);
    if (c.opset < 18 && dim % parts !== 0) c.fail(`splits ${dim} into ${parts} equal parts`);
    sizes = Array.from({ length: parts }, (_v, k) => Math.max(0, Math.min(each, dim - k * each)));
  }
  if (sizes.length !== parts) c.fail(`has ${sizes.length} sizes for ${parts} outputs`);
  if (sizes.some((s) => !Number.isInteger(s) || s < 1) || sizes.reduce((a, b) => a + b, 0) !== dim) {
    c.fail(`splits axis ${axis} of size ${dim} into [${sizes.join(",")}]; expected positive sizes that sum to ${dim}`);
  }
  let at = 0;
  return sizes.map((s) => {
    const y = s === dim ? x : c.b.slice(x, axis, at, at + s);
    at += s;
    return y;
  });
}
