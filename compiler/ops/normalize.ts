import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { aroundAxis, axisOf, defineOp, requireF32, type OpDef } from "./def.js";

/**
 * y = (x − μ)/σ along `axis`, μ = mean, σ = √(biased variance + eps). LayerNorm normalizes each
 * sample over its features (axis 1); BatchNorm each feature over the batch (axis 0).
 *
 * Backward, with means taken along the axis:  dx = (g − mean(g) − y·mean(g·y)) / σ,
 * where 1/σ is recomputed from x with primitives (fusion later merges it into one kernel).
 */
export const normalize: OpDef<{ axis: number; eps: number }> = defineOp({
  attrs: closed({ axis: t.number, eps: t.number }),
  arity: 1,
  shape: (ins, a) => {
    requireF32("normalize", ins);
    axisOf("normalize", ins, a.axis, ins[0]!.shape.length);
    return ins[0]!;
  },
  vjp: (b, g, [x], y, { axis, eps }) => {
    const m = (v: number) => b.mean(v, [axis], true);
    const centered = b.sub(x!, m(x!));
    const rstd = b.rsqrt(b.add(m(b.mul(centered, centered)), b.scalar(eps)));
    return [b.mul(b.sub(b.sub(g, m(g)), b.mul(y, m(b.mul(g, y)))), rstd)];
  },
  lower: (a, [x]) => ({ kernel: "normalize", params: [...aroundAxis(x!.shape, a.axis < 0 ? a.axis + x!.shape.length : a.axis), a.eps] }),
});
