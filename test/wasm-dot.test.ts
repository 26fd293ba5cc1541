/**
 * The narrow-product kernel (runtime/wasm/dot.ts): Y = A·Wᵀ with fewer than DOT_MAX_N columns,
 * summed along k in four lanes. Its summation order is the contract (a sample alone equals its
 * row of a batch; any row chunk on any thread gives the same bits), so the multiply-then-add
 * variant is held to a float32 emulation of that order bit for bit, both variants to a float64
 * reference; every N below 16 (blocks of 4 and the 1–3 left over), K around the vector, padded
 * pitches, every epilogue, rows one at a time, nothing written outside Y's rows. Then through the
 * public API: a classifier head at 1 and 2 threads.
 */
import { describe, expect, it } from "vitest";
import { compile, linear, relu, seq, softmaxCrossEntropy, tanh } from "../src/index.js";
import { DOT_MAX_N } from "../runtime/wasm/dot.js";
import { wasmFeatures } from "../runtime/wasm/features.js";
import { EPI } from "../runtime/wasm/microkernel.js";
import { createMemory, instantiateKernels, kernelModule } from "../runtime/wasm/module.js";
import { signedRand } from "./helpers/run.js";

const memory = createMemory(16 << 20);
const F = () => new Float32Array(memory.buffer);
const U = () => new Uint32Array(memory.buffer);
const fr = Math.fround;

const variants = [
  { fma: false, name: "multiply then add" },
  ...(wasmFeatures().relaxedSimd ? [{ fma: true, name: "relaxed_madd" }] : []),
];

/** y[i, j] in dot.ts's order, every step rounded to float32 (the multiply-then-add module). */
function emulate(a: Float32Array, lda: number, w: Float32Array, ldw: number, i: number, j: number, K: number, bias: number | null, relu: boolean): number {
  const lanes = [0, 0, 0, 0], K4 = K & -4;
  for (let k = 0; k < K4; k++) lanes[k % 4] = fr(lanes[k % 4]! + fr(a[i * lda + k]! * w[j * ldw + k]!));
  let s = fr(fr(lanes[0]! + lanes[1]!) + fr(lanes[2]! + lanes[3]!));
  for (let k = K4; k < K; k++) s = fr(s + fr(a[i * lda + k]! * w[j * ldw + k]!));
  if (bias !== null) s = fr(s + bias);
  return relu && s < 0 ? 0 : s;
}

describe.each(variants)("dot ($name)", ({ fma }) => {
  const k = instantiateKernels(memory, kernelModule({ fma }));

  it("gives the documented order's bits, row by row the same, writes only Y's rows, and meets a float64 reference", () => {
    let seed = 1, cases = 0;
    for (const M of [1, 2, 3, 6]) for (let N = 1; N < DOT_MAX_N; N++) for (const K of [0, 1, 3, 4, 5, 8, 37]) {
      const rand = signedRand(seed++), epi = seed % 4, pad = seed % 3;
      const lda = K + pad, ldw = K + 2 * pad, ldy = N + pad;
      const a = 64, w = a + 4 * M * lda + 64, y = w + 4 * N * ldw + 64, yr = y + 4 * M * ldy + 64, bias = yr + 4 * M * ldy + 64;
      const f = F();
      for (let i = 0; i < M * lda; i++) f[a / 4 + i] = rand();
      for (let i = 0; i < N * ldw; i++) f[w / 4 + i] = rand();
      for (let i = 0; i < N; i++) f[bias / 4 + i] = rand();
      f.fill(12345, y / 4 - 8, y / 4 + M * ldy + 8);
      const flags = (epi & 1 ? EPI.BIAS : 0) | (epi & 2 ? EPI.RELU : 0);
      k.dotRaw(flags, 0, M, N, K, a, lda, w, ldw, y, ldy, bias);
      // Each row alone (what one sample's predict or one thread's chunk computes), last row first.
      for (let i = M - 1; i >= 0; i--) k.dotRaw(flags, i, i + 1, N, K, a, lda, w, ldw, yr, ldy, bias);
      const u = U(), av = f.subarray(a / 4), wv = f.subarray(w / 4);
      for (let i = 0; i < M; i++) for (let j = 0; j < ldy; j++) {
        const at = y / 4 + i * ldy + j, what = `M=${M} N=${N} K=${K} pad=${pad} epi=${epi} y[${i},${j}]`;
        if (j >= N) { expect(f[at], `${what}: outside the row`).toBe(12345); continue; }
        expect(u[yr / 4 + i * ldy + j], `${what}: row alone`).toBe(u[at]);
        if (!fma) expect(f[at], `${what}: order`).toBe(emulate(av, lda, wv, ldw, i, j, K, epi & 1 ? f[bias / 4 + j]! : null, (epi & 2) !== 0));
        let s = epi & 1 ? f[bias / 4 + j]! : 0, bound = 0;
        for (let p = 0; p < K; p++) { const t = av[i * lda + p]! * wv[j * ldw + p]!; s += t; bound += Math.abs(t); }
        if (epi & 2) s = Math.max(s, 0);
        expect(Math.abs(f[at]! - s), what).toBeLessThanOrEqual(2 ** -24 * (K + 8) * (bound + 1));
      }
      for (let q = 1; q <= 8; q++) expect([f[y / 4 - q], f[y / 4 + M * ldy - 1 + q]]).toEqual([12345, 12345]);
      cases++;
    }
    expect(cases).toBe(4 * 15 * 7);
  });

  it("keeps NaN and infinities through the sum, the bias and relu (relu(NaN) is NaN, as PyTorch's)", () => {
    const K = 9, N = 6, a = 64, w = 256, y = 1024, bias = 2048, f = F();
    f.fill(1, a / 4, a / 4 + 2 * K); f.fill(0.5, w / 4, w / 4 + N * K); f.fill(-100, bias / 4, bias / 4 + N);
    f[a / 4 + 2] = Number.NaN; // row 0, a vector lane
    f[a / 4 + K + 8] = Number.POSITIVE_INFINITY; // row 1, the k tail
    k.dotRaw(EPI.BIAS | EPI.RELU, 0, 2, N, K, a, K, w, K, y, N, bias);
    expect(Array.from(f.subarray(y / 4, y / 4 + 2 * N))).toEqual([...Array<number>(N).fill(Number.NaN), ...Array<number>(N).fill(Number.POSITIVE_INFINITY)]);
  });
});

describe("classifier heads through the public API", () => {
  it("at 1 and 2 threads (the head's rows split in chunks), the same bits; one sample alone equals its row", () => {
    // 1000 × 300 → 13 is 7.8 MFLOP: split over the pool's threads in chunks of rows.
    const model = seq(linear(37, 300), tanh, linear(300, 13), relu, linear(13, 3));
    const r = signedRand(7), x = Float32Array.from({ length: 1000 * 37 }, () => r());
    const outs = [1, 2].map((threads) => {
      const net = compile(model, { inputs: 37, batch: 1000, seed: 2, threads, loss: softmaxCrossEntropy() });
      const all = Array.from(net.predict(x)), one = Array.from(net.predict(x.subarray(37 * 999)));
      // The program's linear steps in order: 37 → 300, the head 300 → 13, 13 → 3.
      const head = net.programs().get("eval[1000]")!.steps.filter((s) => s.kernel === "linear")[1];
      net.dispose();
      return { all, one, threads: head?.threads };
    });
    expect(outs.map((o) => o.threads)).toEqual([1, 2]);
    expect(outs[1]!.all).toEqual(outs[0]!.all);
    for (const o of outs) expect(o.one).toEqual(o.all.slice(999 * 3));
  });
});
