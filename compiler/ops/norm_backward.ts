/**
 * Fused normalization backward (the vjp of normalize, then of the affine), along `axis` of a
 * [rows, cols] matrix, means taken along the axis:
 *
 *   x̂ = (x − μ)·rstd                    recomputed from norm_forward's statistics, not stored
 *   g = dy·γ  (affine)  or  g = dy
 *   dx = rstd·(g − mean(g) − x̂·mean(g·x̂))
 *   dγ = Σ_rows dy·x̂,   dβ = Σ_rows dy   (affine only; γ's shape)
 *
 * Inputs: dy, x, μ, rstd, then γ when affine. Outputs: dx, then dγ, dβ when affine.
 */
import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { sameShape } from "../ir/types.js";
import { axisOf, defineMultiOp, shapeError } from "./def.js";
import { statShape } from "./norm_forward.js";

const Attrs = closed({ axis: t.number, affine: t.boolean });
export type NormBackwardAttrs = t.TypeOf<typeof Attrs>;

export const norm_backward = defineMultiOp<NormBackwardAttrs>({
  attrs: Attrs,
  arity: null,
  shapes: (ins, a) => {
    if (ins.length !== (a.affine ? 5 : 4)) shapeError("norm_backward", ins, a.affine ? "expected dy, x, μ, rstd, γ" : "expected dy, x, μ, rstd");
    if (ins.some((v) => v.dtype !== "f32")) shapeError("norm_backward", ins, "expected f32 operands");
    const dy = ins[0]!, x = ins[1]!, mean = ins[2]!, rstd = ins[3]!, gamma = ins[4];
    if (x.shape.length !== 2 || !sameShape(dy.shape, x.shape)) shapeError("norm_backward", ins, "expected dy and x of one matrix shape");
    const axis = axisOf("norm_backward", ins, a.axis, 2);
    const stat = statShape(x.shape, axis);
    if (!sameShape(mean.shape, stat) || !sameShape(rstd.shape, stat)) shapeError("norm_backward", ins, `expected μ and rstd of shape [${stat.join(",")}]`);
    if (!gamma) return [x];
    const n = x.shape[1]!;
    if (!((gamma.shape.length === 1 && gamma.shape[0] === n) || (gamma.shape.length === 2 && gamma.shape[0] === 1 && gamma.shape[1] === n))) {
      shapeError("norm_backward", ins, `γ needs one value per column (${n})`);
    }
    return [x, gamma, gamma];
  },
  vjp: null,
  flops: (a, [x]) => x!.shape[0]! * x!.shape[1]! * (a.affine ? 14 : 10),
  lower: (a, [, x]) => ({ kernel: "normBackward", params: [x!.shape[0]!, x!.shape[1]!, a.axis < 0 ? a.axis + 2 : a.axis, a.affine ? 1 : 0] }),
});
