import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { defineOp, requireF32, shapeError, type OpDef } from "./def.js";

/**
 * Y = op(A)·op(B), op = transpose of the last two axes when the flag is set. Operands of rank 2,
 * or of one rank r > 2 with equal leading r − 2 axes: one product per leading index (batched, as
 * torch.bmm; attention's Q·Kᵀ and P·V). The gradients use the flags instead of materializing
 * transposes, per batch entry alike:
 *   Y = A·B    dA = G·Bᵀ   dB = Aᵀ·G
 *   Y = A·Bᵀ   dA = G·B    dB = Gᵀ·A
 *   Y = Aᵀ·B   dA = B·Gᵀ   dB = A·G
 *   Y = Aᵀ·Bᵀ  dA = Bᵀ·Gᵀ  dB = Gᵀ·Aᵀ
 * Lowered: p = [M, N, K, transA, transB, batch].
 */
export const matmul: OpDef<{ transA: boolean; transB: boolean }> = defineOp({
  attrs: closed({ transA: t.boolean, transB: t.boolean }),
  arity: 2,
  shape: (ins, a) => {
    requireF32("matmul", ins);
    const [x, y] = [ins[0]!.shape, ins[1]!.shape];
    const r = x.length;
    if (r < 2 || y.length !== r) shapeError("matmul", ins, "expected 2-D operands, or batched ones of one rank with equal leading axes");
    const lead = x.slice(0, r - 2);
    if (lead.some((d, i) => d !== y[i])) shapeError("matmul", ins, `leading (batch) axes differ ([${lead.join(",")}] vs [${y.slice(0, r - 2).join(",")}])`);
    const [m, k1] = a.transA ? [x[r - 1]!, x[r - 2]!] : [x[r - 2]!, x[r - 1]!];
    const [k2, n] = a.transB ? [y[r - 1]!, y[r - 2]!] : [y[r - 2]!, y[r - 1]!];
    if (k1 !== k2) shapeError("matmul", ins, `inner dimensions differ (${k1} vs ${k2})`);
    return { shape: [...lead, m, n], dtype: "f32" };
  },
  flops: (a, ins, out) => {
    const [m, n, k, batch] = dims(a.transA, ins[0]!.shape, out.shape);
    return 2 * batch * m * n * k;
  },
  vjp: (b, g, [x, y], _out, { transA, transB }) => {
    if (!transA && !transB) return [b.matmul(g, y!, false, true), b.matmul(x!, g, true, false)];
    if (!transA && transB) return [b.matmul(g, y!, false, false), b.matmul(g, x!, true, false)];
    if (transA && !transB) return [b.matmul(y!, g, false, true), b.matmul(x!, g, false, false)];
    return [b.matmul(y!, g, true, true), b.matmul(g, x!, true, true)];
  },
  lower: (a, [x], out) => {
    const [m, n, k, batch] = dims(a.transA, x!.shape, out.shape);
    return { kernel: "matmul", params: [m, n, k, a.transA ? 1 : 0, a.transB ? 1 : 0, batch] };
  },
});

/** [M, N, K, batch] of a product with output shape `y` and first operand shape `x`. */
function dims(transA: boolean, x: readonly number[], y: readonly number[]): [number, number, number, number] {
  const r = y.length;
  const batch = y.slice(0, r - 2).reduce((p, d) => p * d, 1);
  return [y[r - 2]!, y[r - 1]!, transA ? x[r - 2]! : x[r - 1]!, batch];
}
