/**
 * Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
 * as 1, 2, 3", SC 2011). A block of 4 uint32 is a pure function of a 128-bit counter and a 64-bit
 * key, so element i of a random tensor is computable on its own: same seed → same bits, whatever
 * the kernel, the loop order or the thread count.
 *
 * kiln's streams (test/fixtures/make_fixtures.py re-implements exactly this in numpy):
 *   dropout:  key = (seed, stream), counter = (⌊i/4⌋, step, 0, 0), word i mod 4;
 *             u = (word >>> 8) · 2⁻²⁴ ∈ [0, 1); keep ⇔ u ≥ p; mask = keep ? fround(1/(1−p)) : 0.
 *   init:     key = (seed, 0x80000000 + parameter index), counter = (⌊i/4⌋, 0, 0, 0).
 */

import { philoxWordsBytes } from "./wasm/philox-words.js";

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/**
 * High 32 bits of the 64-bit product m·c of two uint32, given its exact low 32 bits `lo`
 * (Math.imul). The float64 product m·c is within 2¹¹ of the true P = hi·2³² + lo (P < 2⁶⁴, half
 * an ulp), and subtracting lo rounds by at most 2¹¹ more: (m·c − lo)·2⁻³² is within 2⁻²⁰ of the
 * integer hi, so adding ½ and truncating (>>> 0: hi < 2³²) gives hi exactly — one product
 * instead of four 16-bit ones, and a third faster than Math.round (init's normals of W7's 559k
 * weights: philox 13 → 9 ms).
 */
function mulhi(m: number, c: number, lo: number): number {
  return ((m * c - lo) * 2.3283064365386963e-10 + 0.5) >>> 0;
}

/** Philox4x32-10 of counter (c0..c3) under key (k0, k1), written into out[0..3]. */
export function philox(
  c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array,
): void {
  for (let round = 0; round < 10; round++) {
    const lo0 = Math.imul(M0, c0) >>> 0, hi0 = mulhi(M0, c0, lo0);
    const lo1 = Math.imul(M1, c2) >>> 0, hi1 = mulhi(M1, c2, lo1);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/** 24-bit uniform in [0, 1), exactly representable in float32. */
export const toUniform = (word: number): number => (word >>> 8) * 5.9604644775390625e-8;

/** Blocks per call of the WebAssembly words kernel: its one 64 KiB page of words. */
const CHUNK_BLOCKS = 4096;

/**
 * The raw words of blocks (first … first + count − 1, c1, 0, 0) under key (k0, k1): a view of the
 * WebAssembly kernel's memory (philox-words.ts; valid until the next call), or null where that
 * kernel cannot run (no shared WebAssembly memory, e.g. a page that is not cross-origin
 * isolated): the callers then use philox() here, the same bits.
 */
let wordsKernel: ((k0: number, k1: number, c1: number, first: number, count: number) => Uint32Array) | null | undefined;
function blockWords(): typeof wordsKernel {
  if (wordsKernel !== undefined) return wordsKernel;
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const run = new WebAssembly.Instance(new WebAssembly.Module(philoxWordsBytes()), { env: { memory } })
      .exports["words"] as (k0: number, k1: number, c1: number, first: number, count: number, out: number) => void;
    const view = new Uint32Array(memory.buffer, 0, 4 * CHUNK_BLOCKS);
    wordsKernel = (k0, k1, c1, first, count) => { run(k0 | 0, k1 | 0, c1 | 0, first | 0, (count + 3) & ~3, 0); return view; };
  } catch {
    wordsKernel = null;
  }
  return wordsKernel;
}

/**
 * Fill `out` with uniforms of stream (k0, k1) at counter words (⌊i/4⌋, c1, 0, 0).
 * Each block of four draws is one Philox evaluation.
 */
export function fillUniform(out: Float32Array | Float64Array, k0: number, k1: number, c1: number): void {
  const words = blockWords(), n = out.length;
  if (!words) return fillUniformJs(out, k0, k1, c1);
  for (let b = 0; 4 * b < n; b += CHUNK_BLOCKS) {
    const count = Math.min(CHUNK_BLOCKS, Math.ceil(n / 4) - b), w = words(k0, k1, c1, b, count);
    const base = 4 * b, end = Math.min(n, base + 4 * count);
    for (let i = base; i < end; i++) out[i] = toUniform(w[i - base]!);
  }
}

function fillUniformJs(out: Float32Array | Float64Array, k0: number, k1: number, c1: number): void {
  const block = new Uint32Array(4);
  for (let i = 0; i < out.length; i += 4) {
    philox(i >>> 2, c1 >>> 0, 0, 0, k0 >>> 0, k1 >>> 0, block);
    const n = Math.min(4, out.length - i);
    for (let j = 0; j < n; j++) out[i + j] = toUniform(block[j]!);
  }
}

/**
 * Standard normals by Box–Muller on pairs of uniforms of the stream: element 2j and 2j+1 use
 * uniforms 2j and 2j+1. u1 is shifted to (0, 1] so the logarithm is finite. The words come from
 * WebAssembly a chunk at a time; the logarithm, cosine and sine stay JavaScript's Math (their bits
 * are the initial weights' bits, which the PyTorch fixtures were made from).
 */
export function fillNormal(out: Float32Array | Float64Array, k0: number, k1: number): void {
  const words = blockWords(), n = out.length;
  if (!words) return fillNormalJs(out, k0, k1);
  for (let b = 0; 4 * b < n; b += CHUNK_BLOCKS) {
    const count = Math.min(CHUNK_BLOCKS, Math.ceil(n / 4) - b), w = words(k0, k1, 0, b, count);
    const base = 4 * b, end = Math.min(n, base + 4 * count);
    // base is a multiple of 4: element i's pair is words i − base and i − base + 1 of the chunk.
    for (let i = base; i < end; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - toUniform(w[i - base]!)));
      const theta = 2 * Math.PI * toUniform(w[i - base + 1]!);
      out[i] = r * Math.cos(theta);
      if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
    }
  }
}

function fillNormalJs(out: Float32Array | Float64Array, k0: number, k1: number): void {
  // Straight from each block of four draws (two pairs): elements 2j and 2j+1 share a block.
  const block = new Uint32Array(4), n = out.length;
  for (let i = 0; i < n; i += 2) {
    if ((i & 3) === 0) philox(i >>> 2, 0, 0, 0, k0 >>> 0, k1 >>> 0, block);
    const r = Math.sqrt(-2 * Math.log(1 - toUniform(block[i & 3]!)));
    const theta = 2 * Math.PI * toUniform(block[(i & 3) + 1]!);
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
}
