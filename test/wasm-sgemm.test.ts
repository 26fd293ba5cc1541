/**
 * The WebAssembly sgemm against a float64 reference: every transpose combination, sizes around
 * and across the tile (4×8) and block (KC = 256, NC = 2048) boundaries, fused epilogues,
 * leading dimensions larger than rows, and row splits that must reproduce the unsplit result
 * bit for bit — in one thread and across a worker sharing the memory. Everything runs for both
 * variants of the kernel module: core SIMD multiply then add, and relaxed SIMD fused
 * multiply-add (when the engine has relaxed SIMD; see runtime/wasm/features.ts).
 */
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { wasmFeatures } from "../runtime/wasm/features.js";
import { sgemmConfig } from "../runtime/wasm/sgemm.js";
import { SGEMM, SGEMM_SCRATCH_BYTES, createMemory, instantiateKernels, kernelModule, type Kernels, type SgemmArgs } from "../runtime/wasm/module.js";
import { signedRand } from "./helpers/run.js";

const memory = createMemory(64 << 20);
const F = () => new Float32Array(memory.buffer);
const scratch = 0;

/** Deterministic uniform [-1, 1) (mulberry32). */
const rng = signedRand;

interface Case { m: number; n: number; k: number; tA: boolean; tB: boolean; bias?: boolean; relu?: boolean; acc?: boolean; pad?: boolean }

/** Lay out A, B, Y, bias after the scratch; pad = ld > row length and 4-byte (not 16) alignment. */
function setup(c: Case, seed: number) {
  const rand = rng(seed);
  const lda = (c.tA ? c.m : c.k) + (c.pad ? 3 : 0), ldb = (c.tB ? c.k : c.n) + (c.pad ? 5 : 0), ldy = c.n + (c.pad ? 2 : 0);
  const aRows = c.tA ? c.k : c.m, bRows = c.tB ? c.n : c.k;
  let top = SGEMM_SCRATCH_BYTES + 64;
  const alloc = (floats: number) => { const off = top + (c.pad ? 4 : 0); top += 4 * floats + 128; return off; };
  const a = alloc(aRows * lda), b = alloc(bRows * ldb), y = alloc(c.m * ldy + 16), bias = alloc(c.n);
  const f = F();
  for (let i = 0; i < aRows * lda; i++) f[a / 4 + i] = rand();
  for (let i = 0; i < bRows * ldb; i++) f[b / 4 + i] = rand();
  for (let i = 0; i < c.n; i++) f[bias / 4 + i] = rand();
  for (let i = 0; i < c.m * ldy + 16; i++) f[y / 4 + i] = c.acc ? rand() : 12345; // 12345: canary
  const args: SgemmArgs = {
    m: c.m, n: c.n, k: c.k, a, b, y, lda, ldb, ldy, transA: c.tA, transB: c.tB, scratch,
    ...(c.bias ? { bias } : {}), relu: c.relu ?? false, accumulate: c.acc ?? false,
  };
  return { args, lda, ldb, ldy };
}

/** Max of |y − ref| / bound, where bound is the first-order error bound of blocked f32 sums. */
function check(c: Case, args: SgemmArgs, lda: number, ldb: number, ldy: number, y0: Float32Array, KC: number): number {
  const f = F();
  // op(A) row-major and op(B) column-major as float64, so the reference's inner loop is contiguous.
  const opA = new Float64Array(c.m * c.k), opBt = new Float64Array(c.n * c.k);
  for (let i = 0; i < c.m; i++) for (let p = 0; p < c.k; p++) opA[i * c.k + p] = f[args.a / 4 + (c.tA ? p * lda + i : i * lda + p)]!;
  for (let j = 0; j < c.n; j++) for (let p = 0; p < c.k; p++) opBt[j * c.k + p] = f[args.b / 4 + (c.tB ? j * ldb + p : p * ldb + j)]!;
  const u = 2 ** -24, steps = Math.min(c.k, KC) + Math.ceil(c.k / KC) + 3;
  let worst = 0;
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < ldy; j++) {
      const got = f[args.y / 4 + i * ldy + j]!;
      if (j >= c.n) { if (!Object.is(got, y0[i * ldy + j])) return Infinity; continue; } // padding untouched
      let s = 0, mag = 0;
      for (let p = 0, ia = i * c.k, jb = j * c.k; p < c.k; p++) { const t = opA[ia + p]! * opBt[jb + p]!; s += t; mag += Math.abs(t); }
      if (c.acc) { s += y0[i * ldy + j]!; mag += Math.abs(y0[i * ldy + j]!); }
      if (c.bias) { const bj = f[args.bias! / 4 + j]!; s += bj; mag += Math.abs(bj); }
      if (c.relu) s = s > 0 ? s : 0;
      worst = Math.max(worst, Math.abs(got - s) / (steps * u * mag + 1e-30));
    }
  }
  for (let t = c.m * ldy; t < c.m * ldy + 16; t++) if (!Object.is(f[args.y / 4 + t], y0[t])) return Infinity; // after Y
  return worst;
}

/** Number of elements whose bits differ. */
function bitDiff(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let d = Math.abs(x.length - y.length);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) d++;
  return d;
}

function run(k: Kernels, KC: number, c: Case, seed: number): number {
  const { args, lda, ldb, ldy } = setup(c, seed);
  const y0 = F().slice(args.y / 4, args.y / 4 + c.m * ldy + 16);
  k.sgemm(args);
  return check(c, args, lda, ldb, ldy, y0, KC);
}

const transposes = [[false, false], [false, true], [true, false], [true, true]] as const;
const epilogues: Partial<Case>[] = [{}, { bias: true }, { bias: true, relu: true }, { acc: true }, { acc: true, bias: true, relu: true }, { relu: true }];

const variants = [
  { fma: false, name: "multiply then add" },
  ...(wasmFeatures().relaxedSimd ? [{ fma: true, name: "relaxed_madd" }] : []),
];

describe.each(variants)("sgemm ($name)", ({ fma }) => {
  const module = kernelModule({ fma });
  const k = instantiateKernels(memory, module);
  const KC = sgemmConfig(fma).block.KC;
  const run1 = (c: Case, seed: number) => run(k, KC, c, seed);
  /** Case c set up from `seed` and computed unsplit: its arguments and the bits of Y. */
  const unsplit = (c: Case, seed: number) => {
    const { args, ldy } = setup(c, seed), len = c.m * ldy;
    k.sgemm(args);
    return { args, ldy, len, whole: F().slice(args.y / 4, args.y / 4 + len) };
  };
  /** A worker's own scratch, far from this thread's. */
  const WORKER_SCRATCH = 48 << 20;

  it("small sizes in every transpose combination", () => {
    let seed = 1;
    for (const m of [1, 7, 33]) for (const n of [1, 7, 33]) for (const kk of [1, 7, 33]) for (const [tA, tB] of transposes) {
      expect(run1({ m, n, k: kk, tA, tB }, seed++)).toBeLessThanOrEqual(1);
    }
  });

  it("tile, block and panel edges, with every epilogue", () => {
    const shapes = [[64, 64, 64], [100, 257, 33], [257, 100, 300], [33, 257, 257], [128, 10, 784], [5, 2049, 3], [3, 9, 513], [129, 17, 1], [4, 8, 256], [2, 3, 0]];
    let seed = 100;
    for (const [m, n, kk] of shapes) for (const [tA, tB] of transposes) {
      const epi = epilogues[seed % epilogues.length]!;
      expect(run1({ m: m!, n: n!, k: kk!, tA, tB, ...epi }, seed++), `${m}×${n}×${kk} ${tA} ${tB} ${JSON.stringify(epi)}`).toBeLessThanOrEqual(1);
    }
  });

  it("every epilogue, with padded leading dimensions and unaligned offsets", () => {
    let seed = 200;
    for (const epi of epilogues) for (const [tA, tB] of transposes) {
      expect(run1({ m: 13, n: 21, k: 300, tA, tB, pad: true, ...epi }, seed++)).toBeLessThanOrEqual(1);
    }
  });

  it("row splits reproduce the unsplit result bit for bit", () => {
    let seed = 300;
    for (const [m, n, kk] of [[37, 19, 300], [130, 33, 7], [9, 2049, 5]]) for (const [tA, tB] of transposes) {
      const c: Case = { m: m!, n: n!, k: kk!, tA, tB, bias: true, relu: seed % 2 === 0, acc: seed % 3 === 0 };
      const { args, ldy } = setup(c, seed++);
      const len = c.m * ldy, y0 = F().slice(args.y / 4, args.y / 4 + len);
      k.sgemm(args);
      const whole = F().slice(args.y / 4, args.y / 4 + len);
      for (const cuts of [[0, 1, c.m], [0, 5, 6, c.m], [0, c.m - 1, c.m], [0, 3, 17, c.m]]) {
        F().set(y0, args.y / 4);
        for (let s = 0; s + 1 < cuts.length; s++) {
          const lo = Math.min(cuts[s]!, c.m), hi = Math.min(cuts[s + 1]!, c.m);
          k.sgemm({ ...args, rowStart: lo, rowEnd: hi });
        }
        expect(bitDiff(F().slice(args.y / 4, args.y / 4 + len), whole)).toBe(0);
      }
    }
  });

  it("a worker on the same memory and module computes half the rows, bit-identically", async () => {
    const c: Case = { m: 70, n: 45, k: 260, tA: false, tB: true, bias: true, relu: true };
    const { args, ldy, len, whole } = unsplit(c, 400);
    F().fill(0, args.y / 4, args.y / 4 + len);
    // The worker uses its own scratch; the raw export takes (flags, m0, m1, n, k, a, lda, b, ldb, y, ldy, bias, scratch).
    const raw = [SGEMM.TRANS_B | SGEMM.BIAS | SGEMM.RELU, 35, 70, c.n, c.k, args.a, args.lda!, args.b, args.ldb!, args.y, ldy, args.bias!, WORKER_SCRATCH];
    const worker = new Worker(`
      const { parentPort, workerData: { module, memory, raw } } = require("node:worker_threads");
      const inst = new WebAssembly.Instance(module, { env: { memory } });
      inst.exports.sgemm(...raw);
      parentPort.postMessage("done");`, { eval: true, workerData: { module, memory, raw } });
    const done = new Promise((resolve, reject) => { worker.once("message", resolve); worker.once("error", reject); });
    k.sgemm({ ...args, rowStart: 0, rowEnd: 35 });
    await done;
    await worker.terminate();
    expect(bitDiff(F().slice(args.y / 4, args.y / 4 + len), whole)).toBe(0);
  });

  // Split mode (sgemm-split.ts): chunks of rows or columns claimed from a counter. One call
  // claims every chunk; any largest chunk up to MC, for any thread count, must give the unsplit bits.
  const counter = SGEMM_SCRATCH_BYTES; // the 64 free bytes before setup's operands
  const splitRaw = (args: SgemmArgs, mode: number, chunk: number, parts = 1) => k.sgemmRaw(
    mode | (args.transA ? SGEMM.TRANS_A : 0) | (args.transB ? SGEMM.TRANS_B : 0) | (args.bias !== undefined ? SGEMM.BIAS : 0)
    | (args.relu ? SGEMM.RELU : 0) | (args.accumulate ? SGEMM.ACCUMULATE : 0),
    0, args.m, args.n, args.k, args.a, args.lda!, args.b, args.ldb!, args.y, args.ldy!, args.bias ?? 0, scratch, counter, chunk, parts);
  const I32 = () => new Int32Array(memory.buffer);

  it("chunks of rows or columns from a shared counter give the unsplit result bit for bit, at odd sizes", () => {
    let seed = 500;
    const shapes = [[1, 1, 1], [3, 37, 5], [37, 3, 300], [1000, 13, 37], [13, 1000, 260], [37, 37, 513], [130, 33, 7], [5, 9, 0]];
    for (const [m, n, kk] of shapes) for (const [tA, tB] of transposes) for (const mode of [SGEMM.SPLIT_ROWS, SGEMM.SPLIT_COLS]) {
      const c: Case = { m: m!, n: n!, k: kk!, tA, tB, ...epilogues[seed % epilogues.length], pad: seed % 2 === 0 };
      const { args, ldy } = setup(c, seed++);
      const len = c.m * ldy + 16, y0 = F().slice(args.y / 4, args.y / 4 + len);
      k.sgemm(args);
      const whole = F().slice(args.y / 4, args.y / 4 + len);
      for (const chunk of mode === SGEMM.SPLIT_ROWS ? [1, 4, 5, 36, 128] : [1, 8, 12, 128]) {
        F().set(y0, args.y / 4);
        I32()[counter / 4] = 0;
        splitRaw(args, mode, chunk, 1 + (chunk % 3));
        const what = `${m}×${n}×${kk} ${tA} ${tB} ${mode === SGEMM.SPLIT_ROWS ? "rows" : "columns"} of ${chunk}`;
        expect(bitDiff(F().slice(args.y / 4, args.y / 4 + len), whole), what).toBe(0);
        expect(I32()[counter / 4], what).toBeGreaterThanOrEqual(mode === SGEMM.SPLIT_ROWS ? c.m : c.n);
      }
      F().set(y0, args.y / 4);
      expect(run1(c, seed - 1)).toBeLessThanOrEqual(1); // and the unsplit result is right
    }
  });

  it("a thread that comes after the last chunk was claimed changes nothing", () => {
    const c: Case = { m: 40, n: 24, k: 33, tA: false, tB: false, bias: true };
    const { args, ldy } = setup(c, 600);
    const before = F().slice(args.y / 4, args.y / 4 + c.m * ldy);
    I32()[counter / 4] = c.m;
    splitRaw(args, SGEMM.SPLIT_ROWS, 8);
    expect(bitDiff(F().slice(args.y / 4, args.y / 4 + c.m * ldy), before)).toBe(0);
  });

  it("a worker and this thread share the chunks of one product, bit-identically", async () => {
    const c: Case = { m: 300, n: 200, k: 270, tA: true, tB: false, bias: true, relu: true };
    const { args, ldy, len, whole } = unsplit(c, 700);
    // Rounds alternate rows and columns, chunks of 16 and 8; the worker makes the same call on its own scratch.
    const rounds = [[SGEMM.SPLIT_ROWS, 16], [SGEMM.SPLIT_COLS, 16], [SGEMM.SPLIT_ROWS, 8], [SGEMM.SPLIT_COLS, 8]] as const;
    const raw = (mode: number, chunk: number, at: number) => [SGEMM.TRANS_A | SGEMM.BIAS | SGEMM.RELU | mode, 0, c.m, c.n, c.k, args.a, args.lda!, args.b, args.ldb!, args.y, ldy, args.bias!, at, counter, chunk, 2];
    const go = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(`
      const { parentPort, workerData: { module, memory, go, calls } } = require("node:worker_threads");
      const sgemm = new WebAssembly.Instance(module, { env: { memory } }).exports.sgemm;
      const g = new Int32Array(go);
      calls.forEach((call, r) => { Atomics.wait(g, 0, r); sgemm(...call); Atomics.store(g, 1, r + 1); Atomics.notify(g, 1); });
      parentPort.postMessage("done");`, { eval: true, workerData: { module, memory, go: go.buffer, calls: rounds.map(([mode, chunk]) => raw(mode, chunk, WORKER_SCRATCH)) } });
    const done = new Promise((resolve, reject) => { worker.once("message", resolve); worker.once("error", reject); });
    for (const [r, [mode, chunk]] of rounds.entries()) {
      F().fill(0, args.y / 4, args.y / 4 + len);
      I32()[counter / 4] = 0;
      Atomics.store(go, 0, r + 1); Atomics.notify(go, 0);
      k.sgemmRaw(...raw(mode, chunk, scratch));
      while (Atomics.load(go, 1) < r + 1) await new Promise((resolve) => setTimeout(resolve, 1));
      expect(bitDiff(F().slice(args.y / 4, args.y / 4 + len), whole), `round ${r}`).toBe(0);
    }
    await done;
    await worker.terminate();
  });

  it(fma ? "fuses each multiply-add (one rounding) where the hardware has FMA" : "rounds each product before adding it", () => {
    // y[0, 0] = a0·b0 + a1·b1 with a0·b0 = −(1 + 2⁻¹¹) and a1·b1 = 1 + 2⁻¹¹ + 2⁻²⁴, both exact:
    // rounding a1·b1 to f32 first loses the 2⁻²⁴, a fused multiply-add keeps it. Everything
    // else is 0. 1×1 goes through an edge tile, 8×16 through full tiles.
    for (const [m, n] of [[1, 1], [8, 16]] as const) {
      const a = SGEMM_SCRATCH_BYTES + 64, b = a + 4 * 2 * m + 64, y = b + 4 * 2 * n + 64, f = F();
      f.fill(0, a / 4, a / 4 + 2 * m).set([-1, 1 + 2 ** -12], a / 4); // A: m×2, row 0 set
      f.fill(0, b / 4, b / 4 + 2 * n);
      f[b / 4] = 1 + 2 ** -11; f[b / 4 + n] = 1 + 2 ** -12; // B: 2×n, column 0 set
      k.sgemm({ m, n, k: 2, a, b, y, scratch });
      expect(F()[y / 4]).toBe(fma && wasmFeatures().fma ? 2 ** -24 : 0);
    }
  });

  it("rejects operands outside the memory and bad row ranges with a clear error", () => {
    const base: SgemmArgs = { m: 4, n: 4, k: 4, a: 1 << 20, b: 2 << 20, y: 3 << 20, scratch };
    expect(() => k.sgemm({ ...base, y: memory.buffer.byteLength - 8 })).toThrow(/Y at byte/);
    expect(() => k.sgemm({ ...base, a: 2 })).toThrow(/misaligned/);
    expect(() => k.sgemm({ ...base, rowStart: 3, rowEnd: 2 })).toThrow(/rows 3\.\.2/);
    expect(() => k.sgemm({ ...base, scratch: 4 })).toThrow(/scratch/);
  });
});
