/**
 * The WebAssembly elementwise and normalization kernels against float64 references (or exact
 * float32 emulations where the kernel promises bits), over row lengths that exercise both the
 * vector body and the scalar tail.
 */
import { describe, expect, it } from "vitest";
import { wasmFeatures } from "../runtime/wasm/features.js";
import { normBackward, normForward } from "../runtime/kernels/norm.js";
import { BATCHNORM, BATCHNORM_SCRATCH_BYTES, LAYERNORM, SGD, createMemory, instantiateKernels, kernelModule } from "../runtime/wasm/module.js";
import { signedRand } from "./helpers/run.js";

const memory = createMemory(16 << 20);
// Both variants of the kernel module (see wasm-sgemm.test.ts): they differ only in the SGEMM
// micro-kernel, and these kernels must behave identically in each.
const variants = [
  { fma: false, name: "multiply then add" },
  ...(wasmFeatures().relaxedSimd ? [{ fma: true, name: "relaxed_madd" }] : []),
];
const F = () => new Float32Array(memory.buffer);
const fr = Math.fround;

/** Deterministic uniform [-1, 1) (mulberry32). */
const rng = signedRand;

/** Bump allocator: fresh 16-byte-aligned buffers, filled from `values` (or zeros). */
function arena() {
  let top = 1024;
  return (values: ArrayLike<number> | number): number => {
    const n = typeof values === "number" ? values : values.length, off = top;
    top += 4 * n + 64;
    if (typeof values === "number") F().fill(0, off / 4, off / 4 + n); else F().set(values, off / 4);
    return off;
  };
}
const read = (off: number, n: number) => F().slice(off / 4, off / 4 + n);
const randoms = (rand: () => number, n: number, scale = 1, shift = 0) => Float32Array.from({ length: n }, () => rand() * scale + shift);
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};
const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const SIZES = [1, 3, 4, 7, 33, 100, 257];

describe.each(variants)("kernel module ($name)", ({ fma }) => {
  const k = instantiateKernels(memory, kernelModule({ fma }));

  describe("elementwise kernels", () => {
    it("relu and its backward match PyTorch's x < 0 ? 0 : x and x ≤ 0 ? 0 : dy exactly, including NaN, ±0 and ±∞", () => {
      const rand = rng(1);
      for (const n of SIZES) {
        const alloc = arena();
        const xs = randoms(rand, n);
        [NaN, -0, 0, Infinity, -Infinity].forEach((v, i) => { if (i < n) xs[(i * 7) % n] = v; });
        const dys = randoms(rand, n);
        const x = alloc(xs), y = alloc(n), dy = alloc(dys), dx = alloc(n);
        k.relu(x, y, n);
        k.reluBackward(dy, x, dx, n);
        expect(sameBits(read(y, n), xs.map((v) => (v < 0 ? 0 : v)))).toBe(true);
        expect(sameBits(read(dx, n), dys.map((g, i) => (xs[i]! <= 0 ? 0 : g)))).toBe(true);
      }
    });

    it("addBias and colSum", () => {
      const rand = rng(2);
      for (const rows of [1, 5, 64]) for (const n of SIZES) {
        const alloc = arena();
        const xs = randoms(rand, rows * n), bs = randoms(rand, n), y0 = randoms(rand, n);
        const x = alloc(xs), b = alloc(bs), y = alloc(rows * n), s = alloc(y0);
        k.addBias(x, b, y, rows, n);
        expect(sameBits(read(y, rows * n), xs.map((v, i) => fr(v + bs[i % n]!)))).toBe(true);
        k.colSum(x, s, rows, n, 1);
        const ref = Array.from(y0, (v, j) => { let t = v; for (let r = 0; r < rows; r++) t += xs[r * n + j]!; return t; });
        expect(maxAbsDiff(read(s, n), ref)).toBeLessThan(1e-5 * rows);
        k.colSum(x, s, rows, n, 0);
        expect(maxAbsDiff(read(s, n), ref.map((t, j) => t - y0[j]!))).toBeLessThan(1e-5 * rows);
      }
    });

    it("sgd reproduces the unfused float32 update bit for bit, for every option", () => {
      const rand = rng(3);
      const [lr, mu, wd] = [0.05, 0.9, 1e-2];
      for (const flags of [0, SGD.WEIGHT_DECAY, SGD.MOMENTUM, SGD.MOMENTUM | SGD.WEIGHT_DECAY, SGD.MOMENTUM | SGD.NESTEROV, 7]) for (const n of SIZES) {
        const alloc = arena();
        const ws = randoms(rand, n), gs = randoms(rand, n), vs = randoms(rand, n);
        const w = alloc(ws), g = alloc(gs), v = alloc(vs);
        k.sgd(w, g, v, n, lr, mu, wd, flags);
        // The graph of src/optim/sgd.ts, every op rounded to float32.
        const [lrF, muF, wdF] = [fr(lr), fr(mu), fr(wd)];
        const wRef = new Float32Array(n), vRef = Float32Array.from(vs);
        for (let i = 0; i < n; i++) {
          const d = flags & SGD.WEIGHT_DECAY ? fr(gs[i]! + fr(ws[i]! * wdF)) : gs[i]!;
          if (!(flags & SGD.MOMENTUM)) { wRef[i] = fr(ws[i]! - fr(d * lrF)); continue; }
          vRef[i] = fr(fr(vs[i]! * muF) + d);
          const dir = flags & SGD.NESTEROV ? fr(d + fr(vRef[i]! * muF)) : vRef[i]!;
          wRef[i] = fr(ws[i]! - fr(dir * lrF));
        }
        expect(sameBits(read(w, n), wRef), `flags ${flags} n ${n}`).toBe(true);
        expect(sameBits(read(v, n), vRef)).toBe(true);
      }
    });
  });

  /** float64 layerNorm of one row: x̂, mean, rstd. */
  function normRow(x: ArrayLike<number>, eps: number) {
    const n = x.length;
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i]!;
    const mean = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / n + eps);
    return { mean, rstd, xhat: Array.from(x, (t) => (t - mean) * rstd) };
  }

  describe("layerNorm", () => {
    const eps = 1e-5;
    it("forward: normalize + affine, per-row mean, rstd and variance, x̂ on request, row splits bit-identical", () => {
      const rand = rng(4);
      for (const n of [...SIZES, 512]) for (const affine of [false, true]) {
        const rows = 6, alloc = arena();
        const xs = randoms(rand, rows * n, 3, 10); // |mean| ≫ std: the two-pass variance matters
        const gs = randoms(rand, n), bs = randoms(rand, n);
        const x = alloc(xs), y = alloc(rows * n), g = alloc(gs), b = alloc(bs), mean = alloc(rows), rstd = alloc(rows);
        const xh = alloc(rows * n), variance = alloc(rows);
        const flags = affine ? LAYERNORM.AFFINE | LAYERNORM.XHAT : 0;
        k.layerNormFwd(x, y, g, b, xh, mean, rstd, variance, 0, rows, n, eps, flags);
        const got = read(y, rows * n), gotXhat = read(xh, rows * n);
        for (let r = 0; r < rows; r++) {
          const ref = normRow(xs.subarray(r * n, (r + 1) * n), eps);
          const want = ref.xhat.map((t, j) => (affine ? t * gs[j]! + bs[j]! : t));
          expect(maxAbsDiff(got.subarray(r * n, (r + 1) * n), want), `n ${n}`).toBeLessThan(n === 1 ? 1e-6 : 2e-4);
          if (affine) expect(maxAbsDiff(gotXhat.subarray(r * n, (r + 1) * n), ref.xhat), `x̂ n ${n}`).toBeLessThan(n === 1 ? 1e-6 : 2e-4);
          expect(Math.abs(read(mean, rows)[r]! - ref.mean)).toBeLessThan(1e-5 * 10);
          expect(Math.abs(read(rstd, rows)[r]! / ref.rstd - 1)).toBeLessThan(1e-4);
          const v = 1 / ref.rstd ** 2 - eps;
          expect(Math.abs(read(variance, rows)[r]! - v)).toBeLessThan(1e-4 * Math.max(v, eps));
        }
        if (!affine) expect(read(xh, rows * n).every((t) => t === 0), "x̂ untouched without XHAT").toBe(true);
        F().fill(0, y / 4, y / 4 + rows * n);
        k.layerNormFwd(x, y, g, b, xh, mean, rstd, variance, 0, 2, n, eps, flags);
        k.layerNormFwd(x, y, g, b, xh, mean, rstd, variance, 2, rows, n, eps, flags);
        expect(sameBits(read(y, rows * n), got)).toBe(true);
        // Statistics only: the same μ, rstd, σ² bits, y not written.
        const stats = [mean, rstd, variance].map((o) => read(o, rows));
        for (const o of [y, mean, rstd, variance]) F().fill(0, o / 4, o / 4 + (o === y ? rows * n : rows));
        k.layerNormFwd(x, y, 0, 0, 0, mean, rstd, variance, 0, rows, n, eps, LAYERNORM.STATS);
        [mean, rstd, variance].forEach((o, i) => expect(sameBits(read(o, rows), stats[i]!), `statistic ${i}, n ${n}`).toBe(true));
        expect(read(y, rows * n).every((t) => t === 0), "y untouched with STATS").toBe(true);
      }
    });

    it("backward: dx, dγ, dβ against the float64 formula", () => {
      const rand = rng(5);
      for (const n of [...SIZES, 512]) for (const affine of [false, true]) {
        const rows = 5, alloc = arena();
        const xs = randoms(rand, rows * n, 2, 1), dys = randoms(rand, rows * n), gs = randoms(rand, n);
        const x = alloc(xs), y = alloc(rows * n), dy = alloc(dys), g = alloc(gs), mean = alloc(rows), rstd = alloc(rows);
        const dx = alloc(rows * n), dg = alloc(randoms(rand, n)), db = alloc(randoms(rand, n));
        k.layerNormFwd(x, y, g, 0, 0, mean, rstd, alloc(rows), 0, rows, n, eps, 0);
        const flags = (affine ? LAYERNORM.AFFINE : 0) | LAYERNORM.PARAM_GRADS | LAYERNORM.ZERO_PARAM_GRADS;
        k.layerNormBwd(x, dy, g, mean, rstd, dx, dg, db, 0, rows, n, flags);
        const dgRef = new Float64Array(n), dbRef = new Float64Array(n), dxGot = read(dx, rows * n);
        for (let r = 0; r < rows; r++) {
          const { xhat, rstd: rs } = normRow(xs.subarray(r * n, (r + 1) * n), eps);
          const gg = xhat.map((_, j) => dys[r * n + j]! * (affine ? gs[j]! : 1));
          const mg = gg.reduce((a, t) => a + t, 0) / n, mgx = gg.reduce((a, t, j) => a + t * xhat[j]!, 0) / n;
          const dxRef = gg.map((t, j) => rs * (t - mg - xhat[j]! * mgx));
          expect(maxAbsDiff(dxGot.subarray(r * n, (r + 1) * n), dxRef), `n ${n}`).toBeLessThan(n === 1 ? 1e-6 : 5e-4 * rs);
          xhat.forEach((t, j) => { dgRef[j] += dys[r * n + j]! * t; dbRef[j] += dys[r * n + j]!; });
        }
        expect(maxAbsDiff(read(dg, n), dgRef)).toBeLessThan(1e-4 * rows);
        expect(maxAbsDiff(read(db, n), dbRef)).toBeLessThan(1e-5 * rows);
      }
    });
  });

  describe("allFinite, allUnit", () => {
    // Every position of every length up to 70 and around 128: each of the check's loops (eight
    // vectors a trip, one vector, one float) and each of its eight accumulators sees every bad value.
    const lengths = [...Array.from({ length: 71 }, (_, n) => n), 127, 128, 129, 512];
    it("allFinite finds a NaN or ±∞ anywhere; ±0, subnormals and ±FLT_MAX are finite", () => {
      for (const n of lengths) {
        const alloc = arena(), xs = Float32Array.from({ length: n }, (_, i) => [0, -0, 1e-45, -3.4028234663852886e38, 3.4028234663852886e38, 1][i % 6]!);
        const x = alloc(xs);
        expect(k.allFinite(x, n), `n ${n}`).toBe(1);
        for (const bad of [NaN, Infinity, -Infinity]) for (let at = 0; at < n; at += n > 140 ? 7 : 1) {
          F()[x / 4 + at] = bad;
          expect(k.allFinite(x, n), `n ${n}: ${bad} at ${at}`).toBe(0);
          F()[x / 4 + at] = xs[at]!;
        }
      }
    });
    it("allUnit finds a value outside [0, 1] anywhere; 0, −0, 1 and values between pass", () => {
      for (const n of lengths) {
        const alloc = arena(), xs = Float32Array.from({ length: n }, (_, i) => [0, -0, 1, 1e-45, 0.5, 0.99999994][i % 6]!);
        const x = alloc(xs);
        expect(k.allUnit(x, n), `n ${n}`).toBe(1);
        for (const bad of [NaN, Infinity, -Infinity, -1e-45, 1.0000001, 2, -3]) for (let at = 0; at < n; at += n > 140 ? 7 : 1) {
          F()[x / 4 + at] = bad;
          expect(k.allUnit(x, n), `n ${n}: ${bad} at ${at}`).toBe(0);
          F()[x / 4 + at] = xs[at]!;
        }
      }
    });
  });

  describe("batchNorm (columns)", () => {
    const eps = 1e-5;
    // Against the float64 reference kernels (runtime/kernels/norm.ts, axis 0); column splits at a
    // multiple of 4 (as the runtime makes them) and at odd points must give the same bits.
    it("forward and backward match the reference; column splits bit-identical", () => {
      const rand = rng(8);
      // 1100 columns: three blocks of the row-major passes (batchnorm.ts BLOCK), the last one partial.
      for (const n of [...SIZES, 512, 1100]) for (const rows of [1, 2, 9, 128]) for (const affine of [false, true]) {
        const alloc = arena(), xhat = affine ? 1 : 0;
        // |μ| ≫ σ tests the two-pass variance; with a few rows x − μ of close values cancels in
        // float32 whatever the kernel does, so small batches get a small shift.
        const xs = randoms(rand, rows * n, 3, rows > 8 ? 10 : 1), gs = randoms(rand, n), bs = randoms(rand, n), dys = randoms(rand, rows * n);
        const x = alloc(xs), y = alloc(rows * n), xh = alloc(rows * n), g = alloc(gs), b = alloc(bs);
        const mean = alloc(n), rstd = alloc(n), variance = alloc(n);
        const dy = alloc(dys), dx = alloc(rows * n), dg = alloc(n), db = alloc(n);
        const fwdFlags = (affine ? BATCHNORM.AFFINE : 0) | (xhat ? BATCHNORM.XHAT : 0), bwdFlags = affine ? BATCHNORM.AFFINE : 0;
        const fwd = (c0: number, c1: number) => k.batchNormFwd(x, y, g, b, xh, mean, rstd, variance, rows, n, c0, c1, eps, fwdFlags);
        const bwd = (c0: number, c1: number) => k.batchNormBwd(x, dy, g, mean, rstd, dx, dg, db, rows, n, c0, c1, bwdFlags, alloc(BATCHNORM_SCRATCH_BYTES / 4));
        fwd(0, n);
        bwd(0, n);
        const got = [y, mean, rstd, variance, dx, dg, db].map((o, i) => read(o, i === 0 || i === 4 ? rows * n : n));
        // Statistics only: the same μ, rstd, σ² bits, y not written.
        const y2 = alloc(rows * n);
        for (const o of [mean, rstd, variance]) F().fill(0, o / 4, o / 4 + n);
        k.batchNormFwd(x, y2, 0, 0, 0, mean, rstd, variance, rows, n, 0, n, eps, BATCHNORM.STATS);
        [mean, rstd, variance].forEach((o, i) => expect(sameBits(read(o, n), got[i + 1]!), `statistic ${i}, n ${n} rows ${rows}`).toBe(true));
        expect(read(y2, rows * n).every((t) => t === 0), "y untouched with STATS").toBe(true);
        // Reference, on plain arrays.
        const R = { y: new Float32Array(rows * n), xh: new Float32Array(rows * n), m: new Float32Array(n), rs: new Float32Array(n), v: new Float32Array(n),
          dx: new Float32Array(rows * n), dg: new Float32Array(n), db: new Float32Array(n) };
        normForward(affine ? [xs, gs, bs, R.y, R.xh, R.m, R.rs, R.v] : [xs, R.y, R.m, R.rs, R.v], [rows, n, 0, eps, affine ? 1 : 0, xhat, 1]);
        normBackward(affine ? [dys, xs, R.m, R.rs, gs, R.dx, R.dg, R.db] : [dys, xs, R.m, R.rs, R.dx], [rows, n, 0, affine ? 1 : 0]);
        const what = `n ${n} rows ${rows} affine ${affine}`;
        const maxAbs = (v: ArrayLike<number>) => Array.from(v).reduce((m, t) => Math.max(m, Math.abs(t)), 0); // no spread: 140,000 values
        const rel = (a: ArrayLike<number>, want: ArrayLike<number>) => maxAbsDiff(a, want) / Math.max(1e-3, maxAbs(want));
        expect(rel(got[0]!, R.y), what).toBeLessThan(1e-4);
        if (affine) expect(rel(read(xh, rows * n), R.xh), what).toBeLessThan(1e-4);
        expect(rel(got[1]!, R.m), what).toBeLessThan(1e-6);
        expect(rel(got[2]!, R.rs), what).toBeLessThan(1e-4);
        expect(rel(got[3]!, R.v), what).toBeLessThan(1e-4);
        // dx cancels (with 2 rows it is 0 in exact arithmetic): measure against the scale of γ·rstd·dy.
        const dxScale = maxAbs(Array.from(dys, (t, i) => t * (affine ? gs[i % n]! : 1) * R.rs[i % n]!));
        expect(maxAbsDiff(got[4]!, R.dx) / dxScale, what).toBeLessThan(5e-4);
        if (affine) { expect(rel(got[5]!, R.dg), what).toBeLessThan(1e-3); expect(rel(got[6]!, R.db), what).toBeLessThan(1e-5); }
        for (const h of [Math.ceil(n / 2 / 4) * 4, n >> 1]) {
          if (h <= 0 || h >= n) continue;
          for (const o of [y, dx, mean, rstd]) F().fill(0, o / 4, o / 4 + (o === y || o === dx ? rows * n : n));
          fwd(0, h); fwd(h, n); bwd(h, n); bwd(0, h);
          expect(sameBits(read(y, rows * n), got[0]!), what).toBe(true);
          expect(sameBits(read(rstd, n), got[2]!), what).toBe(true);
          expect(sameBits(read(dx, rows * n), got[4]!), what).toBe(true);
        }
      }
    });
  });

  describe("softmaxCrossEntropy", () => {
    it("loss (summed over rows in float64) and gradient against float64, stable for large logits", () => {
      const rand = rng(6);
      for (const c of [1, 2, 7, 10, 33, 100, 257]) for (const shift of [0, 1000, -80]) {
        const rows = 7, alloc = arena();
        const zs = randoms(rand, rows * c, 8, shift);
        const labels = Int32Array.from({ length: rows }, (_, r) => (r * 5 + 3) % c);
        const z = alloc(zs), lab = alloc(rows), loss = alloc(1), dz = alloc(rows * c);
        new Int32Array(memory.buffer, lab, rows).set(labels);
        const scale = 1 / rows;
        k.softmaxCrossEntropy(z, lab, loss, dz, 0, rows, c, scale, -scale);
        const dzGot = read(dz, rows * c);
        let total = 0, bound = 0;
        for (let r = 0; r < rows; r++) {
          const row = Array.from(zs.subarray(r * c, (r + 1) * c));
          const m = Math.max(...row), s = row.reduce((a, t) => a + Math.exp(t - m), 0);
          const lse = m + Math.log(s);
          total += lse - row[labels[r]!]!;
          bound += 4e-6 * Math.max(1, Math.abs(lse));
          const dzRef = row.map((t, j) => (Math.exp(t - m) / s - (j === labels[r] ? 1 : 0)) * scale);
          expect(maxAbsDiff(dzGot.subarray(r * c, (r + 1) * c), dzRef)).toBeLessThan(1e-7);
        }
        expect(Math.abs(read(loss, 1)[0]! - total / rows), `c ${c} shift ${shift}`).toBeLessThan(bound / rows);
      }
    });

    it("a label outside the classes adds no loss and gets a zero gradient row, as the one-hot reference", () => {
      const alloc = arena();
      const zs = randoms(rng(7), 30);
      const z = alloc(zs), lab = alloc(3), loss = alloc(1), dz = alloc(30);
      new Int32Array(memory.buffer, lab, 3).set([10, 3, -1]);
      k.softmaxCrossEntropy(z, lab, loss, dz, 0, 3, 10, 0.5, -0.5);
      const row = Array.from(zs.subarray(10, 20)), m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, t) => a + Math.exp(t - m), 0));
      expect(read(loss, 1)[0]!).toBeCloseTo(-0.5 * (row[3]! - lse), 5);
      const dzGot = read(dz, 30);
      expect(Array.from(dzGot.subarray(0, 10)).every((t) => t === 0)).toBe(true);
      expect(Array.from(dzGot.subarray(20, 30)).every((t) => t === 0)).toBe(true);
      expect(dzGot[13]!).toBeLessThan(0);
    });
  });
});
