import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { broadcastWasm } from "./axis_block.js";
import { broadcastView } from "./broadcast_to.js";
import { broadcastStrides, defineOp, requireF32, shapeError, type OpDef } from "./def.js";

/**
 * y = x with its axes permuted: y[i0, …, ir] = x at index j with j[perm[d]] = i_d (torch.permute,
 * numpy.transpose, ONNX Transpose); dx = transpose(g, perm⁻¹). A copy that reads x with permuted
 * strides (multi-head attention's [batch, tokens, heads, d] ↔ [batch, heads, tokens, d]).
 */
export const transpose: OpDef<{ perm: number[] }> = defineOp({
  attrs: closed({ perm: t.array(t.number) }),
  arity: 1,
  shape: (ins, a) => {
    requireF32("transpose", ins);
    const x = ins[0]!.shape;
    if (!isPermutation(a.perm, x.length)) shapeError("transpose", ins, `perm [${a.perm.join(",")}] is not a permutation of the ${x.length} axes`);
    return { shape: a.perm.map((p) => x[p]!), dtype: "f32" };
  },
  vjp: (b, g, _ins, _out, { perm }) => [b.transpose(g!, inverse(perm))],
  lower: (a, [x], out) => {
    // x's own strides, permuted: output axis d reads x's axis perm[d]. The broadcast's strided
    // copy then serves (its runs merge where x is contiguous, so a kept last axis copies rows).
    const own = broadcastStrides(x!.shape, x!.shape), strides = a.perm.map((p) => own[p]!);
    const view = broadcastView(out.shape, strides);
    return {
      kernel: "transpose",
      params: [out.shape.length, ...out.shape, ...strides, ...new Array<number>(out.shape.length).fill(0)],
      wasm: broadcastWasm(view.d, view.s),
    };
  },
  flops: () => 0,
});

const isPermutation = (perm: readonly number[], rank: number): boolean =>
  perm.length === rank && perm.every((p) => Number.isInteger(p) && p >= 0 && p < rank) && new Set(perm).size === rank;

const inverse = (perm: readonly number[]): number[] => {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, d) => (inv[p] = d));
  return inv;
};
