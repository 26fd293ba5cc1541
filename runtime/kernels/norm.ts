/**
 * Fused normalization kernels over a [rows, cols] matrix, along axis 1 (each row: layerNorm) or
 * axis 0 (each column: batchNorm). Sums accumulate in float64; inner loops run along rows, so
 * the column case keeps one float64 accumulator per column in the shared scratch buffer.
 *
 * The backward recomputes x̂ = (x − μ)·rstd from the stored statistics. μ was rounded to f32
 * when stored; the same pass that gathers Σg and Σg·(x − μ) also gathers δ = mean(x − μ), and
 * x̂ = (x − μ − δ)·rstd then uses the float64 mean again, so nothing is lost when |μ| ≫ σ.
 */
import { rowSum } from "./reduce.js";
import { scratch } from "./scratch.js";
import { BATCHNORM } from "../wasm/batchnorm.js";
import { fitsAll } from "./bounds.js";
import { LAYERNORM } from "../wasm/norm.js";
import { type AnyArray, type FloatArray, type Kernel, type KernelContext } from "./types.js";

type F = FloatArray;

/** Σ_j (x[o + j] − mu)² over one row, in four float64 accumulators like rowSum (reduce.ts). */
function rowSquares(x: F, o: number, n: number, mu: number): number {
  let a = 0, b = 0, c = 0, d = 0, j = 0;
  for (; j + 3 < n; j += 4) {
    const t0 = x[o + j]! - mu, t1 = x[o + j + 1]! - mu, t2 = x[o + j + 2]! - mu, t3 = x[o + j + 3]! - mu;
    a += t0 * t0; b += t1 * t1; c += t2 * t2; d += t3 * t3;
  }
  for (; j < n; j++) { const t = x[o + j]! - mu; a += t * t; }
  return a + b + c + d;
}

/**
 * y = x̂·γ + β (or x̂), x̂ = (x − μ)·rstd; also x̂ (if asked), μ, rstd and the biased variance;
 * without y (statistics only), μ, rstd and σ² alone.
 * p = [rows, cols, axis, eps, affine, xhat, y]; bufs = x, (γ, β), (y), (x̂), μ, rstd, σ².
 */
const normForwardJs = (bufs: readonly AnyArray[], p: readonly number[]): void => {
  const rows = p[0]!, cols = p[1]!, axis = p[2]!, eps = p[3]!, affine = p[4]!, xhat = p[5]!, hasY = p[6]!;
  let k = 1;
  const x = bufs[0] as F;
  const gamma = affine ? (bufs[k++] as F) : null, beta = affine ? (bufs[k++] as F) : null;
  const y = hasY ? (bufs[k++] as F) : null, xh = xhat ? (bufs[k++] as F) : null;
  const mean = bufs[k++] as F, rstd = bufs[k++] as F, variance = bufs[k] as F;
  if (axis === 1) {
    for (let r = 0, o = 0; r < rows; r++, o += cols) {
      const mu = rowSum(x, o, cols) / cols;
      const vr = rowSquares(x, o, cols, mu) / cols, rs = 1 / Math.sqrt(vr + eps);
      mean[r] = mu; rstd[r] = rs; variance[r] = vr;
      if (!y) continue;
      if (gamma && beta) {
        for (let j = 0; j < cols; j++) {
          const h = (x[o + j]! - mu) * rs;
          if (xh) xh[o + j] = h;
          y[o + j] = h * gamma[j]! + beta[j]!;
        }
      } else for (let j = 0; j < cols; j++) y[o + j] = (x[o + j]! - mu) * rs;
    }
    return;
  }
  // Columns: acc[j] = Σ x then μ_j; acc[cols + j] = Σ (x − μ)² then rstd_j.
  const acc = scratch(2 * cols);
  acc.fill(0, 0, 2 * cols);
  for (let r = 0, o = 0; r < rows; r++, o += cols) for (let j = 0; j < cols; j++) acc[j]! += x[o + j]!;
  for (let j = 0; j < cols; j++) acc[j] = acc[j]! / rows;
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    for (let j = 0; j < cols; j++) { const d = x[o + j]! - acc[j]!; acc[cols + j]! += d * d; }
  }
  for (let j = 0; j < cols; j++) {
    const vr = acc[cols + j]! / rows, rs = 1 / Math.sqrt(vr + eps);
    mean[j] = acc[j]!; rstd[j] = rs; variance[j] = vr; acc[cols + j] = rs;
  }
  if (!y) return;
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    if (gamma && beta) {
      for (let j = 0; j < cols; j++) {
        const h = (x[o + j]! - acc[j]!) * acc[cols + j]!;
        if (xh) xh[o + j] = h;
        y[o + j] = h * gamma[j]! + beta[j]!;
      }
    } else for (let j = 0; j < cols; j++) y[o + j] = (x[o + j]! - acc[j]!) * acc[cols + j]!;
  }
};

/**
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ (affine) or dy; dγ = Σ_rows dy·x̂,
 * dβ = Σ_rows dy. p = [rows, cols, axis, affine]; bufs = dy, x, μ, rstd, (γ), dx, (dγ, dβ).
 */
const normBackwardJs = (bufs: readonly AnyArray[], p: readonly number[]): void => {
  const rows = p[0]!, cols = p[1]!, axis = p[2]!, affine = p[3]!;
  const dy = bufs[0] as F, x = bufs[1] as F, mean = bufs[2] as F, rstd = bufs[3] as F;
  const gamma = affine ? (bufs[4] as F) : null;
  const dx = bufs[affine ? 5 : 4] as F;
  const dgamma = affine ? (bufs[6] as F) : null, dbeta = affine ? (bufs[7] as F) : null;
  if (axis === 1) rowsBackward(rows, cols, dy, x, mean, rstd, gamma, dx, dgamma, dbeta);
  else colsBackward(rows, cols, dy, x, mean, rstd, gamma, dx, dgamma, dbeta);
};

/** One row at a time: gather Σg, Σg·(x − μ), Σ(x − μ); then write dx and accumulate dγ, dβ. */
function rowsBackward(rows: number, cols: number, dy: F, x: F, mean: F, rstd: F, gamma: F | null, dx: F, dgamma: F | null, dbeta: F | null): void {
  const acc = scratch(2 * cols); // Σ dy·x̂ and Σ dy per column
  acc.fill(0, 0, 2 * cols);
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    const m = mean[r]!, rs = rstd[r]!;
    let sg = 0, sgd = 0, sd = 0;
    if (gamma) {
      for (let j = 0; j < cols; j++) { const d = x[o + j]! - m, g = dy[o + j]! * gamma[j]!; sg += g; sgd += g * d; sd += d; }
    } else {
      for (let j = 0; j < cols; j++) { const d = x[o + j]! - m, g = dy[o + j]!; sg += g; sgd += g * d; sd += d; }
    }
    // x̂ = (x − μ − δ)·rs, so mean(g·x̂) = rs·(Σg·(x − μ) − δ·Σg)/n.
    const delta = sd / cols, mg = sg / cols, mgx = (rs * (sgd - delta * sg)) / cols;
    if (gamma) {
      for (let j = 0; j < cols; j++) {
        const h = (x[o + j]! - m - delta) * rs, t = dy[o + j]!;
        dx[o + j] = (t * gamma[j]! - mg - h * mgx) * rs;
        acc[j]! += t * h;
        acc[cols + j]! += t;
      }
    } else {
      for (let j = 0; j < cols; j++) {
        const h = (x[o + j]! - m - delta) * rs;
        dx[o + j] = (dy[o + j]! - mg - h * mgx) * rs;
      }
    }
  }
  if (dgamma && dbeta) for (let j = 0; j < cols; j++) { dgamma[j] = acc[j]!; dbeta[j] = acc[cols + j]!; }
}

/**
 * Columns: one pass gathers per column Σdy, Σdy·(x − μ), Σ(x − μ); then, with γ, rs, the row
 * count n and δ = Σ(x − μ)/n folded into per-column coefficients,
 *   dx = γ·rs·dy − γ·rs·Σdy/n − (x − μ − δ)·γ·rs²·Σ(dy·x̂)/n.
 */
function colsBackward(rows: number, cols: number, dy: F, x: F, mean: F, rstd: F, gamma: F | null, dx: F, dgamma: F | null, dbeta: F | null): void {
  const acc = scratch(4 * cols);
  acc.fill(0, 0, 3 * cols);
  const S = 0, SD = cols, D = 2 * cols, SHIFT = 3 * cols;
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    for (let j = 0; j < cols; j++) {
      const d = x[o + j]! - mean[j]!, t = dy[o + j]!;
      acc[S + j]! += t; acc[SD + j]! += t * d; acc[D + j]! += d;
    }
  }
  for (let j = 0; j < cols; j++) {
    const rs = rstd[j]!, delta = acc[D + j]! / rows, sdy = acc[S + j]!;
    const sdyx = rs * (acc[SD + j]! - delta * sdy); // Σ dy·x̂
    if (dgamma && dbeta) { dgamma[j] = sdyx; dbeta[j] = sdy; }
    const c1 = (gamma ? gamma[j]! : 1) * rs;
    acc[S + j] = c1;                        // coefficient of dy
    acc[SD + j] = (c1 * sdy) / rows;        // constant term
    acc[D + j] = (c1 * rs * sdyx) / rows;   // coefficient of (x − μ − δ)
    acc[SHIFT + j] = mean[j]! + delta;
  }
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    for (let j = 0; j < cols; j++) {
      dx[o + j] = acc[S + j]! * dy[o + j]! - acc[SD + j]! - (x[o + j]! - acc[SHIFT + j]!) * acc[D + j]!;
    }
  }
}

/**
 * Normalizations run on one thread, whatever the pool has: they are memory-bound (~8 flops per
 * element), and halves written by two cores leave each half in its core's cache, so the next
 * kernel, which reads all of it on the calling thread, pays more than the split saved. Measured
 * 1 vs 2 threads in one process, idle: seq(layerNorm(1024)) gradients at batch 256 0.87× with the
 * halves, 1.00× without; W2 1.42× → 1.59×, W2b 1.47× → 1.65×, W3 1.75× → 1.85×. Measured again
 * with rows split in fixed chunks of 2^17 elements (dγ, dβ summed per chunk, then in chunk order):
 * the bench's W4, whose x and dy are written once and then only read, went from 400 to 250 µs
 * (median, interleaved, shared machine), but the same layerNorm through net.gradients, where
 * each call copies x in on this thread, ran at 0.92× and through net.predict at 1.00×.
 */
function call(ctx: KernelContext, name: NormExport, args: number[]): () => void {
  return (ctx.wasm[name] as (...a: number[]) => void).bind(null, ...args) as () => void;
}

type NormExport = "layerNormFwd" | "layerNormBwd" | "batchNormFwd" | "batchNormBwd";

/**
 * In an arena, both axes run in WebAssembly SIMD — the same formulas, summed in float32 lanes.
 */
export const normForward: Kernel = Object.assign(normForwardJs, {
  prepare: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) => {
    const rows = p[0]!, cols = p[1]!, axis = p[2]!, eps = p[3]!, affine = p[4]!, xhat = p[5]!, hasY = p[6]!;
    // bufs = x, (γ, β), (y), (x̂), μ, rstd, σ² (one per row or column); both kernels take them in that order.
    const n = axis === 0 ? cols : rows;
    fitsAll("norm_forward", bufs, [rows * cols, ...(affine ? [cols, cols] : []), ...(hasY ? [rows * cols] : []), ...(xhat ? [rows * cols] : []), n, n, n]);
    const at = (i: number) => bufs[i]!.byteOffset;
    let k = 1;
    const [g, b] = affine ? [at(k++), at(k++)] : [0, 0];
    const y = hasY ? at(k++) : 0, xh = xhat ? at(k++) : 0;
    const stats = [at(k), at(k + 1), at(k + 2)];
    if (axis === 0) {
      const flags = (affine ? BATCHNORM.AFFINE : 0) | (xhat ? BATCHNORM.XHAT : 0) | (hasY ? 0 : BATCHNORM.STATS);
      return call(ctx, "batchNormFwd", [at(0), y, g, b, xh, ...stats, rows, cols, 0, cols, eps, flags]);
    }
    const flags = (affine ? LAYERNORM.AFFINE : 0) | (xhat ? LAYERNORM.XHAT : 0) | (hasY ? 0 : LAYERNORM.STATS);
    return call(ctx, "layerNormFwd", [at(0), y, g, b, xh, ...stats, 0, rows, cols, eps, flags]);
  },
});

/**
 * Backward in WebAssembly, over all rows and columns in one call.
 */
export const normBackward: Kernel = Object.assign(normBackwardJs, {
  prepare: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) => {
    const rows = p[0]!, cols = p[1]!, axis = p[2]!, affine = p[3]!;
    // bufs = dy, x, two statistics over the other axis, (γ), dx, (dγ, dβ).
    const stats = axis === 0 ? cols : rows;
    fitsAll("norm_backward", bufs, [rows * cols, rows * cols, stats, stats, ...(affine ? [cols] : []), rows * cols, ...(affine ? [cols, cols] : [])]);
    const at = (i: number) => bufs[i]!.byteOffset;
    if (axis === 0) {
      // bufs = dy, x, μ, rstd, (γ), dx, (dγ, dβ).
      const [dy, x, mean, rstd, g, dx, dg, db] = affine ? [0, 1, 2, 3, 4, 5, 6, 7].map(at) : [at(0), at(1), at(2), at(3), 0, at(4), 0, 0];
      const flags = affine ? BATCHNORM.AFFINE : 0;
      // Its per-column sums go in this thread's sgemm scratch (unused between products).
      return call(ctx, "batchNormBwd", [x!, dy!, g!, mean!, rstd!, dx!, dg!, db!, rows, cols, 0, cols, flags, ctx.sgemmScratch[0]!]);
    }
    if (!affine) {
      const [dy, x, mean, rstd, dx] = [0, 1, 2, 3, 4].map(at) as number[];
      return call(ctx, "layerNormBwd", [x!, dy!, 0, mean!, rstd!, dx!, 0, 0, 0, rows, cols, 0]);
    }
    const [dy, x, mean, rstd, gamma, dx, dg, db] = [0, 1, 2, 3, 4, 5, 6, 7].map(at) as number[];
    const flags = LAYERNORM.AFFINE | LAYERNORM.PARAM_GRADS | LAYERNORM.ZERO_PARAM_GRADS;
    return call(ctx, "layerNormBwd", [x!, dy!, gamma!, mean!, rstd!, dx!, dg!, db!, 0, rows, cols, flags]);
  },
});
