/**
 * Reductions and normalizations along one axis, viewed as [outer, n, inner]: a 2-D [rows, cols]
 * tensor reduced over axis 1 is (rows, cols, 1), over axis 0 it is (1, rows, cols).
 */
import { fits } from "./bounds.js";
import { scratch } from "./scratch.js";
import type { AnyArray, FloatArray, Kernel, KernelContext } from "./types.js";

/**
 * y = scale · Σ x over the reduced dimensions. p = [scale, rank, ...shape, ...outStrides] where
 * an output stride is 0 along a reduced dimension (so every reduced index lands on one cell).
 */
export const reduceSum: Kernel = Object.assign((bufs: readonly AnyArray[], p: readonly number[]) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  const scale = p[0]!, rank = p[1]!;
  if (y.length === 1) return totalSum(x, y, scale);
  if (rank === 2) {
    const rows = p[2]!, cols = p[3]!, s0 = p[4]!, s1 = p[5]!;
    if (s0 === 0 && s1 === 1) return columnSums(x, y, rows, cols, scale);
    if (s0 === 1 && s1 === 0) return rowSums(x, y, rows, cols, scale);
  }
  generalSum(x, y, p);
}, {
  /** In WebAssembly whenever the reduction is one [outer, n, inner] view (see outerInner). */
  prepare: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) => {
    const view = outerInner(p);
    if (!view) return null;
    const [outer, n, inner] = view;
    fits("reduceSum", "x", bufs[0], outer * n * inner); fits("reduceSum", "y", bufs[1], outer * inner);
    return ctx.wasm.reduceSum.bind(null, bufs[0]!.byteOffset, bufs[1]!.byteOffset, outer, n, inner, p[0]!) as () => void;
  },
});

/**
 * The reduction as y[o, i] = Σ_k x[o, k, i]: dimensions of size 1 dropped, neighbours of the same
 * kind (reduced: output stride 0, or kept) merged; any layout of at most kept·reduced·kept is one
 * such view (every sum the passes make of a rank-2 or lower tensor). null for anything else.
 */
export function outerInner(p: readonly number[]): [number, number, number] | null {
  const rank = p[1]!;
  const runs: { reduced: boolean; size: number }[] = [];
  for (let d = 0; d < rank; d++) {
    const size = p[2 + d]!, reduced = p[2 + rank + d] === 0;
    if (size === 1) continue;
    const last = runs[runs.length - 1];
    if (last && last.reduced === reduced) last.size *= size;
    else runs.push({ reduced, size });
  }
  // Nothing reduced (only dimensions of size 1): a scaled copy, as one row stream.
  if (runs.length === 1 && !runs[0]!.reduced) runs.unshift({ reduced: false, size: 1 }, { reduced: true, size: 1 });
  if (runs.length > 0 && runs[0]!.reduced) runs.unshift({ reduced: false, size: 1 });
  const [outer, mid, inner] = runs;
  if (runs.length > 3) return null;
  return [outer?.size ?? 1, mid?.size ?? 1, inner?.size ?? 1];
}

/** y[j] = scale·Σ_r x[r, j], rows streamed contiguously into float64 accumulators. */
function columnSums(x: FloatArray, y: FloatArray, rows: number, cols: number, scale: number): void {
  const acc = scratch(cols);
  acc.fill(0, 0, cols);
  for (let r = 0, o = 0; r < rows; r++, o += cols) for (let j = 0; j < cols; j++) acc[j]! += x[o + j]!;
  for (let j = 0; j < cols; j++) y[j] = acc[j]! * scale;
}

/** Σ_j x[o + j] over n elements, in four float64 accumulators so the adds do not wait on each other. */
export function rowSum(x: FloatArray, o: number, n: number): number {
  let a = 0, b = 0, c = 0, d = 0, j = 0;
  for (; j + 3 < n; j += 4) { a += x[o + j]!; b += x[o + j + 1]!; c += x[o + j + 2]!; d += x[o + j + 3]!; }
  for (; j < n; j++) a += x[o + j]!;
  return a + b + c + d;
}

/** y[0] = scale·Σ x. */
function totalSum(x: FloatArray, y: FloatArray, scale: number): void {
  y[0] = rowSum(x, 0, x.length) * scale;
}

/** y[r] = scale·Σ_j x[r, j]. */
function rowSums(x: FloatArray, y: FloatArray, rows: number, cols: number, scale: number): void {
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    let a = 0;
    for (let j = 0; j < cols; j++) a += x[o + j]!;
    y[r] = a * scale;
  }
}

/** Any rank and axes: an odometer over x, each element added to the output cell its strides name. */
function generalSum(x: FloatArray, y: FloatArray, p: readonly number[]): void {
  const scale = p[0]!, rank = p[1]!;
  const shape = p.slice(2, 2 + rank), so = p.slice(2 + rank, 2 + 2 * rank);
  // Accumulate in float64 whatever the buffer type, then round once.
  const acc = scratch(y.length);
  acc.fill(0, 0, y.length);
  const idx = new Array<number>(rank).fill(0);
  let io = 0;
  for (let i = 0; i < x.length; i++) {
    acc[io]! += x[i]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      io += so[d]!;
      if (idx[d]! < shape[d]!) break;
      io -= so[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  for (let i = 0; i < y.length; i++) y[i] = acc[i]! * scale;
};

/**
 * y = (x − mean) / √(var + eps) along the middle axis of [outer, n, inner], biased variance
 * (two passes, so it stays exact when the mean is large). p = [outer, n, inner, eps].
 */
export const normalize: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  const outer = p[0]!, n = p[1]!, inner = p[2]!, eps = p[3]!;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let s = 0;
      for (let k = 0; k < n; k++) s += x[base + k * inner]!;
      const mean = s / n;
      let v = 0;
      for (let k = 0; k < n; k++) { const d = x[base + k * inner]! - mean; v += d * d; }
      const rstd = 1 / Math.sqrt(v / n + eps);
      for (let k = 0; k < n; k++) y[base + k * inner] = (x[base + k * inner]! - mean) * rstd;
    }
  }
};

/** y = x − log Σ exp(x) along the middle axis, shifted by the maximum for stability. p = [outer, n, inner]. */
export const logSoftmax: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  const outer = p[0]!, n = p[1]!, inner = p[2]!;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, x[base + k * inner]!);
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(x[base + k * inner]! - m);
      const lse = m + Math.log(s);
      for (let k = 0; k < n; k++) y[base + k * inner] = x[base + k * inner]! - lse;
    }
  }
};
