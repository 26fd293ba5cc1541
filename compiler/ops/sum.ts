import { defineOp, type OpDef } from "./def.js";
import { lowerReduce, ReduceAttrs, reducedShape, spread } from "./reduce.js";

/** y = Σ x over `axes`;  dx = g broadcast back over the reduced axes */
export const sum: OpDef<ReduceAttrs> = defineOp({
  attrs: ReduceAttrs,
  arity: 1,
  shape: (ins, a) => reducedShape("sum", ins, a),
  vjp: (b, g, [x], _y, a) => [spread(b, g, x!, a)],
  lower: (a, [x]) => lowerReduce(1, a, x!),
});
