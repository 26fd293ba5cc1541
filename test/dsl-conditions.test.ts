/**
 * Conditions in tensor expressions: gt/lt/ge/le masks, `where` (a selection, as torch.where) and
 * `clamp` (torch.clamp's values and gradient), against float64 references and PyTorch's rules,
 * optimized as the reference interpreter computes them, and through ONNX (kiln → ONNX Runtime,
 * and back into kiln).
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { javascriptSteps } from "./helpers/run.js";
import { adamw, cat, compile, fn, fromOnnx, init, layer, lossFn, mse, ModelError, seq, sgd, where, type T } from "../src/index.js";

const sum = lossFn("sum", (out: T) => out.sum());
const X = Float32Array.of(-2, -0.5, 0, 0.5, 1, 2, -1, 1e-30, 3, -3);

/**
 * predict and the input gradient of sum(f(x)), optimized and on the reference interpreter. With
 * `specials`, f sees x followed by x·10⁶⁰ (±∞ for |x| ≥ 1e-8, as float32) and that minus itself
 * (NaN where it is ±∞): inputs must be finite, values inside the program need not be.
 */
function run(f: (x: T) => T, x = X, specials = false) {
  const n = x.length / 2, width = specials ? 3 * n : n;
  const body = layer({
    name: "f", in: n, out: width,
    apply: (_p, t) => {
      if (!specials) return f(t);
      const big = t.mul(1e30).mul(1e30);
      return f(cat([t, big, big.sub(big)], 1));
    },
  });
  return [true, false].map((optimize) => {
    const net = compile(seq(body), { inputs: n, batch: 2, loss: sum, optimize, threads: 1 });
    return { net, y: net.predict(x), g: net.gradients(x, new Float32Array(2 * width), { input: true }).inputGrad! };
  });
}

/** The values f sees with `specials`, row by row, as run() makes them in float32. */
function specialValues(x: Float32Array): number[] {
  const n = x.length / 2, out: number[] = [];
  for (let r = 0; r < 2; r++) {
    const row = [...x.subarray(r * n, r * n + n)], big = row.map((v) => Math.fround(Math.fround(v * 1e30) * 1e30));
    out.push(...row, ...big, ...big.map((v) => v - v));
  }
  return out;
}

describe("gt, lt, ge, le", () => {
  it("are 1 or 0 as JavaScript's comparisons (NaN compares false, ±∞ as numbers), with no gradient", () => {
    const x = Float32Array.of(-1, 0, 1, -1e-9, 2, 0, -3, 5);
    const seen = specialValues(x);
    expect(seen.some(Number.isNaN) && seen.includes(Infinity) && seen.includes(-Infinity)).toBe(true);
    for (const [name, f, js] of [
      ["gt", (t: T) => t.gt(0), (v: number) => v > 0], ["lt", (t: T) => t.lt(0), (v: number) => v < 0],
      ["ge", (t: T) => t.ge(0), (v: number) => v >= 0], ["le", (t: T) => t.le(0), (v: number) => v <= 0],
    ] as const) {
      const [optimized, reference] = run(f, x, true);
      for (const { y, g } of [optimized!, reference!]) {
        expect([...y], name).toEqual(seen.map((v) => (js(v) ? 1 : 0)));
        expect([...g].every((v) => v === 0), name).toBe(true);
      }
      expect(javascriptSteps(optimized!.net)).toEqual([]);
    }
  });
});

describe("where", () => {
  it("selects: the side not taken may be ±∞ or NaN (log of x ≤ 0), and the gradient goes to the side taken", () => {
    // y = where(x > 0, log(x), 0.5·x): dy/dx = 1/x above 0, 0.5 at or below (log's side unused there).
    for (const { y, g } of run((x) => where(x.gt(0), x.log(), x.mul(0.5)))) {
      [...X].forEach((v, i) => {
        expect(y[i]).toBe(v > 0 ? Math.fround(Math.log(v)) : Math.fround(0.5 * v));
        if (v !== 0) expect(Math.abs(g[i]! - (v > 0 ? 1 / v : 0.5))).toBeLessThanOrEqual(1e-6 * Math.abs(v > 0 ? 1 / v : 0.5));
      });
    }
  });

  it("under checkNumerics: a value non-finite only where it is not kept is no error; one that is kept is, at the where", () => {
    const x = Float32Array.of(1, -2, 3, -1, 2, -3), t = new Float32Array(6);
    for (const optimize of [true, false]) {
      const safe = compile(seq(fn("safe-log", (h) => where(h.gt(0), h.log(), 0))), { inputs: 3, batch: 2, loss: mse(), checkNumerics: true, optimize });
      expect([...safe.predict(x)]).toEqual([...x].map((v) => (v > 0 ? Math.fround(Math.log(v)) : 0)));
      expect(Number.isFinite(safe.trainStep(x, t))).toBe(true);
      const kept = compile(seq(fn("kept-log", (h) => where(h.gt(-5), h.log(), 0))), { inputs: 3, batch: 2, loss: mse(), checkNumerics: true, optimize });
      expect(() => kept.predict(x)).toThrow(/the first non-finite value is NaN[\s\S]*kept-log/);
      // ∞ read only by a comparison (or a sign) is no error either: e^100 > 1e30 is 1, as in PyTorch.
      const big = Float32Array.of(100, -2, 3, -1, 200, -3);
      const compared = compile(seq(fn("compared-exp", (h) => where(h.exp().mul(h.sign()).gt(1e30), 1, h))), { inputs: 3, batch: 2, loss: mse(), checkNumerics: true, optimize });
      expect([...compared.predict(big)]).toEqual([1, -2, 3, -1, 1, -3]);
      expect(Number.isFinite(compared.trainStep(big, t))).toBe(true);
      // Nor is −x² = −∞ inside erf's gradient e^{−x²} = 0, at x = e^50.
      const erfExp = compile(seq(fn("erf-exp", (h) => h.exp().erf())), { inputs: 3, batch: 2, loss: mse(), checkNumerics: true, optimize });
      expect(erfExp.gradients(Float32Array.of(50, -2, 0, 1, 2, -50), t, { input: true }).inputGrad.every(Number.isFinite)).toBe(true);
    }
  });

  it("broadcasts numbers and rows; a nonzero condition (not only 1) is true", () => {
    const row = layer({ name: "row", in: 3, out: 3, params: { r: { shape: [3], init: init.ones() } }, apply: (p, x) => where(x.mul(3), p.r, -1) });
    const net = compile(seq(row), { inputs: 3, batch: 2, loss: mse(), threads: 1 });
    const x = Float32Array.of(0, 2, -5, 0.25, 0, 0);
    expect([...net.predict(x)]).toEqual([-1, 1, 1, 1, -1, -1]);
    // mse against 0 over 6 outputs: each place r[j] was taken adds 2·1/6 to its gradient.
    expect([...net.gradients(x, new Float32Array(6)).grads["0.r"]!]).toEqual([2 / 6, 2 / 6, 2 / 6].map(Math.fround));
  });

  it("refuses what is not a tensor of the callback, naming the layer", () => {
    expect(() => compile(seq(fn("bad", (x) => where(1 as never, x, 0))), { inputs: 2, batch: 2 })).toThrow(/where: expected a tensor expression as the condition, got/);
    expect(() => compile(seq(fn("bad", (x) => where(x.gt(0), "a" as never, 0))), { inputs: 2, batch: 2 })).toThrow(ModelError);
  });
});

describe("parameters without a gradient (PyTorch's grad None)", () => {
  it("are left as they are by the optimizers when only a comparison reads them, or nothing; through sign or x⁰ they decay (PyTorch's zeros)", () => {
    // t: read only by gt (None in PyTorch); unused: read by nothing (None); s: read through sign
    // and pow 0 (PyTorch's gradient: zeros, so weight decay and momentum apply); w: an ordinary one.
    const gate = layer({
      name: "gate", in: 3, out: 3,
      params: { t: { shape: [3], init: init.ones() }, unused: { shape: [2], init: init.ones() }, s: { shape: [3], init: init.ones() }, w: { shape: [3], init: init.ones() } },
      apply: (p, x) => where(x.gt(p.t), x.mul(p.w), 0).add(p.s.sign().mul(p.s.pow(0))),
    });
    const x = Float32Array.of(2, 0.5, -1, 3, 2, 0.2), y = new Float32Array(6);
    for (const [name, optimizer, decay] of [["sgd", sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.1 }), 1 - 0.1 * 0.1], ["adamw", adamw({ lr: 0.1, weightDecay: 0.1 }), 1 - 0.1 * 0.1]] as const) {
      for (const optimize of [true, false]) {
        const net = compile(seq(gate), { inputs: 3, batch: 2, loss: mse(), optimizer, optimize });
        net.trainStep(x, y);
        expect([...net.params["0.t"]!], name).toEqual([1, 1, 1]);
        expect([...net.params["0.unused"]!], name).toEqual([1, 1]);
        // s's gradient is zeros: the first step is the decay alone (momentum and Adam's moments of 0 add nothing).
        expect([...net.params["0.s"]!], name).toEqual([decay, decay, decay].map(Math.fround));
        expect([...net.params["0.w"]!].some((v) => v !== Math.fround(decay)), name).toBe(true);
        expect([...net.gradients(x, y).grads["0.t"]!], name).toEqual([0, 0, 0]);
      }
    }
  });
});

describe("clamp", () => {
  it("is torch.clamp: the bounds outside, x between, gradient 1 from min to max inclusive, NaN kept, ±∞ clamped", () => {
    const x = Float32Array.of(-2, -1, -0.5, 0, 1, 1.5, 3, 0.75);
    const seen = specialValues(x);
    for (const { y } of run((t) => t.clamp(-1, 1), x, true)) {
      expect([...y]).toEqual(seen.map((v) => (Number.isNaN(v) ? NaN : Math.min(Math.max(v, -1), 1))));
    }
    for (const { g } of run((t) => t.clamp(-1, 1), x)) [...x].forEach((v, i) => expect(g[i]).toBe(v >= -1 && v <= 1 ? 1 : 0));
    const [lower] = run((t) => t.clamp(0), x);
    expect([...lower!.y]).toEqual([...x].map((v) => Math.max(v, 0)));
    expect(() => compile(seq(fn("bad", (t) => t.clamp(1, -1))), { inputs: 2, batch: 2 })).toThrow(/clamp: min 1 is above max -1/);
    expect(() => compile(seq(fn("bad", (t) => t.clamp(NaN))), { inputs: 2, batch: 2 })).toThrow(/clamp: min must be a number, got/);
  });
});

describe("through ONNX", () => {
  it("ONNX Runtime computes what kiln predicts, and fromOnnx brings it back", async () => {
    const f = fn("guarded", (x) => where(x.gt(0), x.add(1).log(), x.clamp(-0.5).mul(2)).add(x.ge(1).mul(3)));
    const model = seq(layer({ name: "lin", in: 4, out: 4, params: { w: { shape: [4, 4], init: init.xavier() } }, apply: (p, x) => x.matmul(p.w) }), f);
    const net = compile(model, { inputs: 4, batch: 3, seed: 2, threads: 1 });
    const x = Float32Array.from({ length: 12 }, (_v, i) => Math.sin(i * 1.7) * 2);
    const want = net.predict(x);
    const session = await ort.InferenceSession.create(net.toOnnx(), { intraOpNumThreads: 1 });
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", x, [3, 4]) });
    const got = out[session.outputNames[0]!]!.data as Float32Array;
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i]!))));
    const { model: back, params } = fromOnnx(net.toOnnx());
    const again = compile(back, { inputs: 4, batch: 3, threads: 1 });
    for (const [k, v] of Object.entries(params)) again.params[k]!.set(v);
    // The product comes back as a linear layer (its weight stored transposed, another kernel's
    // summation order): within 1 ulp; the conditions select the same sides.
    expect(fromOnnx(net.toOnnx()).model.kind).toBe("seq");
    again.predict(x).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(2.5e-7 * Math.max(1, Math.abs(want[i]!))));
  });
});
