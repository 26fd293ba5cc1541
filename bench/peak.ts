/**
 * The machine's WebAssembly SIMD128 peak, measured: a register-only loop of independent f32x4
 * multiply-adds (relaxed_madd, one FMA, where the engine has relaxed SIMD and the SGEMM uses it;
 * else mul + add, as the SGEMM then runs), no memory traffic. 2 flops × 4 lanes per madd. At 2
 * threads a worker runs the same loop at the same time, and the figure is the sum.
 *
 * W1's target is a fraction of this figure, so the target moves with the machine it runs on.
 */
import { Worker } from "node:worker_threads";
import { ModuleBuilder } from "../runtime/wasm/builder.js";
import { f32x4, forRange, get, i32, set, stmt } from "../runtime/wasm/emit.js";
import { wasmFeatures } from "../runtime/wasm/features.js";

/** Independent accumulators: enough chains in flight to cover the FMA latency on two ports. */
const CHAINS = 12;

/** Module exporting peak(iterations) → runs CHAINS × iterations multiply-adds. */
export function peakBytes(fma: boolean): Uint8Array {
  const m = new ModuleBuilder();
  const f = m.func("peak", ["i32"], ["f32"]);
  const n = f.param(0, "i32"), i = f.local("i32");
  const acc = f.locals("v128", CHAINS), a = f.local("v128"), b = f.local("v128");
  const madd = fma ? f32x4.relaxed_madd : f32x4.madd;
  f.body(
    set(a, f32x4.const(0.999999)), set(b, f32x4.const(1e-7)),
    ...acc.map((x, k) => set(x, f32x4.const(k))),
    forRange(i, i32.const(0), get(n), 1, ...acc.map((x) => set(x, madd(get(x), get(a), get(b))))),
    // Fold the accumulators into the result so the loop is not dead code.
    ...acc.slice(1).map((x) => set(acc[0]!, f32x4.add(get(acc[0]!), get(x)))),
    stmt(f32x4.extract_lane(get(acc[0]!), 0)), // the result, left on the stack
  );
  return m.encode();
}

const ITERS = 20_000_000;
const flops = (iters: number) => iters * CHAINS * 8;

/** GFLOP/s of the loop on this thread (best of three runs after a warm-up). */
function single(bytes: Uint8Array): number {
  const peak = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports["peak"] as (n: number) => number;
  peak(1_000_000);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    peak(ITERS);
    best = Math.min(best, performance.now() - t0);
  }
  return flops(ITERS) / best / 1e6;
}

/** The loop on `threads` threads at once (this one and threads − 1 workers): summed GFLOP/s. */
export async function measurePeak(threads: 1 | 2): Promise<{ gflops: number; fma: boolean }> {
  const fma = wasmFeatures().fma;
  const bytes = peakBytes(fma);
  if (threads === 1) return { gflops: single(bytes), fma };
  const src = `const { parentPort, workerData } = require("node:worker_threads");
    const peak = new WebAssembly.Instance(new WebAssembly.Module(workerData.bytes)).exports.peak;
    peak(1000000);
    parentPort.postMessage("ready");
    parentPort.once("message", () => { let best = Infinity; for (let r = 0; r < 3; r++) { const t0 = performance.now(); peak(${ITERS}); best = Math.min(best, performance.now() - t0); } parentPort.postMessage(best); });`;
  const w = new Worker(src, { eval: true, workerData: { bytes } });
  try {
    await new Promise((r) => w.once("message", r));
    const done = new Promise<number>((r) => w.once("message", r));
    w.postMessage("go");
    const here = single(bytes);
    const there = flops(ITERS) / (await done) / 1e6;
    return { gflops: here + there, fma };
  } finally {
    await w.terminate();
  }
}
