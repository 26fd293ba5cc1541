/**
 * Batched products in tensor expressions: `matmul` of operands of one rank (one product per
 * leading index, as torch.bmm) and of [..., k] by [k, n] (a per-token map), `permute` and
 * `transpose`, and the self-attention they express (single- and multi-head), against float64 references computed here, optimized as the
 * reference interpreter computes them, split across threads, in pieces, and through ONNX.
 * (The gradients against finite differences: gradcheck.test.ts; against PyTorch: the committed
 * random-dsl-17005 and -17033 fixtures.)
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { javascriptSteps, maxRelErr, signedRand } from "./helpers/run.js";
import { compile, fn, fromOnnx, layer, linear, lossFn, mse, ModelError, NumericsError, printIR, seq, where, type T } from "../src/index.js";

const sum = lossFn("sum", (out: T) => out.sum());

/** Y[b] = op(A[b])·op(B[b]) in float64; A, B row-major with `batch` leading entries. */
function bmm(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, m: number, n: number, k: number, ta: boolean, tb: boolean): Float64Array {
  const y = new Float64Array(batch * m * n);
  for (let e = 0; e < batch; e++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += a[e * m * k + (ta ? q * m + i : i * k + q)]! * b[e * k * n + (tb ? j * k + q : q * n + j)]!;
        y[e * m * n + i * n + j] = s;
      }
    }
  }
  return y;
}

const TOKENS = 5, WIDTH = 8, KEYS = 4;

/** Single-head self-attention over TOKENS tokens of WIDTH features, with a residual. */
const attention = layer({
  name: "attention", in: TOKENS * WIDTH, out: TOKENS * WIDTH,
  params: { wq: { shape: [WIDTH, KEYS] }, wk: { shape: [KEYS, WIDTH] }, wv: { shape: [WIDTH, WIDTH] } },
  apply: (p, x) => {
    const h = x.reshape([x.shape[0]!, TOKENS, WIDTH]);
    const q = h.matmul(p.wq), k = h.matmul(p.wk, { transposeB: true }), v = h.matmul(p.wv);
    const weights = q.matmul(k, { transposeB: true }).div(Math.sqrt(KEYS)).softmax(-1);
    return weights.matmul(v).add(h).reshape([x.shape[0]!, TOKENS * WIDTH]);
  },
});

describe("batched matmul", () => {
  it("is one product per leading index, every transpose, ranks 3 and 4, on both paths and at 1 and 2 threads", () => {
    const r = signedRand(7);
    // [2], 130·150·70: each entry split by the pool; [48], 32·33·31: entries split among threads.
    for (const [lead, m, n, k] of [[[3], 6, 7, 5], [[2, 3], 6, 7, 5], [[2], 130, 150, 70], [[48], 32, 33, 31]] as const) {
      for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
        const batch = lead.reduce((p, d) => p * d, 1);
        const bShape = [...lead, ...(tb ? [n, k] : [k, n])];
        const wSize = batch * k * n, w = Float32Array.from({ length: wSize }, r);
        const body = layer({
          name: "bmm", in: lead.slice(1).reduce((p, d) => p * d, 1) * m * k, out: lead.slice(1).reduce((p, d) => p * d, 1) * m * n,
          params: { w: { shape: bShape } },
          apply: (p, x) => {
            const a = x.reshape([x.shape[0]!, ...lead.slice(1), ...(ta ? [k, m] : [m, k])]);
            return a.matmul(p.w, { transposeA: ta, transposeB: tb }).reshape([x.shape[0]!, lead.slice(1).reduce((q, d) => q * d, 1) * m * n]);
          },
        });
        const x = Float32Array.from({ length: lead[0]! * body.in }, r);
        const want = bmm(x, w, batch, m, n, k, ta, tb);
        const outs = [true, false].flatMap((optimize) => [1, 2].map((threads) => {
          const net = compile(seq(body), { inputs: body.in, batch: lead[0]!, loss: sum, optimize, threads });
          net.params["0.w"]!.set(w);
          if (optimize) expect(javascriptSteps(net)).toEqual([]);
          return net.predict(x);
        }));
        for (const y of outs) expect(maxRelErr(y, want)).toBeLessThan(1e-5);
        expect([...outs[1]!]).toEqual([...outs[0]!]); // a split product has the same bits
      }
    }
  });

  it("under checkNumerics, an overflow in one entry of a batch split among threads is reported at the product", () => {
    const scores = layer({ name: "scores", in: 992, out: 1024, apply: (_p, x) => { const h = x.reshape([x.shape[0]!, 32, 31]); return h.matmul(h, { transposeB: true }).reshape([x.shape[0]!, 1024]); } });
    const x = new Float32Array(48 * 992).fill(0.5);
    x.fill(1e20, 40 * 992, 41 * 992); // entry 40: (1e20)²·31 overflows
    for (const threads of [1, 2]) {
      const net = compile(seq(scores), { inputs: 992, batch: 48, loss: sum, threads, checkNumerics: true });
      expect(() => net.predict(x)).toThrow(NumericsError);
      expect(() => net.predict(x)).toThrow(/matmul/);
      x.fill(0.5, 40 * 992, 41 * 992);
      expect(net.predict(x)[0]).toBe(7.75);
      x.fill(1e20, 40 * 992, 41 * 992);
    }
  });

  it("applies a 2-D B to the last axis of a higher-rank A, as torch.matmul", () => {
    const r = signedRand(3);
    const w = Float32Array.from({ length: 4 * 3 }, r);
    const body = layer({ name: "per-token", in: 8, out: 6, params: { w: { shape: [4, 3] } }, apply: (p, x) => x.reshape([x.shape[0]!, 2, 4]).matmul(p.w).reshape([x.shape[0]!, 6]) });
    const net = compile(seq(body), { inputs: 8, batch: 3, loss: sum, threads: 1 });
    net.params["0.w"]!.set(w);
    const x = Float32Array.from({ length: 24 }, r);
    expect(maxRelErr(net.predict(x), bmm(x, [...w, ...w, ...w, ...w, ...w, ...w], 6, 1, 3, 4, false, false))).toBeLessThan(1e-6);
    // dW = Σ over every token of xᵀ·1: each W[i, j] gets the sum of feature i over all 6 tokens.
    const g = net.gradients(x, new Float32Array(18)).grads["0.w"]!;
    for (let i = 0; i < 4; i++) {
      let s = 0;
      for (let t = 0; t < 6; t++) s += x[t * 4 + i]!;
      for (let j = 0; j < 3; j++) expect(g[i * 3 + j]).toBeCloseTo(s, 5);
    }
  });

  it("refuses leading axes that differ and ranks it cannot pair, naming both shapes", () => {
    const bad = (f: (x: T) => T) => () => compile(seq(fn("bad", f)), { inputs: 12, batch: 2 });
    expect(bad((x) => x.reshape([2, 2, 6]).matmul(x.reshape([4, 6, 1])))).toThrow(/leading \(batch\) axes differ \(\[2\] vs \[4\]\)/);
    expect(bad((x) => x.reshape([2, 2, 6]).matmul(x.reshape([2, 12]), { transposeA: true }))).toThrow(ModelError);
    expect(bad((x) => x.reshape([2, 12]).matmul(x.reshape([2, 3, 4])))).toThrow(/batched ones of one rank/);
  });
});

/** x (row-major, `shape`) with its axes permuted, in float64: y's axis d is x's axis perm[d]. */
function permuted(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): number[] {
  const out = perm.map((p) => shape[p]!), strides = shape.map((_d, i) => shape.slice(i + 1).reduce((p, q) => p * q, 1));
  const y: number[] = [], idx = out.map(() => 0);
  for (let i = 0; i < x.length; i++) {
    y.push(x[idx.reduce((at, v, d) => at + v * strides[perm[d]!]!, 0)]!);
    for (let d = out.length - 1; d >= 0 && ++idx[d]! === out[d]!; d--) idx[d] = 0;
  }
  return y;
}

describe("permute and transpose", () => {
  it("move the axes as torch.permute and torch.transpose, the last axis too, on both paths, in WebAssembly", () => {
    const r = signedRand(5);
    const shape = [3, 4, 5, 6];
    const x = Float32Array.from({ length: 360 }, r);
    for (const perm of [[0, 2, 1, 3], [0, 3, 1, 2], [0, 1, 3, 2], [0, 3, 2, 1], [0, 2, 3, 1]]) {
      const f = fn("perm", (t) => t.reshape(shape).permute(perm).reshape([3, 120]));
      for (const optimize of [true, false]) {
        const net = compile(seq(f), { inputs: 120, batch: 3, loss: sum, optimize, threads: 1 });
        if (optimize) expect(javascriptSteps(net)).toEqual([]);
        expect([...net.predict(x)], perm.join()).toEqual(permuted(x, shape, perm));
        // The gradient of sum(w ⊙ permute(x)) is w permuted back: here w = 1, so all ones.
        expect([...net.gradients(x, new Float32Array(360), { input: true }).inputGrad!].every((v) => v === 1)).toBe(true);
      }
    }
    const swap = compile(seq(fn("swap", (t) => t.reshape([3, 4, 5, 6]).transpose(-1, 1).reshape([3, 120]))), { inputs: 120, batch: 3, loss: sum });
    expect([...swap.predict(x)]).toEqual(permuted(x, shape, [0, 3, 2, 1]));
  });

  it("refuses a permutation of the wrong length, a repeated axis, an axis out of range", () => {
    const bad = (f: (x: T) => T) => () => compile(seq(fn("bad", f)), { inputs: 12, batch: 2 });
    expect(bad((x) => x.reshape([2, 3, 4]).permute([0, 2]).reshape([2, 12]))).toThrow(/permute: expected 3 axes for shape \[2,3,4\], got/);
    expect(bad((x) => x.reshape([2, 3, 4]).permute([0, 2, 2]).reshape([2, 12]))).toThrow(/permute: repeated axis in \[0,2,2\]/);
    expect(bad((x) => x.reshape([2, 3, 4]).transpose(0, 3).reshape([2, 12]))).toThrow(/transpose: axis must be an integer in \[-3, 2\]/);
  });
});

describe("tril and triu", () => {
  it("keep a triangle of the last two axes as torch.tril / torch.triu, in WebAssembly, their gradient the same triangle", () => {
    const r = signedRand(23);
    const x = Float32Array.from({ length: 2 * 3 * 5 * 7 }, r);
    for (const [upper, d] of [[false, 0], [false, 2], [false, -3], [true, 0], [true, 1], [true, -2], [false, 9], [true, 9]] as const) {
      const f = fn("tri", (t) => { const m = t.reshape([2, 3, 5, 7]); return (upper ? m.triu(d) : m.tril(d)).reshape([2, 105]); });
      const want = [...x].map((v, i) => { const row = Math.floor(i / 7) % 5, col = i % 7; return (upper ? col - row >= d : col - row <= d) ? v : 0; });
      for (const optimize of [true, false]) {
        const net = compile(seq(f), { inputs: 105, batch: 2, loss: sum, optimize, threads: 1 });
        if (optimize) expect(javascriptSteps(net)).toEqual([]);
        expect([...net.predict(x)], `${upper} ${d}`).toEqual(want.map(Math.fround));
        expect([...net.gradients(x, new Float32Array(210), { input: true }).inputGrad!]).toEqual(want.map((v) => (v === 0 ? 0 : 1)));
      }
    }
    expect(() => compile(seq(fn("bad", (t) => t.tril(0.5))), { inputs: 4, batch: 2 })).toThrow(/tril: diagonal must be an integer, got number 0.5/);
    expect(() => compile(seq(fn("bad", (t) => t.sum(0).tril().reshape([1, 4]).add(t))), { inputs: 4, batch: 2 })).toThrow(/tril: expected a tensor of rank 2 or more/);
  });
});

/** Multi-head self-attention: HEADS heads of WIDTH / HEADS features, split and joined by permute. */
const HEADS = 2;
const multiHead = layer({
  name: "multi-head", in: TOKENS * WIDTH, out: TOKENS * WIDTH,
  params: { wqkv: { shape: [3 * WIDTH, WIDTH] }, wo: { shape: [WIDTH, WIDTH] } },
  apply: (p, x) => {
    const b = x.shape[0]!, d = WIDTH / HEADS;
    const qkv = x.reshape([b, TOKENS, WIDTH]).matmul(p.wqkv, { transposeB: true });   // [b, t, 3·width]
    const heads = (i: number) => qkv.slice(-1, i * WIDTH, (i + 1) * WIDTH).reshape([b, TOKENS, HEADS, d]).permute([0, 2, 1, 3]);
    const q = heads(0), k = heads(1), v = heads(2);                                     // [b, heads, t, d]
    const weights = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(d)).softmax(-1);         // [b, heads, t, t]
    return weights.matmul(v).transpose(1, 2).reshape([b, TOKENS, WIDTH]).matmul(p.wo).reshape([b, TOKENS * WIDTH]);
  },
});

/** Causal self-attention: token i attends to tokens ≤ i (scores above the diagonal −1e9 by a tril mask). */
const causal = layer({
  name: "causal", in: TOKENS * WIDTH, out: TOKENS * WIDTH,
  params: { wq: { shape: [WIDTH, KEYS] }, wk: { shape: [WIDTH, KEYS] } },
  apply: (p, x) => {
    const h = x.reshape([x.shape[0]!, TOKENS, WIDTH]);
    const s = h.matmul(p.wq).matmul(h.matmul(p.wk), { transposeB: true }).div(Math.sqrt(KEYS));
    const masked = where(s.mul(0).add(1).tril().gt(0), s, -1e9);
    return masked.softmax(-1).matmul(h).reshape([x.shape[0]!, TOKENS * WIDTH]);
  },
});

describe("self-attention", () => {
  it("trains the same on both paths, predicts row by row as in one batch, and runs no JavaScript kernel", () => {
    const r = signedRand(11);
    const model = seq(attention, linear(TOKENS * WIDTH, 3));
    const x = Float32Array.from({ length: 4 * TOKENS * WIDTH }, r), t = Float32Array.from({ length: 12 }, r);
    const [opt, ref] = [true, false].map((optimize) => compile(model, { inputs: TOKENS * WIDTH, batch: 4, loss: mse(), seed: 5, optimize, threads: 2 }));
    expect(javascriptSteps(opt!)).toEqual([]);
    for (let s = 0; s < 3; s++) expect(opt!.trainStep(x, t)).toBeCloseTo(ref!.trainStep(x, t), 5);
    for (const [name, p] of Object.entries(opt!.params)) expect(maxRelErr(p, ref!.params[name]!), name).toBeLessThan(1e-5);
    // Attention mixes tokens, not samples: a batch of 9 in pieces of 4 equals each row alone.
    const many = Float32Array.from({ length: 9 * TOKENS * WIDTH }, r), all = opt!.predict(many);
    for (let i = 0; i < 9; i++) {
      const one = opt!.predict(many.subarray(i * TOKENS * WIDTH, (i + 1) * TOKENS * WIDTH));
      expect(maxRelErr(one, all.subarray(i * 3, i * 3 + 3))).toBeLessThan(1e-6);
    }
  });

  it("multi-head: trains the same on both paths, no JavaScript kernel, the keys' transpose a flag of the product", () => {
    const r = signedRand(17);
    const model = seq(multiHead, linear(TOKENS * WIDTH, 3));
    const x = Float32Array.from({ length: 4 * TOKENS * WIDTH }, r), t = Float32Array.from({ length: 12 }, r);
    const [opt, ref] = [true, false].map((optimize) => compile(model, { inputs: TOKENS * WIDTH, batch: 4, loss: mse(), seed: 5, optimize, threads: 2 }));
    expect(javascriptSteps(opt!)).toEqual([]);
    // k.transpose(−2, −1) of the heads' permute is the product's transB and a row-copying permute
    // (simplify), never a transpose that gathers the last axis at a stride.
    const ir = printIR(opt!.ir.eval);
    expect(ir).toMatch(/matmul\[transA=false transB=true\] [a-z]+ [a-z]+\n/);
    expect(ir.match(/transpose\[perm=\[[^\]]*\]\]/g)!.every((m) => m.endsWith(",3]]"))).toBe(true);
    for (let s = 0; s < 3; s++) expect(opt!.trainStep(x, t)).toBeCloseTo(ref!.trainStep(x, t), 5);
    for (const [name, p] of Object.entries(opt!.params)) expect(maxRelErr(p, ref!.params[name]!), name).toBeLessThan(1e-5);
  });

  it("causal: token i's output depends on tokens 0..i only (its gradient on later tokens is 0)", () => {
    const r = signedRand(29);
    const net = compile(seq(causal), { inputs: TOKENS * WIDTH, batch: 1, loss: sum, seed: 3, threads: 1 });
    const x = Float32Array.from({ length: TOKENS * WIDTH }, r);
    // sum of token 1's outputs: d/dx is zero on tokens 2.. (never attended), nonzero on 0 and 1.
    const pick = lossFn("token 1", (out: T) => out.slice(1, WIDTH, 2 * WIDTH).sum());
    const one = compile(seq(causal), { inputs: TOKENS * WIDTH, batch: 1, loss: pick, seed: 3, threads: 1 });
    const g = one.gradients(x, new Float32Array(TOKENS * WIDTH), { input: true }).inputGrad!;
    expect([...g.subarray(2 * WIDTH)].every((v) => v === 0)).toBe(true);
    expect([...g.subarray(0, WIDTH)].some((v) => v !== 0)).toBe(true);
    expect(net.predict(x).subarray(0, WIDTH)).toEqual(x.subarray(0, WIDTH)); // token 0 sees itself alone: weight 1
  });

  for (const [name, block] of [["single-head", attention], ["multi-head", multiHead], ["causal", causal]] as const) it(`${name}: goes to ONNX as MatMul and Transpose: ONNX Runtime predicts what kiln does, and fromOnnx brings it back`, async () => {
    const r = signedRand(13);
    const net = compile(seq(block, linear(TOKENS * WIDTH, 3)), { inputs: TOKENS * WIDTH, batch: 4, loss: mse(), seed: 2, threads: 1 });
    const x = Float32Array.from({ length: 7 * TOKENS * WIDTH }, r), want = net.predict(x);
    const bytes = net.toOnnx();
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", x, [7, TOKENS * WIDTH]) });
    expect(maxRelErr(out[session.outputNames[0]!]!.data as Float32Array, want)).toBeLessThan(1e-5);
    const imported = fromOnnx(bytes);
    const back = compile(imported.model, { inputs: imported.inputs, batch: 4, threads: 1 });
    for (const [k, v] of Object.entries(imported.params)) back.params[k]!.set(v);
    expect(maxRelErr(back.predict(x), want)).toBeLessThan(1e-5);
  });
});
