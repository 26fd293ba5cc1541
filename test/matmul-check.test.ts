/**
 * checkNumerics in the products (runtime/kernels/matmul.ts `prepareChecked`, sgemm's and gemv's
 * `check`): each thread checks the blocks of Y it computed, right after computing them,
 * and sets one flag the caller reads. Tested: a call sets the flag exactly when a value it
 * computed itself is not finite (rows and columns claimed from the counter, row ranges, column
 * ranges of a gemv); a worker's check reaches the caller when the worker computed every chunk;
 * through the pool, every split mode reports a bad value wherever it sits and stores the bits of
 * the unchecked call.
 */
import { describe, expect, it } from "vitest";
import { kernels } from "../runtime/kernels/index.js";
import { BLOCK, CHECK_CELL, SGEMM, SPLIT_COUNTER } from "../runtime/wasm/sgemm.js";
import { splitPool } from "./helpers/split-pool.js";

const { pool, workerIdle, splitArena } = splitPool();

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** An arena with random A[M, K] (or Aᵀ), B[K, N], bias[N] and two outputs; ctx on the judge-less pool. */
function setup(M: number, N: number, K: number, seed: number) {
  const { arena, ctx, f32 } = splitArena(seed);
  const a = f32(M * K, true), b = f32(K * N, true), bias = f32(N, true), y = f32(M * N), y0 = f32(M * N);
  const cell = arena.i32(ctx.sgemmScratch[0]! + CHECK_CELL, 1), counter = arena.i32(ctx.sgemmScratch[0]! + SPLIT_COUNTER, 1);
  return { arena, a, b, bias, y, y0, ctx, cell, counter };
}

describe("a product's check covers what its call computed", () => {
  // Y[300, 40] by rows from the counter (preset: this call computes rows start…), Y[40, 300] by columns.
  it.each([true, false])("split %s: the flag is set exactly when a computed row (column) holds a non-finite value", (rows) => {
    const M = rows ? 300 : 40, N = rows ? 40 : 300, K = 300;
    const s = setup(M, N, K, rows ? 1 : 2), raw = s.ctx.wasm.sgemmRaw, side = rows ? M : N;
    const call = (start: number, check: number, y: Float32Array) => {
      s.counter[0] = start;
      y.fill(0);
      raw(rows ? SGEMM.SPLIT_ROWS : SGEMM.SPLIT_COLS, 0, M, N, K, s.a.byteOffset, K, s.b.byteOffset, N, y.byteOffset, N, 0,
        s.ctx.sgemmScratch[0]!, s.counter.byteOffset, BLOCK.MC, 2, check);
    };
    for (const bad of [0, 37, 128, side - 1]) {
      // One operand value ∞ spoils one row of Y (A's row) or one column (B's column).
      const at = rows ? bad * K + 7 : 7 * N + bad, op = rows ? s.a : s.b, was = op[at]!;
      op[at] = Infinity;
      for (const start of [0, 64, 129, side - 3]) {
        s.cell[0] = 0;
        call(start, s.cell.byteOffset, s.y);
        expect(s.cell[0], `bad ${bad}, from ${start}`).toBe(bad >= start ? 1 : 0);
        call(start, 0, s.y0); // unchecked: the same bits
        expect(bits(s.y)).toEqual(bits(s.y0));
      }
      op[at] = was;
    }
    s.cell[0] = 0;
    call(0, s.cell.byteOffset, s.y);
    expect(s.cell[0], "all finite").toBe(0);
  });

  it("unsplit row ranges (fixed shares), and a non-finite bias: the flag follows the rows computed", () => {
    const M = 50, N = 37, K = 70;
    const s = setup(M, N, K, 3), raw = s.ctx.wasm.sgemmRaw;
    const call = (m0: number, m1: number, check: number) => raw(SGEMM.BIAS | SGEMM.RELU | SGEMM.TRANS_B, m0, m1, N, K,
      s.a.byteOffset, K, s.b.byteOffset, K, s.y.byteOffset, N, s.bias.byteOffset, s.ctx.sgemmScratch[0]!, 0, 0, 0, check);
    s.a[33 * K + 69] = NaN; // row 33 (an edge tile: 33 = 8·4 + 1)
    for (const [m0, m1] of [[0, 33], [33, 34], [30, 50], [34, 50], [0, 50]] as const) {
      s.cell[0] = 0;
      call(m0, m1, s.cell.byteOffset);
      expect(s.cell[0], `rows ${m0}…${m1}`).toBe(m0 <= 33 && 33 < m1 ? 1 : 0);
    }
    s.a[33 * K + 69] = 0;
    s.bias[36] = -Infinity; // the last column, every row: relu makes it 0 (pmax(−∞, 0)), finite
    s.cell[0] = 0;
    call(0, M, s.cell.byteOffset);
    expect(s.cell[0], "relu clamps −∞ to 0: finite").toBe(0);
    s.bias[36] = Infinity;
    call(10, 11, s.cell.byteOffset);
    expect(s.cell[0], "+∞ bias").toBe(1);
  });

  it("gemv: a column range's check covers those outputs only (vector body and scalar tail)", () => {
    const N = 203, K = 90;
    const s = setup(1, N, K, 4), gemv = s.ctx.wasm.gemvRaw;
    // W[N, K] transposed (a linear layer's weight): output j reads row j.
    const call = (c0: number, c1: number, check: number) => gemv(0, c1 - c0, K, s.a.byteOffset, s.b.byteOffset + 4 * c0 * K, K, s.y.byteOffset + 4 * c0, 0, check);
    for (const bad of [0, 17, 200, 202]) {
      s.b[bad * K + 3] = Infinity;
      for (const [c0, c1] of [[0, 16], [16, 64], [192, 203], [0, 203], [199, 203]] as const) {
        s.cell[0] = 0;
        call(c0, c1, s.cell.byteOffset);
        expect(s.cell[0], `bad ${bad}, outputs ${c0}…${c1}`).toBe(c0 <= bad && bad < c1 ? 1 : 0);
      }
      s.b[bad * K + 3] = 0.25;
    }
  });
});

describe("a worker's check reaches the caller", () => {
  it("when the worker computes every chunk of a split sgemm, its flag is the call's", () => {
    const M = 400, N = 64, K = 200;
    const s = setup(M, N, K, 5), raw = s.ctx.wasm.sgemmRaw;
    const args = (thread: number) => [SGEMM.SPLIT_ROWS, 0, M, N, K, s.a.byteOffset, K, s.b.byteOffset, N, s.y.byteOffset, N, 0,
      s.ctx.sgemmScratch[thread]!, s.counter.byteOffset, BLOCK.MC, 2, s.cell.byteOffset];
    // This thread's part computes nothing: it waits until the worker's has claimed every row.
    let computedHere = 0;
    const mine = () => {
      const end = Date.now() + 10_000;
      while (Atomics.load(s.counter, 0) < M && Date.now() < end);
      if (Atomics.load(s.counter, 0) < M) { computedHere++; raw(...args(0)); } // the worker never came
    };
    for (const bad of [-1, 0, 150, 399]) {
      if (bad >= 0) s.a[bad * K] = NaN;
      let tries = 0;
      do {
        workerIdle();
        const before = pool.jobsPerWorker()[0]!;
        computedHere = 0;
        Atomics.store(s.counter, 0, 0);
        Atomics.store(s.cell, 0, 0);
        s.y.fill(0);
        pool.run(s.ctx.memory, "sgemm", [[args(0), args(0)], [args(1), args(1)]], [mine, mine]);
        if (computedHere === 0 && pool.jobsPerWorker()[0]! > before) break;
      } while (++tries < 20);
      expect(computedHere, "the worker computed every row").toBe(0);
      expect(Atomics.load(s.cell, 0), `bad row ${bad}`).toBe(bad >= 0 ? 1 : 0);
      expect(s.y.slice(0, M * N).filter((v) => !Number.isFinite(v)).length).toBe(bad >= 0 ? N : 0);
      if (bad >= 0) s.a[bad * K] = 0.5;
    }
  });
});

describe("checked products through the pool", () => {
  // [M, N, K, transB]: rows from the counter, columns from the counter, fixed shares (op(B) too large
  // to pack whole), a split gemv (M = 1), the K = 1 product, one too small to split, and narrow
  // products (N < 16, transposed B) in the dot kernel, split into row chunks and not.
  const shapes = [[300, 40, 300, 1], [40, 300, 300, 0], [24, 16, 65600, 1], [1, 1000, 300, 1], [300, 50, 1, 0], [5, 6, 7, 1], [1000, 13, 300, 1], [7, 3, 37, 1]] as const;
  it.each(shapes)("%i×%i×%i: reports a non-finite value wherever it is, with the unchecked call's bits", (M, N, K, tB) => {
    const s = setup(M, N, K, M + N + K), p = [M, N, K, 0, tB, 0]; // no relu: it would clamp −∞ to 0
    const bufs = (y: Float32Array) => [s.a, s.b, s.bias, y];
    const checked = kernels.linear.prepareChecked!(bufs(s.y), p, s.ctx)!, plain = kernels.linear.prepare!(bufs(s.y0), p, s.ctx)!;
    const alone = kernels.linear.prepareChecked!(bufs(s.y), p, { ...s.ctx, pool: null })!;
    const jobs = pool.jobsPerWorker()[0]!;
    // Spoil one row of op(A) (M > 1) or one column of op(B), first, middle and last.
    const side = M > 1 ? M : N;
    for (const bad of [-1, 0, Math.floor(side / 2), side - 1]) {
      const at = bad < 0 ? -1 : M > 1 ? bad * K + (K - 1) : tB ? bad * K : bad;
      const op = M > 1 ? s.a : s.b, was = at >= 0 ? op[at]! : 0;
      if (at >= 0) op[at] = bad % 2 ? NaN : -Infinity;
      for (const run of [checked, alone]) {
        workerIdle();
        s.y.fill(0);
        expect(run(), `bad ${bad}`).toBe(bad < 0 ? 1 : 0);
        workerIdle();
        plain();
        expect(bits(s.y)).toEqual(bits(s.y0));
      }
      if (at >= 0) op[at] = was;
    }
    if ((kernels.linear.prepare!(bufs(s.y0), p, s.ctx) as { threads?: number }).threads === 2) {
      // On a loaded machine the worker can wake after the caller has claimed every chunk, call
      // after call (a product of ~50 µs): call again until it takes part (every call is checked).
      for (let i = 0; i < 500 && pool.jobsPerWorker()[0]! <= jobs; i++) {
        workerIdle();
        expect(checked()).toBe(0);
      }
      expect(pool.jobsPerWorker()[0]!, "the worker ran chunks").toBeGreaterThan(jobs);
    }
  });
});
