/**
 * Reference matrix product Y[M,N] = op(A)·op(B), op = identity or transpose, with the loop order
 * chosen so the innermost loop walks memory contiguously. p = [M, N, K, transA, transB].
 * Transposed operands are read in place, never materialized.
 */
import { DOT_MAX_N } from "../wasm/dot.js";
import { GEMV_DIRECT } from "../wasm/gemv.js";
import { EPI, TILE } from "../wasm/microkernel.js";
import { BLOCK, CHECK_CELL, SGEMM, SPLIT_COUNTER, SPLIT_FULL_BYTES } from "../wasm/sgemm.js";
import { fits } from "./bounds.js";
import { scratch } from "./scratch.js";
import { chunked } from "./chunks.js";
import { MAX_CHUNK_ARGS } from "../workers.js";
import { onThreads, type AnyArray, type FloatArray, type Kernel, type KernelContext, type SplitCall } from "./types.js";

/** Below this many flops a split across threads costs more than it saves. */
const SPLIT_FLOPS = 2_000_000;

/**
 * The WebAssembly SGEMM on arena buffers (byte offsets from the views), split across the pool's
 * threads. Each element's reduction order depends only on K, so any split gives the same bits.
 * p = [M, N, K, transA, transB, …]. Returns the call, argument lists built once.
 *
 * Narrow products against a transposed B (a linear layer with fewer than DOT_MAX_N outputs, any
 * batch, one sample included) take the dot kernel instead (see dot below); batch-1 products
 * the gemv.
 *
 * Split: every thread claims chunks of Y's rows or columns from one counter (sgemm-split.ts), so
 * a thread that starts late or loses its core mid-call costs at most one chunk, not its half —
 * when the operand each thread then packs whole fits its scratch; else fixed shares, one per
 * thread. Columns when N ≥ M (each thread packs all of op(A), the smaller one), rows otherwise.
 */
function gemm(ctx: KernelContext, a: AnyArray, b: AnyArray, bias: AnyArray | null, y: AnyArray, p: readonly number[], relu: boolean, check = 0): () => void {
  const M = p[0]!, N = p[1]!, K = p[2]!, tA = p[3]!, tB = p[4]!;
  const flags = (tA ? SGEMM.TRANS_A : 0) | (tB ? SGEMM.TRANS_B : 0) | (bias ? SGEMM.BIAS : 0) | (relu ? SGEMM.RELU : 0);
  const lda = tA ? M : K, ldb = tB ? K : N;
  const name = bias ? "linear" : "matmul";
  fits(name, "A", a, M * K); fits(name, "B", b, K * N); fits(name, "Y", y, M * N);
  if (bias) fits(name, "bias", bias, N);
  // Rows [r0, r1) and columns [c0, c1) of Y: columns move the B, Y and bias pointers (Y keeps its
  // leading dimension N), so every element still sums over all of K in the same order.
  const args = (r0: number, r1: number, c0: number, c1: number, thread: number, split = 0, counter = 0, parts = 0) => [
    flags | split, r0, r1, c1 - c0, K, a.byteOffset, lda, b.byteOffset + 4 * c0 * (tB ? ldb : 1), ldb,
    y.byteOffset + 4 * c0, N, bias ? bias.byteOffset + 4 * c0 : 0, ctx.sgemmScratch[thread]!, counter, BLOCK.MC, parts, check,
  ];
  // Batch-1 products (wasm/gemv.ts), same bits as the sgemm's: one row times W (a sample through
  // a linear layer, or its input gradient) read in place instead of packed for a 4-row tile with
  // one row in use; and K = 1, a column times a row (a batch-1 weight gradient), as one pass of
  // stores. A's row is contiguous when M = 1 whether or not it is transposed (lda = 1), and
  // with K = 1 so are both operands. The row product splits into column chunks (gemvSplit).
  const epi = (bias ? EPI.BIAS : 0) | (relu ? EPI.RELU : 0), biasAt = bias ? bias.byteOffset : 0;
  if (tB && !tA && N < DOT_MAX_N) {
    return dot(ctx, M, N, K, (r0, r1) => [epi, r0, r1, N, K, a.byteOffset, lda, b.byteOffset, ldb, y.byteOffset, N, biasAt], y, check);
  }
  if (M === 1 && N >= 4) {
    // Outputs [c0, c1) start at row c0 of W (transposed) or at column c0 of B (direct).
    const cols = (c0: number, c1: number) => [epi | (tB ? 0 : GEMV_DIRECT), c1 - c0, K, a.byteOffset,
      b.byteOffset + 4 * c0 * (tB ? ldb : 1), ldb, y.byteOffset + 4 * c0, bias ? biasAt + 4 * c0 : 0, check];
    const whole = ctx.wasm.gemvRaw.bind(null, ...cols(0, N)) as () => void;
    return gemvSplit(ctx, N, K, cols, whole);
  }
  if (K === 1 && N >= 4) {
    const outer = ctx.wasm.gemvOuterRaw.bind(null, epi, 0, M, N, a.byteOffset, b.byteOffset, y.byteOffset, N, biasAt) as () => void;
    if (!check) return outer;
    // Never split: its output checked by this thread right after, as the others' chunks are.
    const cell = new Int32Array(ctx.memory.buffer, check, 1);
    return () => { outer(); if (ctx.wasm.allFinite(y.byteOffset, M * N) !== 1) cell[0] = 1; };
  }
  const raw = ctx.wasm.sgemmRaw;
  const byColumns = N >= M;
  const side = byColumns ? N : M;
  const threads = ctx.pool && 2 * M * N * K >= SPLIT_FLOPS ? Math.min(ctx.pool.threads, ctx.sgemmScratch.length, Math.ceil(side / 8)) : 1;
  const whole = raw.bind(null, ...args(0, M, 0, N, 0)) as () => void; // bound once: calls allocate nothing
  if (threads <= 1) return whole;
  // The whole of op(A) (columns) or op(B) (rows), in KC blocks of whole slivers.
  const fitsWhole = K * (byColumns ? Math.ceil(M / TILE.mr) * TILE.mr : Math.ceil(N / TILE.nr) * TILE.nr) * 4 <= SPLIT_FULL_BYTES;
  if (fitsWhole) {
    // Chunks of at most MC (a columns chunk's B block fills AP), smaller as fewer are left.
    const counter = ctx.sgemmScratch[0]! + SPLIT_COUNTER;
    const parts = Array.from({ length: threads }, (_, t) => args(0, M, 0, N, t, byColumns ? SGEMM.SPLIT_COLS : SGEMM.SPLIT_ROWS, counter, threads));
    // One pool chunk per part (any thread may run any part: each has its own scratch); alone,
    // the unsplit call (the same bits; the parts in turn would pack op(B) or op(A) twice: 2% of W7).
    const call = chunked(ctx, "sgemm", threads, (c) => parts[c]!, whole);
    const cell = new Int32Array(ctx.memory.buffer, counter, 1); // shared memory: the view never detaches
    return onThreads(() => {
      Atomics.store(cell, 0, 0); // before the parts are posted (the pool's notify publishes it)
      call();
    }, threads);
  }
  // Fixed shares: blocks in multiples of 8 (whole micro-kernel tiles), the last taking the rest.
  const per = Math.ceil(side / threads / 8) * 8;
  const parts = Array.from({ length: threads }, (_, t) => {
    const lo = Math.min(side, t * per), hi = Math.min(side, (t + 1) * per);
    return byColumns ? args(0, M, lo, hi, t) : args(lo, hi, 0, N, t);
  });
  return chunked(ctx, "sgemm", threads, (c) => parts[c]!, whole);
}

/**
 * A narrow product against a transposed matrix (a classifier head, wasm/dot.ts): each output's
 * sum is its own, so rows split into chunks of DOT_CHUNK_ROWS that any thread may run, from
 * SPLIT_FLOPS. `rows(r0, r1)`: dot's arguments for rows [r0, r1). With a check cell, this
 * thread reads Y back after the call (M·N < 16·M floats: a few microseconds).
 */
const DOT_CHUNK_ROWS = 64;

function dot(ctx: KernelContext, M: number, N: number, K: number, rows: (r0: number, r1: number) => number[], y: AnyArray, check: number): SplitCall {
  const all = rows(0, M), whole = ctx.wasm.dotRaw.bind(null, ...all) as () => void;
  // Chunks of DOT_CHUNK_ROWS rows, or more rows each where that many chunks' arguments would not
  // fit the pool's block (MAX_CHUNK_ARGS numbers: 85 chunks of dot's 12; a per-token head of
  // 8,192 rows would make 128).
  const per = Math.max(DOT_CHUNK_ROWS, Math.ceil(M / Math.floor(MAX_CHUNK_ARGS / all.length)));
  const chunks = Math.ceil(M / per);
  const call = ctx.pool && ctx.pool.threads > 1 && chunks > 1 && 2 * M * N * K >= SPLIT_FLOPS
    ? chunked(ctx, "dot", chunks, (c) => rows(c * per, Math.min(M, (c + 1) * per)), whole)
    : whole;
  if (!check) return call;
  const cell = new Int32Array(ctx.memory.buffer, check, 1); // shared memory: the view never detaches
  return onThreads(() => { call(); if (ctx.wasm.allFinite(y.byteOffset, M * N) !== 1) cell[0] = 1; }, (call as SplitCall).threads ?? 1);
}

/**
 * Reading W once is the whole cost of a batch-1 product (2.6 MB for W2's two hidden layers, ~60
 * µs on one core of this VM), so a large one is cut into chunks of whole output columns that
 * either thread may run (each output's sum is its own: the same bits whoever computes it). A
 * chunk is GEMV_CHUNK_FLOATS of W or more, a multiple of 16 outputs (the kernel's group), the
 * last one taking the rest (never fewer than the kernel's 4 outputs). Below GEMV_SPLIT_CHUNKS
 * chunks the product stays on this thread: the hand-off would cost about what it saves. At most
 * GEMV_MAX_CHUNKS (the pool copies every chunk's arguments to each worker: ≤ 1024 numbers).
 */
const GEMV_CHUNK_FLOATS = 1 << 15;
const GEMV_SPLIT_CHUNKS = 4;
const GEMV_MAX_CHUNKS = 64;

function gemvSplit(ctx: KernelContext, N: number, K: number, cols: (c0: number, c1: number) => number[], whole: () => void): () => void {
  const width = Math.max(16, Math.ceil(GEMV_CHUNK_FLOATS / Math.max(1, K) / 16) * 16, Math.ceil(N / GEMV_MAX_CHUNKS / 16) * 16);
  let chunks = Math.ceil(N / width);
  if (chunks > 1 && N - (chunks - 1) * width < 4) chunks--;
  if (!ctx.pool || ctx.pool.threads < 2 || chunks < GEMV_SPLIT_CHUNKS) return whole;
  return chunked(ctx, "gemv", chunks, (c) => cols(c * width, c === chunks - 1 ? N : (c + 1) * width), whole);
}

/**
 * checkNumerics' call of a product (Kernel.prepareChecked): each block of Y (at most MC rows of
 * a chunk) is checked by the thread that computed it, right after (sgemm's and gemv's `check`),
 * instead of a pass over all of Y afterwards on the calling thread, which re-read the worker's
 * half from the other core's cache. Returns 1 when every value of Y is finite. The flag is a cell of the calling
 * thread's scratch, cleared before the call; the threads only ever set it.
 */
function checked(ctx: KernelContext, make: (check: number) => () => void): () => number {
  const at = ctx.sgemmScratch[0]! + CHECK_CELL, cell = new Int32Array(ctx.memory.buffer, at, 1); // shared memory: never detaches
  const call = make(at);
  return () => {
    Atomics.store(cell, 0, 0);
    call();
    return Atomics.load(cell, 0) === 0 ? 1 : 0;
  };
}

/**
 * A batched product (p[5] = batch > 1, compiler/ops/matmul.ts): one product per batch entry on
 * its slices of A, B and Y. Entries the SGEMM computes whole (below SPLIT_FLOPS: attention's
 * per-head products) run in one call of wasm sgemmBatch (the same unsplit sgemm per entry), split
 * across threads by entries when there is enough work, in at most BATCH_CHUNKS chunks of whole
 * entries that any thread may run (so the same bits as alone); larger entries, and those the dot
 * or gemv kernels take, one after the other, each split as a product of its size would be. With
 * a check cell, every entry reports into it.
 */
const BATCH_CHUNKS = 32;

function batched(ctx: KernelContext, bufs: readonly AnyArray[], p: readonly number[], check = 0): SplitCall {
  const M = p[0]!, N = p[1]!, K = p[2]!, tA = p[3]!, tB = p[4]!, batch = p[5] ?? 1;
  if (batch <= 1) return gemm(ctx, bufs[0]!, bufs[1]!, null, bufs[2]!, p, false, check);
  const [a, b, y] = bufs as [AnyArray, AnyArray, AnyArray];
  fits("matmul", "A", a, batch * M * K); fits("matmul", "B", b, batch * K * N); fits("matmul", "Y", y, batch * M * N);
  const bySgemm = !(tB && !tA && N < DOT_MAX_N) && !(M === 1 && N >= 4) && !(K === 1 && N >= 4);
  const flops = 2 * M * N * K;
  if (bySgemm && flops < SPLIT_FLOPS) {
    // Every entry in one WebAssembly call (not one JavaScript call each: 131,072 per-token
    // entries would be as many calls), in chunks across threads when there is enough work.
    const flags = (tA ? SGEMM.TRANS_A : 0) | (tB ? SGEMM.TRANS_B : 0);
    const args = (e0: number, e1: number, thread: number) => [flags, M, N, K, a.byteOffset, tA ? M : K, b.byteOffset, tB ? K : N,
      y.byteOffset, N, ctx.sgemmScratch[thread]!, check, e0, e1, 4 * M * K, 4 * K * N, 4 * M * N];
    const alone = ctx.wasm.sgemmBatchRaw.bind(null, ...args(0, batch, 0)) as () => void;
    if (!ctx.pool || ctx.pool.threads < 2 || batch * flops < SPLIT_FLOPS) return alone;
    const chunks = Math.min(batch, BATCH_CHUNKS), per = Math.ceil(batch / chunks);
    const used = Math.ceil(batch / per);
    return chunked(ctx, "sgemmBatch", used, (c, t) => args(c * per, Math.min(batch, (c + 1) * per), t), alone);
  }
  const calls = Array.from({ length: batch }, (_, i) => gemm(ctx, a.subarray(i * M * K, (i + 1) * M * K), b.subarray(i * K * N, (i + 1) * K * N),
    null, y.subarray(i * M * N, (i + 1) * M * N), p, false, check) as SplitCall);
  // (a loop, not Math.max(...calls): a spread of 10^5 entries overflows the stack)
  let threads = 1;
  for (const c of calls) threads = Math.max(threads, c.threads ?? 1);
  return onThreads(() => { for (const call of calls) call(); }, threads);
}

export const matmul: Kernel = Object.assign((bufs: readonly AnyArray[], p: readonly number[], ctx?: KernelContext) => {
  if (ctx) return batched(ctx, bufs, p)();
  const M = p[0]!, N = p[1]!, K = p[2]!, batch = p[5] ?? 1;
  for (let i = 0; i < batch; i++) {
    const at = (x: AnyArray, n: number) => x.subarray(i * n, (i + 1) * n) as FloatArray;
    product(at(bufs[0]!, M * K), at(bufs[1]!, K * N), at(bufs[2]!, M * N), M, N, K, p[3]!, p[4]!);
  }
}, {
  prepare: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) => batched(ctx, bufs, p),
  prepareChecked: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) => checked(ctx, (at) => batched(ctx, bufs, p, at)),
});

/** The reference product of one batch entry. */
function product(a: FloatArray, b: FloatArray, y: FloatArray, M: number, N: number, K: number, tA: number, tB: number): void {
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
}

/**
 * Y = act(op(A)·op(B) + bias): the product, then the epilogue over each row while it is hot.
 * p = [M, N, K, transA, transB, relu].
 */
export const linear: Kernel = Object.assign((bufs: readonly AnyArray[], p: readonly number[], ctx?: KernelContext) => {
  if (ctx) return gemm(ctx, bufs[0]!, bufs[1]!, bufs[2]!, bufs[3]!, p, p[5] === 1)();
  matmul([bufs[0]!, bufs[1]!, bufs[3]!], p.slice(0, 5));
  const bias = bufs[2] as FloatArray, y = bufs[3] as FloatArray;
  const M = p[0]!, N = p[1]!;
  const relu = p[5] === 1;
  for (let i = 0; i < M; i++) {
    const o = i * N;
    for (let j = 0; j < N; j++) {
      const v = y[o + j]! + bias[j]!;
      y[o + j] = relu && v < 0 ? 0 : v;
    }
  }
}, {
  prepare: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) => gemm(ctx, bufs[0]!, bufs[1]!, bufs[2]!, bufs[3]!, p, p[5] === 1),
  prepareChecked: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) => checked(ctx, (at) => gemm(ctx, bufs[0]!, bufs[1]!, bufs[2]!, bufs[3]!, p, p[5] === 1, at)),
});
