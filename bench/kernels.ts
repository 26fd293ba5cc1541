/**
 * Kernel micro-benchmark: the WebAssembly SIMD kernels against kiln's reference JS kernels.
 *
 *   npx tsx bench/kernels.ts            (KILN_BENCH_QUICK=1 for a short run, KILN_BENCH_JS=0 to
 *                                        skip the slow JS reference)
 *
 * Each row: warm-up calls (so V8 has tiered the wasm up to TurboFan), then repeated timed calls
 * for at least ~0.4 s; the median is reported, and the best run alongside since the machine may
 * be shared. FLOP counts are 2·M·N·K for a matmul. The SGEMM runs in both variants of the kernel
 * module — core SIMD multiply then add, and relaxed SIMD fused multiply-add where the engine has
 * it (see runtime/wasm/features.ts) — alternating between them so load from other processes
 * hits both alike; the speed-up column is the process default's (the FMA one when available).
 */
import { loadavg } from "node:os";
import { matmul } from "../runtime/kernels/matmul.js";
import { normalize } from "../runtime/kernels/reduce.js";
import { wasmFeatures } from "../runtime/wasm/features.js";
import { LAYERNORM, SGD, SGEMM_SCRATCH_BYTES, createMemory, instantiateKernels, kernelModule, type SgemmArgs } from "../runtime/wasm/module.js";

const QUICK = process.env["KILN_BENCH_QUICK"] === "1";
const NO_JS = process.env["KILN_BENCH_JS"] === "0";
const MB = 1 << 20;
const memory = createMemory(160 * MB);
const features = wasmFeatures();
const k = instantiateKernels(memory);
const variants = [
  { name: "mul+add", k: instantiateKernels(memory, kernelModule({ fma: false })) },
  ...(features.relaxedSimd ? [{ name: "FMA", k: instantiateKernels(memory, kernelModule({ fma: true })) }] : []),
];
const defaultVariant = features.fma ? 1 : 0; // the variant `k` (kernelModule()) is
const f32 = new Float32Array(memory.buffer);
for (let i = 0; i < 24 * MB; i++) f32[i] = Math.random() - 0.5;

/** Median and best seconds per call of fn, after warm-up, for at least `budget` seconds. */
function time(fn: () => void, budget = QUICK ? 0.1 : 0.4, warm = 3, minReps = 5): { median: number; best: number } {
  for (let i = 0; i < warm; i++) fn();
  const ts: number[] = [];
  const start = performance.now();
  while (ts.length < minReps || (performance.now() - start) / 1000 < budget) {
    const t0 = performance.now();
    fn();
    ts.push((performance.now() - t0) / 1000);
    if (ts.length >= 2000) break;
  }
  ts.sort((a, b) => a - b);
  return { median: ts[ts.length >> 1]!, best: ts[0]! };
}

interface MatmulCase { name: string; m: number; n: number; k: number; tA: boolean; tB: boolean }
const cases: MatmulCase[] = [
  { name: "256³", m: 256, n: 256, k: 256, tA: false, tB: false },
  { name: "512³", m: 512, n: 512, k: 512, tA: false, tB: false },
  { name: "1024³", m: 1024, n: 1024, k: 1024, tA: false, tB: false },
  { name: "fc1  X·Wᵀ 128×784·(512×784)ᵀ", m: 128, n: 512, k: 784, tA: false, tB: true },
  { name: "fc2  X·Wᵀ 128×512·(512×512)ᵀ", m: 128, n: 512, k: 512, tA: false, tB: true },
  { name: "dW = dYᵀ·X 512×128·128×784", m: 512, n: 784, k: 128, tA: true, tB: false },
  { name: "dX = dY·W 128×512·512×784", m: 128, n: 784, k: 512, tA: false, tB: false },
];

const gflops = (flops: number, s: number) => (flops / s / 1e9).toFixed(1).padStart(6);
const rows: string[] = [];
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
rows.push(`relaxed SIMD: ${features.relaxedSimdSource}, fused multiply-add: ${features.fma}; load average at start: ${load()}`, "");
rows.push(`${"matmul GFLOP/s (median / best)".padEnd(32)} ${variants.map((v) => `wasm ${v.name}`.padEnd(17)).join(" ")} ${"JS ref".padEnd(9)} speed-up`);
for (const c of cases) {
  const flops = 2 * c.m * c.n * c.k;
  // Operands after the scratch region; 64-byte aligned.
  const a = SGEMM_SCRATCH_BYTES + 4 * MB, b = a + 8 * MB, y = b + 8 * MB;
  const args: SgemmArgs = { m: c.m, n: c.n, k: c.k, a, b, y, transA: c.tA, transB: c.tB, scratch: 0 };
  // Alternate the variants in short rounds; keep every variant's fastest median and best.
  const results = variants.map(() => ({ median: Infinity, best: Infinity }));
  for (let round = 0; round < (QUICK ? 1 : 3); round++) {
    variants.forEach((v, i) => {
      const t = time(() => v.k.sgemm(args), QUICK ? 0.1 : 0.25);
      results[i] = { median: Math.min(results[i]!.median, t.median), best: Math.min(results[i]!.best, t.best) };
    });
  }
  // The JS reference on the same data (fewer runs: it is ~50× slower).
  const A = f32.subarray(a / 4, a / 4 + c.m * c.k), B = f32.subarray(b / 4, b / 4 + c.k * c.n), Y = new Float32Array(c.m * c.n);
  const p = [c.m, c.n, c.k, c.tA ? 1 : 0, c.tB ? 1 : 0];
  // The JS reference: one warm-up and ≥ 3 runs, one run only at 1024³ (~5 s each).
  const big = flops > 1e9, skipJs = NO_JS || (QUICK && flops > 3e8);
  const js = skipJs ? undefined : time(() => matmul([A, B, Y], p), QUICK ? 0.1 : 0.5, big ? 0 : 1, big ? 1 : 3);
  rows.push(`${c.name.padEnd(32)} ${results.map((r) => `${gflops(flops, r.median)} / ${gflops(flops, r.best)}`.padEnd(17)).join(" ")} ${(js ? gflops(flops, js.median) : " (skip)").padEnd(9)} ${js ? `${(js.median / results[defaultVariant]!.median).toFixed(0)}×` : ""}`);
}

// Normalization: layerNorm forward over [rows, n], wasm (fused affine) vs the JS normalize kernel.
rows.push("", `${"layerNorm forward".padEnd(32)} ${"wasm µs (median)".padEnd(30)} ${"JS ref µs".padEnd(15)} speed-up`);
for (const [r, n] of [[128, 512], [128, 784]] as const) {
  const x = 64 * MB, yOff = x + 4 * MB, g = yOff + 4 * MB, bOff = g + 4096 * 4, mean = bOff + 4096 * 4, rstd = mean + 4096 * 4;
  const w = time(() => k.layerNormFwd(x, yOff, g, bOff, 0, mean, rstd, rstd + 4096 * 4, 0, r, n, 1e-5, LAYERNORM.AFFINE));
  const X = f32.subarray(x / 4, x / 4 + r * n), Y = new Float32Array(r * n);
  const js = time(() => normalize([X, Y], [r, n, 1, 1e-5]), QUICK ? 0.1 : 0.3);
  rows.push(`${`${r}×${n}`.padEnd(32)} ${(w.median * 1e6).toFixed(1).padStart(8).padEnd(30)} ${(js.median * 1e6).toFixed(1).padStart(8).padEnd(15)} ${(js.median / w.median).toFixed(0)}×`);
}

// Other fused kernels (no single JS reference kernel to compare: the unfused graph runs several).
rows.push("", `${"other kernels (wasm)".padEnd(32)} µs (median)`);
{
  const base = 64 * MB, n = 128 * 512;
  const lnb = time(() => k.layerNormBwd(base, base + 4 * MB, base + 8 * MB, base + 9 * MB, base + 10 * MB, base + 12 * MB, base + 16 * MB, base + 17 * MB, 0, 128, 512, LAYERNORM.AFFINE | LAYERNORM.PARAM_GRADS | LAYERNORM.ZERO_PARAM_GRADS));
  rows.push(`${"layerNorm backward 128×512".padEnd(32)} ${(lnb.median * 1e6).toFixed(1).padStart(8)}`);
  new Int32Array(memory.buffer, base + 20 * MB, 128).fill(3);
  const sm = time(() => k.softmaxCrossEntropy(base, base + 20 * MB, base + 21 * MB, base + 22 * MB, 0, 128, 10, 1 / 128, -1 / 128));
  rows.push(`${"softmax cross-entropy 128×10".padEnd(32)} ${(sm.median * 1e6).toFixed(1).padStart(8)}`);
  const params = 784 * 512 + 512 * 512 + 512 * 10;
  const sgd = time(() => k.sgd(base, base + 4 * MB, base + 8 * MB, params, 0.01, 0.9, 1e-4, SGD.MOMENTUM | SGD.WEIGHT_DECAY));
  rows.push(`${`sgd momentum ${params} params`.padEnd(32)} ${(sgd.median * 1e6).toFixed(1).padStart(8)}`);
  const relu = time(() => k.relu(base, base + 4 * MB, n));
  rows.push(`${"relu 128×512".padEnd(32)} ${(relu.median * 1e6).toFixed(1).padStart(8)}`);
}

rows.push("", `load average at end: ${load()}`);
console.log(rows.join("\n"));
