import { defineOp, type OpDef } from "./def.js";
import { lowerReduce, ReduceAttrs, reducedCount, reducedShape, spread } from "./reduce.js";

/** y = (1/n) Σ x over `axes`;  dx = g/n broadcast back over the reduced axes */
export const mean: OpDef<ReduceAttrs> = defineOp({
  attrs: ReduceAttrs,
  arity: 1,
  shape: (ins, a) => reducedShape("mean", ins, a),
  vjp: (b, g, [x], _y, a) => [b.mul(spread(b, g, x!, a), b.scalar(1 / reducedCount(b.type(x!).shape, a)))],
  lower: (a, [x]) => lowerReduce(1 / reducedCount(x!.shape, a), a, x!),
});
