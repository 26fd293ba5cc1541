import type { Kernels as WasmKernels } from "../wasm/module.js";

/** Float buffers are float32 in normal programs and float64 in the gradient-check programs. */
export type FloatArray = Float32Array | Float64Array;
export type AnyArray = FloatArray | Int32Array;

/**
 * What a planned program's kernels may use besides their buffers: the WebAssembly kernels
 * instantiated on the arena's memory, per-thread scratch, and the thread pool. Reference
 * (unplanned) programs run without one and use the plain JavaScript loops.
 */
export interface KernelContext {
  /** @internal (names WebAssembly, which a user's TypeScript may not declare: not in the published types) */
  readonly memory: WebAssembly.Memory;
  readonly wasm: WasmKernels;
  /** Byte offset of each thread's sgemm scratch (index 0: the calling thread). */
  readonly sgemmScratch: readonly number[];
  readonly pool: ThreadPoolLike | null;
}

/**
 * What the pool (../threads.ts) knows of one prepared split call; chunks.ts makes one per call
 * site. aloneMs: how long the call takes on the calling thread alone, a moving average of the
 * calls timed alone (calls 4, 8, …, 64, then one in 64; those the pool ran alone, but the first;
 * those whose chunks the caller ran all of itself); calls: how many it has had.
 */
export interface SplitSite {
  aloneMs: number;
  calls: number;
}
export const splitSite = (): SplitSite => ({ aloneMs: NaN, calls: 0 });

/** The subset of the thread pool kernels call (see ../threads.ts and chunks.ts). */
export interface ThreadPoolLike {
  readonly threads: number;
  /**
   * Run chunk c as `local[c]()` here or as `exportName(...table[t][c])` on thread t, each chunk
   * exactly once, whichever thread claims it first; or `alone()` (the same bits) when the pool
   * judges that splitting does not pay now. `exportName` is the kernel module's, or `kernels`'
   * (a fused loop's module, which the workers then instantiate on the memory too).
   * @internal (names WebAssembly, which a user's TypeScript may not declare: not in the published types)
   */
  run(memory: WebAssembly.Memory, exportName: string, table: readonly (readonly (readonly number[])[])[], local: readonly (() => void)[], alone?: () => void, site?: SplitSite,
    kernels?: KernelSet): void;
}

/**
 * A module and the names of its exports a worker may be asked to call (a job names one by index).
 * @internal (names WebAssembly, which a user's TypeScript may not declare: not in the published types)
 */
export interface KernelSet { readonly module: WebAssembly.Module; readonly names: readonly string[] }

/**
 * A kernel reads its inputs and writes its outputs (after the inputs in `bufs`) in place; `p`
 * holds its numeric parameters (shapes, axes, constants). It allocates nothing.
 */
export type Kernel = ((bufs: readonly AnyArray[], p: readonly number[], ctx?: KernelContext) => void) & {
  /**
   * Do the per-call-site work once (byte offsets, thread splits) and return the WebAssembly call
   * itself, so that running a program allocates nothing. A kernel without `prepare`, or whose
   * `prepare` returns null for these parameters, runs its JavaScript loop even in an arena — the
   * executor reports such steps (Executor.steps), and a test asserts the passes produce none.
   */
  readonly prepare?: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) => (() => void) | null;
  /**
   * checkNumerics: `prepare`'s call that also checks every output for NaN and ±∞ as it is made
   * (by whichever thread computes it) and returns 1 when all were finite, else 0. Same bits.
   */
  readonly prepareChecked?: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) => (() => number) | null;
};

/** A prepared call that splits across threads: how many it uses, for profiles. */
export type SplitCall = (() => void) & { readonly threads?: number };

/** Mark a prepared call as running on `threads` threads (1 when not marked). */
export const onThreads = (call: () => void, threads: number): SplitCall => Object.assign(call, { threads });
