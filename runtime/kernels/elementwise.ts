/**
 * Data movement kernels: broadcast, copy, fill. (Elementwise primitives have no kernel here:
 * their code is generated from their definitions, see compiler/ops/elementwise.ts.)
 *
 * Broadcast parameters: p = [rank, ...outShape, ...aStrides, ...bStrides], where a stride is 0
 * along a dimension the operand is broadcast over. Common layouts take a fast path.
 */
import { fits } from "./bounds.js";
import type { AnyArray, FloatArray, Kernel, KernelContext } from "./types.js";

/** Visit (i, ia, ib) for every output element, following per-operand strides. */
function strided(p: readonly number[], visit: (i: number, ia: number, ib: number) => void): void {
  const rank = p[0]!;
  const shape = p.slice(1, 1 + rank), sa = p.slice(1 + rank, 1 + 2 * rank), sb = p.slice(1 + 2 * rank, 1 + 3 * rank);
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(rank).fill(0);
  let ia = 0, ib = 0;
  for (let i = 0; i < n; i++) {
    visit(i, ia, ib);
    // Odometer: bump the last dimension, carrying into earlier ones.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      ia += sa[d]!;
      ib += sb[d]!;
      if (idx[d]! < shape[d]!) break;
      ia -= sa[d]! * shape[d]!;
      ib -= sb[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/** y = x broadcast to the output shape; p = [rank, ...outShape, ...xStrides, ...unused]. */
export const broadcast: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  if (x.length === y.length) y.set(x);
  else if (x.length === 1) y.fill(x[0]!);
  else strided(p, (i, ia) => { y[i] = x[ia]!; });
};

/** y = x with its axes permuted; p = [rank, ...outShape, ...xStrides (permuted), ...unused]. */
export const transpose: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  strided(p, (i, ia) => { y[i] = x[ia]!; });
};

/** Plain copy (reshape is a copy); in an arena, a WebAssembly SIMD loop. */
export const copy: Kernel = Object.assign((bufs: readonly AnyArray[]) => {
  (bufs[1] as FloatArray).set(bufs[0] as FloatArray);
}, {
  prepare: (bufs: readonly AnyArray[], _p: readonly number[], ctx: KernelContext) => {
    fits("copy", "x", bufs[0], bufs[1]!.length);
    return ctx.wasm.copy.bind(null, bufs[0]!.byteOffset, bufs[1]!.byteOffset, bufs[1]!.length) as () => void;
  },
});

/** Fill with the constant p[0]; in an arena, a WebAssembly SIMD loop. */
export const fill: Kernel = Object.assign((bufs: readonly AnyArray[], p: readonly number[]) => {
  (bufs[0] as FloatArray).fill(p[0]!);
}, {
  prepare: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) =>
    ctx.wasm.fill.bind(null, bufs[0]!.byteOffset, bufs[0]!.length, p[0]!) as () => void,
});
