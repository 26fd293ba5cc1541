/** Shared rule for the reductions `sum` and `mean` over a set of axes. */
import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import type { V, ValueType } from "../ir/types.js";
import { axisOf, requireF32, shapeError, type Emitter, type Lowered } from "./def.js";

export const ReduceAttrs = closed({ axes: t.array(t.number), keepdims: t.boolean });
export type ReduceAttrs = t.TypeOf<typeof ReduceAttrs>;

export function reducedShape(op: string, ins: readonly ValueType[], a: ReduceAttrs): ValueType {
  requireF32(op, ins);
  const shape = ins[0]!.shape;
  const axes = a.axes.map((ax) => axisOf(op, ins, ax, shape.length));
  if (new Set(axes).size !== axes.length) shapeError(op, ins, `repeated axis in ${JSON.stringify(a.axes)}`);
  const out = a.keepdims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_d, i) => !axes.includes(i));
  return { shape: out, dtype: "f32" };
}

/** Number of elements folded into each output element. */
export function reducedCount(shape: readonly number[], a: ReduceAttrs): number {
  return a.axes.map((ax) => shape[ax < 0 ? ax + shape.length : ax]!).reduce((x, y) => x * y, 1);
}

/** Spread the cotangent back over the reduced axes: reshape to keepdims form, then broadcast. */
export function spread(b: Emitter, g: V, x: V, a: ReduceAttrs): V {
  const shape = b.type(x).shape;
  const axes = a.axes.map((ax) => (ax < 0 ? ax + shape.length : ax));
  const kept = b.reshape(g, shape.map((d, i) => (axes.includes(i) ? 1 : d)));
  return b.broadcastTo(kept, shape);
}

export function lowerReduce(scale: number, a: ReduceAttrs, x: ValueType): Lowered {
  const shape = x.shape;
  const axes = a.axes.map((ax) => (ax < 0 ? ax + shape.length : ax));
  const strides = new Array<number>(shape.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (!axes.includes(i)) { strides[i] = s; s *= shape[i]!; }
  }
  return { kernel: "reduceSum", params: [scale, shape.length, ...shape, ...strides] };
}
