/**
 * How matmul and linear split across two threads (runtime/kernels/matmul.ts): chunks of rows
 * (M > N) or columns from a shared counter when the operand each thread packs whole fits the
 * scratch, fixed shares otherwise, row chunks of the dot kernel for narrow products against a
 * transposed B — at odd sizes (1, 3, 37, 1000, non-multiples of the 4×8 tile
 * and of the chunk) every way must give the one-thread bits, and those must match the
 * JavaScript reference kernel.
 */
import { describe, expect, it } from "vitest";
import { kernels } from "../runtime/kernels/index.js";
import { DOT_MAX_N } from "../runtime/wasm/dot.js";
import { SPLIT_COUNTER } from "../runtime/wasm/sgemm.js";
import { maxRelErr } from "./helpers/run.js";
import { splitPool } from "./helpers/split-pool.js";

const { pool, workerIdle, splitArena } = splitPool();

/** Y = op(A)·op(B) (+ bias, relu) on 2 threads and on 1; returns both, the reference, and the split counter. */
function both(M: number, N: number, K: number, tA: number, tB: number, withBias: boolean, seed: number) {
  const { arena, ctx, f32 } = splitArena(seed);
  const a = f32(M * K, true), b = f32(K * N, true), bias = f32(N, true);
  const y2 = f32(M * N), y1 = f32(M * N), yRef = new Float32Array(M * N);
  const p = [M, N, K, tA, tB, 1];
  const kernel = withBias ? kernels.linear : kernels.matmul;
  const bufs = (y: Float32Array) => (withBias ? [a, b, bias, y] : [a, b, y]);
  const counter = arena.i32(ctx.sgemmScratch[0]! + SPLIT_COUNTER, 1);
  counter[0] = -1;
  const two = kernel.prepare!(bufs(y2), p, ctx)! as (() => void) & { threads?: number };
  workerIdle();
  two();
  y2.fill(Number.NaN);
  workerIdle();
  two(); // a second call starts from a fresh counter: it computes every element again
  kernel.prepare!(bufs(y1), p, { ...ctx, pool: null })!();
  kernel(bufs(yRef), p);
  return { y1, y2, yRef, threads: two.threads ?? 1, counter: counter[0]! };
}

describe("matmul and linear on two threads", () => {
  // [M, N, K] (at least 2 MFLOP, the split threshold): rows chunks (M > N), columns chunks (N ≥ M), K
  // across the KC = 256 block.
  const chunked = [[1000, 13, 80], [1000, 3, 400], [1000, 1, 1000], [2, 1000, 1000], [37, 1000, 30], [3, 1000, 600], [333, 37, 513], [37, 333, 257], [64, 64, 1000],
    // 625 dot chunks of 64 rows would not fit the pool's argument block: fewer, longer chunks.
    [40000, 3, 64]] as const;
  it.each(chunked)("%i×%i×%i in chunks from the shared counter: the one-thread bits", (M, N, K) => {
    let seed = M + N + K;
    for (const [tA, tB] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      const withBias = seed % 2 === 0;
      const { y1, y2, yRef, threads, counter } = both(M, N, K, tA!, tB!, withBias, seed++);
      expect(threads).toBe(2);
      // Fewer than DOT_MAX_N columns of a transposed B: row chunks of the dot kernel (wasm/dot.ts), not the sgemm's counter.
      if (!tA && tB && N < DOT_MAX_N) expect(counter, "the sgemm's counter untouched").toBe(-1);
      else expect(counter, "every chunk claimed").toBeGreaterThanOrEqual(N >= M ? N : M);
      expect(Array.from(y2)).toEqual(Array.from(y1));
      expect(maxRelErr(y1, yRef)).toBeLessThan(1e-4);
    }
  });

  // The operand each thread would pack whole is over 4 MiB (K·16 floats > 1 Mi): fixed shares.
  it.each([[16, 16, 65600], [24, 16, 65600]] as const)("%i×%i×%i in fixed shares (too large to pack whole): the one-thread bits", (M, N, K) => {
    const { y1, y2, yRef, threads, counter } = both(M, N, K, 0, 1, true, 9);
    expect(threads).toBe(2);
    expect(counter, "counter untouched").toBe(-1);
    expect(Array.from(y2)).toEqual(Array.from(y1));
    expect(maxRelErr(y1, yRef)).toBeLessThan(1e-4);
  });
});
