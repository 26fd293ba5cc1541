/**
 * Kernels that move blocks (slice, pad, concat) and the max reduction, all over the view
 * [outer, n, inner] of a tensor around one axis (or a contiguous run of axes): block o of a
 * tensor is its elements o·n·inner … (o+1)·n·inner − 1.
 */
import type { FloatArray, Kernel } from "./types.js";

/** y = x[:, start:end, :]; p = [outer, n, inner, start, end]. */
export const slice: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  const [outer, n, inner, start, end] = p as [number, number, number, number, number];
  const w = (end - start) * inner;
  for (let o = 0; o < outer; o++) y.set(x.subarray(o * n * inner + start * inner, o * n * inner + start * inner + w), o * w);
};

/** y = x with `before` and `after` zero rows around it on the axis; p = [outer, n, inner, before, after] (n: x's size). */
export const pad: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  const [outer, n, inner, before, after] = p as [number, number, number, number, number];
  const m = (n + before + after) * inner;
  y.fill(0);
  for (let o = 0; o < outer; o++) y.set(x.subarray(o * n * inner, (o + 1) * n * inner), o * m + before * inner);
};

/** y = the inputs side by side on the axis; p = [outer, inner, k, n₀, …, n_{k−1}], buffers: k inputs then y. */
export const concat: Kernel = (bufs, p) => {
  const outer = p[0]!, inner = p[1]!, k = p[2]!, ns = p.slice(3, 3 + k);
  const y = bufs[k] as FloatArray, m = ns.reduce((a, b) => a + b, 0) * inner;
  let at = 0;
  for (let j = 0; j < k; j++) {
    const x = bufs[j] as FloatArray, w = ns[j]! * inner;
    for (let o = 0; o < outer; o++) y.set(x.subarray(o * w, (o + 1) * w), o * m + at);
    at += w;
  }
};

/** The max of group (o, i): IEEE maximum (NaN if any element is, +0 over −0), as Math.max and WebAssembly's f32.max. */
function groupMax(x: FloatArray, at: number, n: number, inner: number): number {
  let m = -Infinity;
  for (let k = 0; k < n; k++, at += inner) m = Math.max(m, x[at]!);
  return m;
}

/** y[o, i] = max over k of x[o, k, i]; p = [outer, n, inner]. */
export const reduceMax: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  const [outer, n, inner] = p as [number, number, number];
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) y[o * inner + i] = groupMax(x, o * n * inner + i, n, inner);
};

/**
 * mask[o, k, i] = 1 at the FIRST k where x[o, k, i] equals the group's max (the first NaN if
 * there is one), else 0: where the max's gradient goes (as PyTorch's max). p = [outer, n, inner].
 */
export const maxMask: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  const [outer, n, inner] = p as [number, number, number];
  y.fill(0);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i, m = groupMax(x, base, n, inner);
      for (let k = 0, at = base; k < n; k++, at += inner) {
        const v = x[at]!;
        if (v === m || v !== v) { y[at] = 1; break; }
      }
    }
  }
};

/** torch.tril / triu over the last two axes of [outer, m, n]; p = [outer, m, n, diagonal, upper]. */
export const tril: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  const [outer, m, n, diagonal, upper] = p as [number, number, number, number, number];
  for (let o = 0, at = 0; o < outer; o++) {
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++, at++) y[at] = (upper ? j - i >= diagonal : j - i <= diagonal) ? x[at]! : 0;
  }
};
