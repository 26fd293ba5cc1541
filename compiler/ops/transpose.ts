import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { transposeWasm } from "./axis_block.js";
import { defineOp, requireF32, shapeError, type OpDef } from "./def.js";

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
    const strides = permutedStrides(x!.shape, a.perm);
    const view = transposeView(out.shape, strides);
    return {
      kernel: "transpose",
      params: [out.shape.length, ...out.shape, ...strides, ...new Array<number>(out.shape.length).fill(0)],
      wasm: transposeWasm(view.d, view.s),
    };
  },
  flops: () => 0,
});

export const isPermutation = (perm: readonly number[], rank: number): boolean =>
  perm.length === rank && perm.every((p) => Number.isInteger(p) && p >= 0 && p < rank) && new Set(perm).size === rank;

export const inverse = (perm: readonly number[]): number[] => {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, d) => (inv[p] = d));
  return inv;
};

/** x's stride (in elements) along the axis that becomes output axis d. */
function permutedStrides(shape: readonly number[], perm: readonly number[]): number[] {
  const own = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; d--) { own[d] = s; s *= shape[d]!; }
  return perm.map((p) => own[p]!);
}

/**
 * y as runs [d0, …, dk] read at Σ ij·sj: axes of size 1 dropped, neighbours merged where x is
 * contiguous across them (an output axis pair that was a pair in x, in order), so a transpose that
 * keeps the last axis copies rows of it.
 */
export function transposeView(shape: readonly number[], strides: readonly number[]): { d: number[]; s: number[] } {
  const runs: { size: number; stride: number }[] = [];
  shape.forEach((size, i) => {
    if (size === 1) return;
    const stride = strides[i]!, last = runs[runs.length - 1];
    if (last && last.stride === stride * size) {
      last.size *= size;
      last.stride = stride;
    } else runs.push({ size, stride });
  });
  if (runs.length === 0) runs.push({ size: 1, stride: 1 });
  return { d: runs.map((r) => r.size), s: runs.map((r) => r.stride) };
}
