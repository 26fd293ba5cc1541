/**
 * Fused normalization forward over a [rows, cols] matrix, along `axis` (1: each row, layerNorm;
 * 0: each column, batchNorm in training), with the statistics it computes as extra outputs:
 *
 *   μ = mean(x),  σ² = mean((x − μ)²)  (biased),  rstd = 1/√(σ² + ε),  x̂ = (x − μ)·rstd
 *   y = x̂·γ + β  when `affine` (γ, β: one value per column), else y = x̂
 *
 * Inputs: x, then γ, β when affine. Outputs: y unless `y` is false; x̂ when `affine` and `xhat`
 * (something other than the affine still reads it); then μ, rstd, σ², each in keepdims shape
 * ([rows,1] or [1,cols]). The backward (norm_backward) reads x, μ and rstd and recomputes x̂, so
 * x̂ is rarely stored. With `y` false (statistics only: x alone in, μ, rstd, σ² out) the readers
 * recompute y themselves (compiler/passes/recomputeXhat.ts).
 */
import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { perColumn, type ValueType } from "../ir/types.js";
import { axisOf, defineMultiOp, shapeError } from "./def.js";

const Attrs = closed({ axis: t.number, eps: t.number, affine: t.boolean, xhat: t.boolean, y: t.boolean });
export type NormForwardAttrs = t.TypeOf<typeof Attrs>;

const f32PerColumn = (v: ValueType, n: number) => v.dtype === "f32" && perColumn(v.shape, n);

/** Shape of one statistic per normalized group: [rows, 1] along axis 1, [1, cols] along axis 0. */
export const statShape = (shape: readonly number[], axis: number): number[] => (axis === 1 ? [shape[0]!, 1] : [1, shape[1]!]);

export const norm_forward = defineMultiOp<NormForwardAttrs>({
  attrs: Attrs,
  arity: null,
  shapes: (ins, a) => {
    const x = ins[0];
    if (!x || x.dtype !== "f32" || x.shape.length !== 2) shapeError("norm_forward", ins, "expected an f32 matrix x");
    const axis = axisOf("norm_forward", ins, a.axis, 2);
    if (ins.length !== (a.affine ? 3 : 1)) shapeError("norm_forward", ins, a.affine ? "expected x, γ, β" : "expected x alone");
    if (a.affine && !ins.slice(1).every((v) => f32PerColumn(v, x.shape[1]!))) shapeError("norm_forward", ins, `γ and β need one value per column (${x.shape[1]})`);
    if (a.xhat && !a.affine) shapeError("norm_forward", ins, "xhat is an extra output only with affine (else y is x̂)");
    if (!a.y && (a.affine || a.xhat)) shapeError("norm_forward", ins, "statistics only (y false) takes x alone and returns μ, rstd, σ²");
    if (!(a.eps > 0)) shapeError("norm_forward", ins, `eps must be positive, got ${a.eps}`);
    const stat: ValueType = { shape: statShape(x.shape, axis), dtype: "f32" };
    return [...(a.y ? [x] : []), ...(a.xhat ? [x] : []), stat, stat, stat];
  },
  vjp: null,
  flops: (a, [x]) => x!.shape[0]! * x!.shape[1]! * (!a.y ? 3 : a.affine ? 7 : 5),
  lower: (a, [x]) => ({
    kernel: "normForward",
    params: [x!.shape[0]!, x!.shape[1]!, a.axis < 0 ? a.axis + 2 : a.axis, a.eps, a.affine ? 1 : 0, a.xhat ? 1 : 0, a.y ? 1 : 0],
  }),
});
