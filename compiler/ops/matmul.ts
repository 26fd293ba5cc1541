import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { defineOp, requireF32, shapeError, type OpDef } from "./def.js";

/**
 * Y = op(A)·op(B) for 2-D operands, op = transpose when the flag is set. The gradients use the
 * flags instead of materializing transposes:
 *   Y = A·B    dA = G·Bᵀ   dB = Aᵀ·G
 *   Y = A·Bᵀ   dA = G·B    dB = Gᵀ·A
 *   Y = Aᵀ·B   dA = B·Gᵀ   dB = A·G
 *   Y = Aᵀ·Bᵀ  dA = Bᵀ·Gᵀ  dB = Gᵀ·Aᵀ
 */
export const matmul: OpDef<{ transA: boolean; transB: boolean }> = defineOp({
  attrs: closed({ transA: t.boolean, transB: t.boolean }),
  arity: 2,
  shape: (ins, a) => {
    requireF32("matmul", ins);
    const [x, y] = [ins[0]!.shape, ins[1]!.shape];
    if (x.length !== 2 || y.length !== 2) shapeError("matmul", ins, "expected 2-D operands");
    const [m, k1] = a.transA ? [x[1]!, x[0]!] : [x[0]!, x[1]!];
    const [k2, n] = a.transB ? [y[1]!, y[0]!] : [y[0]!, y[1]!];
    if (k1 !== k2) shapeError("matmul", ins, `inner dimensions differ (${k1} vs ${k2})`);
    return { shape: [m, n], dtype: "f32" };
  },
  flops: (a, ins, out) => 2 * out.shape[0]! * out.shape[1]! * (a.transA ? ins[0]!.shape[0]! : ins[0]!.shape[1]!),
  vjp: (b, g, [x, y], _out, { transA, transB }) => {
    if (!transA && !transB) return [b.matmul(g, y!, false, true), b.matmul(x!, g, true, false)];
    if (!transA && transB) return [b.matmul(g, y!, false, false), b.matmul(g, x!, true, false)];
    if (transA && !transB) return [b.matmul(y!, g, false, true), b.matmul(x!, g, false, false)];
    return [b.matmul(y!, g, true, true), b.matmul(g, x!, true, true)];
  },
  lower: (a, [x], out) => ({
    kernel: "matmul",
    params: [out.shape[0]!, out.shape[1]!, a.transA ? x!.shape[0]! : x!.shape[1]!, a.transA ? 1 : 0, a.transB ? 1 : 0],
  }),
});
