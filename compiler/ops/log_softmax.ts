import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { aroundAxis, axisOf, defineOp, requireF32, type OpDef } from "./def.js";

/**
 * y = x − log Σ exp(x) along `axis` (computed stably, shifted by the max).
 * Backward: dx = g − softmax(x)·Σ g = g − exp(y)·sum(g).
 */
export const log_softmax: OpDef<{ axis: number }> = defineOp({
  attrs: closed({ axis: t.number }),
  arity: 1,
  shape: (ins, a) => {
    requireF32("log_softmax", ins);
    axisOf("log_softmax", ins, a.axis, ins[0]!.shape.length);
    return ins[0]!;
  },
  vjp: (b, g, _ins, y, { axis }) => [b.sub(g, b.mul(b.exp(y), b.sum(g, [axis], true)))],
  lower: (a, [x]) => ({ kernel: "logSoftmax", params: aroundAxis(x!.shape, a.axis < 0 ? a.axis + x!.shape.length : a.axis) }),
});
