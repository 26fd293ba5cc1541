/**
 * The batch-1 row kernel (runtime/wasm/gemv.ts) gives exactly the sgemm's row, bit for bit, so a
 * sample predicted alone equals its row of a batch: sizes around the group (16 outputs), the
 * vector (4) and the k block (KC = 256) boundaries, K = 0, padded leading dimensions, every
 * epilogue, both module variants; nothing written outside y. Then the same promise through the
 * public API, where single-sample predict runs this kernel.
 */
import { describe, expect, it } from "vitest";
import { compile, layerNorm, linear, relu, seq, softmaxCrossEntropy } from "../src/index.js";
import { wasmFeatures } from "../runtime/wasm/features.js";
import { GEMV_DIRECT } from "../runtime/wasm/gemv.js";
import { EPI } from "../runtime/wasm/microkernel.js";
import { SGEMM_SCRATCH_BYTES, createMemory, instantiateKernels, kernelModule } from "../runtime/wasm/module.js";
import { signedRand } from "./helpers/run.js";

const memory = createMemory(16 << 20);
const F = () => new Float32Array(memory.buffer);
const U = () => new Uint32Array(memory.buffer);

/** Deterministic uniform [-1, 1) (mulberry32). */
const rng = signedRand;

const variants = [
  { fma: false, name: "multiply then add" },
  ...(wasmFeatures().relaxedSimd ? [{ fma: true, name: "relaxed_madd" }] : []),
];

describe.each(variants)("gemv ($name)", ({ fma }) => {
  const k = instantiateKernels(memory, kernelModule({ fma }));

  it("equals the sgemm's row bit for bit (W[n, k] and B[k, n]), writes only y[0..n], and meets a float64 reference", () => {
    let seed = 1, cases = 0;
    for (const direct of [false, true]) for (const n of [4, 5, 7, 16, 17, 31, 33, 70]) for (const K of [0, 1, 3, 4, 255, 256, 257, 520]) for (const pad of [0, 3]) {
      const rand = rng(seed++), epi = seed % 4;
      // W[n, k] (row pitch ldw ≥ k) or B[k, n] (row pitch ldw ≥ n); element (j, p) of op(B) at w[at(j, p)].
      const ldw = (direct ? n : K) + pad, at = (j: number, p: number) => (direct ? p * ldw + j : j * ldw + p);
      const x = SGEMM_SCRATCH_BYTES + 64 + 4 * (pad % 2), w = x + 4 * K + 64, ys = w + 4 * (direct ? K : n) * ldw + 64, yg = ys + 4 * n + 64, bias = yg + 4 * n + 64;
      const f = F();
      for (let i = 0; i < K; i++) f[x / 4 + i] = rand();
      for (let i = 0; i < (direct ? K : n) * ldw; i++) f[w / 4 + i] = rand();
      for (let i = 0; i < n; i++) f[bias / 4 + i] = rand();
      f.fill(12345, yg / 4 - 8, yg / 4 + n + 8); // canary around y
      k.sgemm({ m: 1, n, k: K, a: x, b: w, ldb: ldw, transB: !direct, y: ys, ...(epi & 1 ? { bias } : {}), relu: (epi & 2) !== 0, scratch: 0 });
      k.gemvRaw((epi & 1 ? EPI.BIAS : 0) | (epi & 2 ? EPI.RELU : 0) | (direct ? GEMV_DIRECT : 0), n, K, x, w, ldw, yg, bias);
      const u = U();
      for (let j = 0; j < n; j++) expect(u[yg / 4 + j], `direct=${direct} n=${n} K=${K} pad=${pad} epi=${epi} y[${j}]`).toBe(u[ys / 4 + j]);
      for (let j = 1; j <= 8; j++) expect([f[yg / 4 - j], f[yg / 4 + n - 1 + j]]).toEqual([12345, 12345]);
      for (let j = 0; j < n; j++) {
        let s = epi & 1 ? f[bias / 4 + j]! : 0, bound = 0;
        for (let p = 0; p < K; p++) { s += f[x / 4 + p]! * f[w / 4 + at(j, p)]!; bound += Math.abs(f[x / 4 + p]! * f[w / 4 + at(j, p)]!); }
        if (epi & 2) s = Math.max(s, 0);
        expect(Math.abs(f[yg / 4 + j]! - s)).toBeLessThanOrEqual(2 ** -24 * (Math.min(K, 256) + 8) * (bound + 1));
      }
      cases++;
    }
    expect(cases).toBe(256);
  });

  it("outputs computed in column chunks, in any order, equal the whole call's bit for bit (what a split across threads runs)", () => {
    let seed = 500;
    for (const direct of [false, true]) for (const [n, K, cuts] of [[70, 300, [16, 48]], [82, 37, [16, 32, 48, 64, 80]], [37, 520, [4, 20]]] as const) {
      const rand = rng(seed++), ldw = direct ? n : K;
      const x = SGEMM_SCRATCH_BYTES + 64, w = x + 4 * K + 64, yw = w + 4 * n * K + 64, yc = yw + 4 * n + 64, bias = yc + 4 * n + 64;
      const f = F();
      for (let i = 0; i < K; i++) f[x / 4 + i] = rand();
      for (let i = 0; i < n * K; i++) f[w / 4 + i] = rand();
      for (let i = 0; i < n; i++) f[bias / 4 + i] = rand();
      const epi = EPI.BIAS | EPI.RELU | (direct ? GEMV_DIRECT : 0);
      k.gemvRaw(epi, n, K, x, w, ldw, yw, bias);
      const bounds = [0, ...cuts, n];
      // Last chunk first: a chunk writes only its own outputs, whatever ran before it.
      for (let c = bounds.length - 2; c >= 0; c--) {
        const c0 = bounds[c]!, c1 = bounds[c + 1]!;
        k.gemvRaw(epi, c1 - c0, K, x, w + 4 * c0 * (direct ? 1 : ldw), ldw, yc + 4 * c0, bias + 4 * c0);
      }
      const u = U();
      for (let j = 0; j < n; j++) expect(u[yc / 4 + j], `direct=${direct} n=${n} K=${K} y[${j}]`).toBe(u[yw / 4 + j]);
    }
  });

  it("the K = 1 product (a column times a row) equals the sgemm's, bit for bit, signed zeros included", () => {
    let seed = 900;
    for (const [m, n] of [[1, 4], [3, 5], [17, 33], [64, 7], [5, 100]]) for (const epi of [0, 1, 2, 3]) for (const ldy of [n!, n! + 3]) {
      const rand = rng(seed++);
      const a = SGEMM_SCRATCH_BYTES + 64, b = a + 4 * m! + 64, ys = b + 4 * n! + 64, yg = ys + 4 * m! * ldy + 64, bias = yg + 4 * m! * ldy + 64;
      const f = F();
      // Some exact zeros of either sign: 0·x must come out +0 as the micro-kernel's +0 + 0·x does.
      for (let i = 0; i < m!; i++) f[a / 4 + i] = i % 5 === 0 ? -0 : rand();
      for (let j = 0; j < n!; j++) f[b / 4 + j] = j % 7 === 3 ? 0 : rand();
      for (let j = 0; j < n!; j++) f[bias / 4 + j] = rand();
      f.fill(12345, ys / 4, ys / 4 + m! * ldy); f.fill(12345, yg / 4 - 8, yg / 4 + m! * ldy + 8);
      k.sgemm({ m: m!, n: n!, k: 1, a, b, y: ys, ldy, ...(epi & 1 ? { bias } : {}), relu: (epi & 2) !== 0, scratch: 0 });
      k.gemvOuterRaw((epi & 1 ? EPI.BIAS : 0) | (epi & 2 ? EPI.RELU : 0), 0, m!, n!, a, b, yg, ldy, bias);
      const u = U();
      for (let i = 0; i < m!; i++) for (let j = 0; j < ldy; j++) {
        expect(u[yg / 4 + i * ldy + j], `m=${m} n=${n} epi=${epi} ldy=${ldy} y[${i},${j}]`).toBe(u[ys / 4 + i * ldy + j]);
      }
      for (let j = 1; j <= 8; j++) expect([f[yg / 4 - j], f[yg / 4 + m! * ldy - 1 + j]]).toEqual([12345, 12345]);
    }
  });
});

describe("predict on one sample", () => {
  it("equals its row of a batch, bit for bit, at 1 and 2 threads (odd widths: partial groups and k tails)", () => {
    const model = seq(linear(37, 301), layerNorm(301), relu, linear(301, 13), relu, linear(13, 6));
    for (const threads of [1, 2]) {
      const net = compile(model, { inputs: 37, batch: 8, seed: 5, threads, loss: softmaxCrossEntropy() });
      const r = rng(11), x = Float32Array.from({ length: 9 * 37 }, () => r());
      const all = net.predict(x);
      for (let i = 0; i < 9; i++) {
        expect(Array.from(net.predict(x.subarray(37 * i, 37 * (i + 1)))), `sample ${i}, ${threads} threads`).toEqual(Array.from(all.subarray(6 * i, 6 * (i + 1))));
      }
      expect(net.programs().get("eval[1]")!.steps.every((s) => s.wasm)).toBe(true);
      net.dispose();
    }
  });

  it("a product large enough to split over threads gives the one-thread bits (outputs in chunks of whole columns; a last chunk under 4 merged)", () => {
    // 300 → 1000: chunks of 112 outputs (9); 2048 → 82: chunks of 16, the last 2 merged (5).
    for (const [inputs, width] of [[300, 1000], [2048, 82]] as const) {
      const model = seq(linear(inputs, width), relu, linear(width, 5));
      const r = rng(inputs), x = Float32Array.from({ length: inputs }, () => r());
      const outs = [1, 2].map((threads) => {
        const net = compile(model, { inputs, batch: 4, seed: 3, threads, loss: softmaxCrossEntropy() });
        const y = [0, 1, 2].map(() => Array.from(net.predict(x))); // the pool may split any of these calls
        const steps = net.programs().get("eval[1]")!.steps;
        net.dispose();
        return { y, threads: steps[0]!.threads };
      });
      expect(outs.map((o) => o.threads)).toEqual([1, 2]);
      for (const y of [...outs[0]!.y, ...outs[1]!.y]) expect(y).toEqual(outs[0]!.y[0]);
    }
  });
});
