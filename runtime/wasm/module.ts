/**
 * The API the compiler calls: one WebAssembly module holding every kernel, compiled once per
 * process and instantiated synchronously on a shared memory.
 *
 *   const memory = createMemory(bytes);                 // shared: true, usable by workers
 *   const k = instantiateKernels(memory);               // synchronous: compile() stays sync
 *   k.sgemm({ m, n, k, a, b, y, transB: true, bias, relu: true, scratch });
 *
 * In a worker: `instantiateKernels(memory, kernelModule())` with the Module and Memory posted
 * from the main thread (both are structured-cloneable), giving the same code on the same memory.
 *
 * Two variants, differing only in the SGEMM micro-kernel: core SIMD multiply then add, or
 * relaxed SIMD fused multiply-add (relaxed_madd). kernelModule() picks FMA where the engine has
 * relaxed SIMD and the hardware fuses (features.ts; on Node 20 this sets a V8 flag; opt out with
 * KILN_RELAXED_SIMD=0), once per process; tests and benchmarks ask for either explicitly.
 *
 * Conventions: all buffers are byte offsets into the memory, 4-byte aligned (16-byte aligned is
 * faster: vector loads never straddle cache lines); leading dimensions are in floats. Outputs
 * must not overlap inputs (except where a kernel updates in place: sgd, colSum with accumulate).
 * Scratch regions (SGEMM_SCRATCH_BYTES ≈ 2.2 MB for sgemm) must be 16-byte aligned and private
 * to one thread. The first calls run in V8's baseline tier; it tiers each kernel up to TurboFan
 * after a few calls, so time steady-state runs.
 */
import { MAX_PAGES, ModuleBuilder } from "./builder.js";
import { BATCHNORM, BATCHNORM_SCRATCH_BYTES, LAYERNORM, SGD, emitElementwise } from "./elementwise.js";
import { wasmFeatures } from "./features.js";
import { emitGemv } from "./gemv.js";
import { emitDot } from "./dot.js";
import { emitReductions } from "./reduce.js";
import { SGEMM, SGEMM_SCRATCH_BYTES, emitSgemm, sgemmConfig } from "./sgemm.js";

export { BATCHNORM, BATCHNORM_SCRATCH_BYTES, LAYERNORM, SGD, SGEMM, SGEMM_SCRATCH_BYTES };
// batchNormBwd's sums go in the calling thread's sgemm scratch (runtime/kernels/norm.ts).
if (BATCHNORM_SCRATCH_BYTES > SGEMM_SCRATCH_BYTES) throw new Error("batchNorm's scratch does not fit in an sgemm scratch");
const PAGE = 65536;

export interface KernelOptions {
  /**
   * Emit the SGEMM micro-kernel with relaxed SIMD's fused multiply-add. Default: where the engine
   * has relaxed SIMD and it fuses (wasmFeatures().fma; KILN_RELAXED_SIMD=0 turns it off).
   * Explicitly true needs relaxed SIMD (enabled here if need be), else it throws.
   */
  readonly fma?: boolean;
}

function resolve(opts: KernelOptions): boolean {
  const features = wasmFeatures(); // before any bytes are validated: may enable relaxed SIMD
  const fma = opts.fma ?? features.fma;
  if (fma && !features.relaxedSimd) {
    throw new Error(`kernelBytes: fma needs WebAssembly relaxed SIMD, which is ${features.relaxedSimdSource} here`);
  }
  return fma;
}

/**
 * Module bytes, built on demand (exposed for tests and for inspection with wasm tools). The
 * variant is chosen here, once per process for the default module (kernelModule), so every
 * thread runs the same code.
 */
export function kernelBytes(opts: KernelOptions = {}): Uint8Array {
  const m = new ModuleBuilder();
  m.importMemory("env", "memory", 1);
  const cfg = sgemmConfig(resolve(opts));
  emitSgemm(m, cfg);
  emitGemv(m, cfg);
  emitDot(m, cfg);
  emitElementwise(m);
  emitReductions(m);
  return m.encode();
}

const compiled = new Map<boolean, WebAssembly.Module>();
/**
 * The compiled module, shared by every instance in this thread (and postable to workers; a
 * worker instantiates this Module, never recompiles bytes, so it runs identical code). Without
 * options: the process default variant.
 * @internal (its WebAssembly types stay out of the published .d.ts, see kernels/types.ts)
 */
export function kernelModule(opts: KernelOptions = {}): WebAssembly.Module {
  const fma = resolve(opts);
  let mod = compiled.get(fma);
  if (!mod) compiled.set(fma, (mod = new WebAssembly.Module(kernelBytes({ fma }))));
  return mod;
}

/** A shared memory of at least `bytes` bytes that can grow to `maxBytes`. @internal */
export function createMemory(bytes: number, maxBytes = Math.max(bytes, 256 * 1024 * 1024)): WebAssembly.Memory {
  const initial = Math.max(1, Math.ceil(bytes / PAGE));
  const maximum = Math.min(MAX_PAGES, Math.max(initial, Math.ceil(maxBytes / PAGE)));
  return new WebAssembly.Memory({ initial, maximum, shared: true });
}

/** Y[rowStart..rowEnd, :] (=|+=) op(A)·op(B) (+ bias) (relu). Offsets in bytes, ld in floats. */
export interface SgemmArgs {
  readonly m: number; readonly n: number; readonly k: number;
  readonly a: number; readonly transA?: boolean; readonly lda?: number; // default: transA ? m : k
  readonly b: number; readonly transB?: boolean; readonly ldb?: number; // default: transB ? k : n
  readonly y: number; readonly ldy?: number; // default n
  readonly bias?: number; // N floats added per column after the product
  readonly relu?: boolean; // y = max(y, 0) last
  readonly accumulate?: boolean; // beta = 1: Y += …
  readonly rowStart?: number; readonly rowEnd?: number; // rows of Y this call computes
  readonly scratch: number; // SGEMM_SCRATCH_BYTES, 16-byte aligned, private to the calling thread
}

type Raw = (...args: number[]) => void;

/**
 * The elementwise and normalization exports, called positionally (byte offsets; counts in
 * floats). Rows [rowStart, rowEnd) of row-wise kernels can be split across threads.
 */
export interface ElementwiseKernels {
  /** 1 if none of the n floats at x is NaN or ±∞, else 0. */
  allFinite(x: number, n: number): number;
  /** 1 if every one of the n floats at x is in [0, 1] (NaN is not), else 0. */
  allUnit(x: number, n: number): number;
  /** y = x < 0 ? 0 : x over n floats (NaN stays, as PyTorch's relu). */
  relu(x: number, y: number, n: number): void;
  /** dx = x ≤ 0 ? 0 : dy (a NaN x passes dy, as PyTorch's relu backward). */
  reluBackward(dy: number, x: number, dx: number, n: number): void;
  /** y[r, :] = x[r, :] + bias for r < rows. */
  addBias(x: number, bias: number, y: number, rows: number, n: number): void;
  /** y (=|+=) Σ_r x[r, :] (the bias gradient); accumulate is 0 or 1. */
  colSum(x: number, y: number, rows: number, n: number, accumulate: number): void;
  /** In-place SGD step on n floats; flags from SGD; v is read/written only with SGD.MOMENTUM. */
  sgd(w: number, g: number, v: number, n: number, lr: number, momentum: number, weightDecay: number, flags: number): void;
  /**
   * Rows of X[·, n] normalized (+ affine with LAYERNORM.AFFINE; x̂ also stored with LAYERNORM.XHAT);
   * mean, rstd and the biased variance get one float per row. With LAYERNORM.STATS only those
   * (y, γ, β and x̂ not touched).
   */
  layerNormFwd(x: number, y: number, gamma: number, beta: number, xhat: number, mean: number, rstd: number, variance: number,
    rowStart: number, rowEnd: number, n: number, eps: number, flags: number): void;
  /** dx for rows [rowStart, rowEnd); dγ/dβ (n floats) += over those rows with PARAM_GRADS, zeroed first with ZERO_PARAM_GRADS. */
  layerNormBwd(x: number, dy: number, gamma: number, mean: number, rstd: number, dx: number, dgamma: number, dbeta: number,
    rowStart: number, rowEnd: number, n: number, flags: number): void;
  /**
   * Columns [colStart, colEnd) of X[rows, n] normalized over the rows (+ affine with
   * BATCHNORM.AFFINE; x̂ also stored with BATCHNORM.XHAT); mean, rstd and the biased variance get
   * one float per column. With BATCHNORM.STATS only those (y, γ, β and x̂ not touched).
   */
  batchNormFwd(x: number, y: number, gamma: number, beta: number, xhat: number, mean: number, rstd: number, variance: number,
    rows: number, n: number, colStart: number, colEnd: number, eps: number, flags: number): void;
  /**
   * dx for columns [colStart, colEnd); with BATCHNORM.AFFINE also dγ, dβ (written, not added).
   * scratch: BATCHNORM_SCRATCH_BYTES, 16-byte aligned, private to the calling thread.
   */
  batchNormBwd(x: number, dy: number, gamma: number, mean: number, rstd: number, dx: number, dgamma: number, dbeta: number,
    rows: number, n: number, colStart: number, colEnd: number, flags: number, scratch: number): void;
  /**
   * loss[0] = lossScale·Σ_rows log softmax(Z)[label] and dZ = (softmax(Z) − onehot)·scale; labels
   * are int32. A row whose label is outside [0, c) adds no loss and gets a zero gradient.
   */
  softmaxCrossEntropy(z: number, labels: number, loss: number, dz: number, rowStart: number, rowEnd: number, c: number, scale: number, lossScale: number): void;
  /** y[o, i] = scale·Σ_k x[o, k, i], x viewed as [outer, n, inner] (reduce.ts). */
  reduceSum(x: number, y: number, outer: number, n: number, inner: number, scale: number): void;
  /** y = x, n floats. */
  copy(x: number, y: number, n: number): void;
  /** y = value (rounded to float32), n floats. */
  fill(y: number, n: number, value: number): void;
}

const ELEMENTWISE_NAMES = [
  "allFinite", "allUnit", "relu", "reluBackward", "addBias", "colSum", "sgd", "layerNormFwd", "layerNormBwd", "batchNormFwd", "batchNormBwd", "softmaxCrossEntropy",
  "reduceSum", "copy", "fill",
] as const satisfies readonly (keyof ElementwiseKernels)[];

/** Every export of the module, by name (what a worker thread may be asked to call). */
export const KERNEL_EXPORTS: readonly string[] = ["sgemm", "sgemmBatch", "gemv", "gemvOuter", "dot", ...ELEMENTWISE_NAMES];

export interface Kernels extends ElementwiseKernels {
  /** @internal (names WebAssembly, which a user's TypeScript may not declare: not in the published types) */
  readonly memory: WebAssembly.Memory;
  /** The validated entry point (allocates nothing; reuse one args object per call site). */
  sgemm(args: SgemmArgs): void;
  /**
   * The raw export: (flags, m0, m1, n, k, a, lda, b, ldb, y, ldy, bias, scratch, counter, chunk, parts, check); counter, chunk,
   * parts only with SGEMM.SPLIT_ROWS/SPLIT_COLS (sgemm-split.ts); check 0 or a flag's address (checkNumerics, sgemm.ts).
   */
  readonly sgemmRaw: Raw;
  /**
   * One row times a transposed matrix, bit for bit the sgemm's row (gemv.ts):
   * (epi, n ≥ 4, k, x, w, ldw, y, bias, check), epi of EPI.BIAS | EPI.RELU | GEMV_DIRECT (B[k, n]
   * instead of W[n, k]); check 0 or a flag's address (checkNumerics). No argument checks: callers check.
   */
  readonly gemvRaw: Raw;
  /**
   * Entries [e0, e1) of a batched product, each the unsplit sgemm (sgemm.ts): (flags, m, n, k, a,
   * lda, b, ldb, y, ldy, scratch, check, e0, e1, strideA, strideB, strideY), strides in bytes. No checks.
   */
  readonly sgemmBatchRaw: Raw;
  /** The K = 1 product, rows [m0, m1) (gemv.ts): (epi, m0, m1, n ≥ 4, a, b, y, ldy, bias). No checks. */
  readonly gemvOuterRaw: Raw;
  /** Narrow products against a transposed matrix, rows [m0, m1) (dot.ts): (epi, m0, m1, n, k, a, lda, w, ldw, y, ldy, bias). No checks. */
  readonly dotRaw: Raw;
}

/** @internal The kernels instantiated on `memory`. */
export function instantiateKernels(memory: WebAssembly.Memory, module: WebAssembly.Module = kernelModule()): Kernels {
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  const ex = inst.exports as Record<string, Raw>;
  const sgemmRaw = ex["sgemm"]!;
  const check = (what: string, off: number, floats: number, align = 4) => {
    if (!Number.isInteger(off) || off % align !== 0 || off < 0 || off + 4 * floats > memory.buffer.byteLength) {
      throw new RangeError(`sgemm: ${what} at byte ${off} (${floats} floats, ${align}-byte aligned) is outside the ${memory.buffer.byteLength}-byte memory or misaligned`);
    }
  };
  const dim = (what: string, x: number) => {
    if (!Number.isInteger(x) || x < 0) throw new RangeError(`sgemm: ${what} must be an integer ≥ 0, got ${x}`);
    return x;
  };
  const sgemm = (p: SgemmArgs): void => {
    const m = dim("m", p.m), n = dim("n", p.n), k = dim("k", p.k);
    const tA = p.transA ?? false, tB = p.transB ?? false;
    const lda = dim("lda", p.lda ?? (tA ? m : k)), ldb = dim("ldb", p.ldb ?? (tB ? k : n)), ldy = dim("ldy", p.ldy ?? n);
    const r0 = dim("rowStart", p.rowStart ?? 0), r1 = dim("rowEnd", p.rowEnd ?? m);
    if (r0 > r1 || r1 > m) throw new RangeError(`sgemm: rows ${r0}..${r1} not within 0..${m}`);
    if (lda < (tA ? m : k) || ldb < (tB ? k : n) || ldy < n) throw new RangeError(`sgemm: a leading dimension is shorter than its row`);
    if (r1 === r0 || n === 0) return;
    // Extent of each operand in floats: (rows − 1)·ld + row length.
    if (k > 0) {
      check("A", p.a, tA ? (k - 1) * lda + m : (m - 1) * lda + k);
      check("B", p.b, tB ? (n - 1) * ldb + k : (k - 1) * ldb + n);
    }
    check("Y", p.y, (m - 1) * ldy + n);
    if (p.bias !== undefined) check("bias", p.bias, n);
    check("scratch", p.scratch, SGEMM_SCRATCH_BYTES / 4, 16);
    const flags = (tA ? SGEMM.TRANS_A : 0) | (tB ? SGEMM.TRANS_B : 0) | (p.accumulate ? SGEMM.ACCUMULATE : 0)
      | (p.bias !== undefined ? SGEMM.BIAS : 0) | (p.relu ? SGEMM.RELU : 0);
    sgemmRaw(flags, r0, r1, n, k, p.a, lda, p.b, ldb, p.y, ldy, p.bias ?? 0, p.scratch);
  };
  const elementwise = Object.fromEntries(ELEMENTWISE_NAMES.map((name) => [name, ex[name]!])) as unknown as ElementwiseKernels;
  return { memory, sgemm, sgemmRaw, sgemmBatchRaw: ex["sgemmBatch"]!, gemvRaw: ex["gemv"]!, gemvOuterRaw: ex["gemvOuter"]!, dotRaw: ex["dot"]!, ...elementwise };
}
