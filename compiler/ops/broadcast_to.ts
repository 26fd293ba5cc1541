import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { broadcastWasm } from "./axis_block.js";
import { broadcastStrides, defineOp, requireF32, shapeError, type OpDef } from "./def.js";

/** Repeat x along dimensions of size 1 (or missing leading ones);  dx = g summed back to x's shape */
export const broadcast_to: OpDef<{ shape: number[] }> = defineOp({
  attrs: closed({ shape: t.array(t.number) }),
  arity: 1,
  shape: (ins, a) => {
    requireF32("broadcast_to", ins);
    const x = ins[0]!.shape, off = a.shape.length - x.length;
    if (off < 0 || x.some((d, i) => d !== 1 && d !== a.shape[off + i])) {
      shapeError("broadcast_to", ins, `cannot broadcast to [${a.shape.join(",")}]`);
    }
    return { shape: a.shape, dtype: "f32" };
  },
  vjp: (b, g, [x]) => [b.sumTo(g, b.type(x!).shape)],
  lower: (_a, [x], out) => {
    const strides = broadcastStrides(x!.shape, out.shape);
    const view = broadcastView(out.shape, strides);
    return {
      kernel: "broadcast",
      params: [out.shape.length, ...out.shape, ...strides, ...new Array<number>(out.shape.length).fill(0)],
      wasm: broadcastWasm(view.d, view.s),
    };
  },
});

/**
 * The broadcast as y[i0, …, ik] = x[Σ ij·sj]: dimensions of size 1 dropped, neighbours merged
 * when both are broadcast (stride 0) or x is contiguous across them. Every broadcast of a rank-2
 * tensor is three runs or fewer; a rank-4 one can be four ([a,1,b,1] to [a,c,b,d]). The last
 * run's stride is 0 or 1 for a broadcast (x's innermost kept dimension is contiguous); a
 * transpose's permuted strides (compiler/ops/transpose.ts) take the same view, any stride last.
 */
export function broadcastView(shape: readonly number[], strides: readonly number[]): { d: number[]; s: number[] } {
  const runs: { size: number; stride: number }[] = [];
  shape.forEach((size, i) => {
    if (size === 1) return;
    const stride = strides[i]!, last = runs[runs.length - 1];
    if (last && ((last.stride === 0 && stride === 0) || (last.stride !== 0 && stride !== 0 && last.stride === stride * size))) {
      last.size *= size;
      last.stride = stride;
    } else runs.push({ size, stride });
  });
  if (runs.length === 0) runs.push({ size: 1, stride: 0 });
  return { d: runs.map((r) => r.size), s: runs.map((r) => r.stride) };
}
