/**
 * Reference matrix product Y[M,N] = op(A)·op(B), op = identity or transpose, with the loop order
 * chosen so the innermost loop walks memory contiguously. p = [M, N, K, transA, transB].
 * Transposed operands are read in place, never materialized.
 */
import { scratch } from "./scratch.js";
import type { FloatArray, Kernel } from "./types.js";

export const matmul: Kernel = (bufs, p) => {
  const a = bufs[0] as FloatArray, b = bufs[1] as FloatArray, y = bufs[2] as FloatArray;
  const [M, N, K, tA, tB] = p as [number, number, number, number, number];
  if (!tB) {
    // Y[i,:] = Σ_k A(i,k)·B[k,:]: rows of B stream through the accumulator row.
    const row = scratch(N);
    for (let i = 0; i < M; i++) {
      row.fill(0, 0, N);
      for (let k = 0; k < K; k++) {
        const aik = tA ? a[k * M + i]! : a[i * K + k]!;
        if (aik === 0) continue;
        const off = k * N;
        for (let j = 0; j < N; j++) row[j]! += aik * b[off + j]!;
      }
      for (let j = 0; j < N; j++) y[i * N + j] = row[j]!;
    }
  } else if (!tA) {
    // Y[i,j] = A[i,:]·B[j,:]: two contiguous rows.
    for (let i = 0; i < M; i++) {
      const ao = i * K;
      for (let j = 0; j < N; j++) {
        const bo = j * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ao + k]! * b[bo + k]!;
        y[i * N + j] = s;
      }
    }
  } else {
    // Y = Aᵀ·Bᵀ (rare): plain triple loop.
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[k * M + i]! * b[j * K + k]!;
        y[i * N + j] = s;
      }
    }
  }
};

/**
 * Y = act(op(A)·op(B) + bias): the product, then the epilogue over each row while it is hot.
 * p = [M, N, K, transA, transB, relu].
 */
export const linear: Kernel = (bufs, p) => {
  matmul([bufs[0]!, bufs[1]!, bufs[3]!], p);
  const bias = bufs[2] as FloatArray, y = bufs[3] as FloatArray;
  const [M, N] = p as [number, number];
  const relu = p[5] === 1;
  for (let i = 0; i < M; i++) {
    const o = i * N;
    for (let j = 0; j < N; j++) {
      const v = y[o + j]! + bias[j]!;
      y[o + j] = relu && v < 0 ? 0 : v;
    }
  }
};
