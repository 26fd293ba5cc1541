/**
 * y = max of x over a contiguous run of axes (numpy-style `axes`, `keepdims`; the builder splits
 * other axis sets into runs). dx = g broadcast back, times max_mask(x): the whole gradient to the
 * FIRST maximal element in row-major order, as PyTorch's max.
 */
import type { ValueType } from "../ir/types.js";
import { maxWasm } from "./axis_block.js";
import { defineOp, shapeError, type OpDef } from "./def.js";
import { ReduceAttrs, reducedShape, spread } from "./reduce.js";

/** [outer, n, inner] with n the product of the reduced (contiguous) axes. */
export function maxView(op: string, ins: readonly ValueType[], a: ReduceAttrs): [number, number, number] {
  const shape = ins[0]!.shape;
  const axes = a.axes.map((ax) => (ax < 0 ? ax + shape.length : ax)).sort((p, q) => p - q);
  if (axes.length === 0) shapeError(op, ins, "needs at least one axis");
  if (axes.some((ax, i) => i > 0 && ax !== axes[i - 1]! + 1)) shapeError(op, ins, `axes ${JSON.stringify(a.axes)} are not contiguous`);
  const prod = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);
  const n = prod(shape.slice(axes[0], axes.at(-1)! + 1));
  if (n === 0) shapeError(op, ins, "the max of no elements is undefined (a reduced axis has size 0)");
  return [prod(shape.slice(0, axes[0])), n, prod(shape.slice(axes.at(-1)! + 1))];
}

export const max: OpDef<ReduceAttrs> = defineOp({
  attrs: ReduceAttrs,
  arity: 1,
  shape: (ins, a) => {
    const out = reducedShape("max", ins, a);
    maxView("max", ins, a);
    return out;
  },
  vjp: (b, g, [x], _y, a) => [b.mul(spread(b, g, x!, a), b.maxMask(x!, a.axes))],
  lower: (a, [x]) => {
    const view = maxView("max", [x!], a);
    return { kernel: "reduceMax", params: view, wasm: maxWasm(...view, false) };
  },
});
