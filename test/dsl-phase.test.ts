/**
 * A body knows its phase: `fn`'s second argument and `layer`'s fourth say whether the program
 * being traced trains, and `x.dropout(p)` drops in training only — so a user can write
 * batchNorm or dropout themselves and get what the built-ins give.
 */
import { describe, expect, it } from "vitest";
import { javascriptSteps } from "./helpers/run.js";
import {
  batchNorm, compile, dropout, fn, init, layer, linear, lossFn, ModelError, mse, printIR, relu, seq, sgd, type Phase, type T,
} from "../src/index.js";

/** A deterministic batch in [-1, 1]. */
function floats(n: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
}

/** batchNorm written by a user: batch statistics and running ones in training, running ones in eval. */
const userBatchNorm = (n: number, momentum = 0.1, eps = 1e-5) => layer({
  name: "bn", in: n, out: n,
  params: { weight: { shape: [n], init: init.ones() }, bias: { shape: [n], init: init.zeros() } },
  state: { running_mean: { shape: [n] }, running_var: { shape: [n], init: init.ones() } },
  apply: (p, x, s, { training }) => {
    if (!training) return x.sub(s.running_mean).mul(s.running_var.add(eps).rsqrt()).mul(p.weight).add(p.bias);
    const mean = x.mean(0), centered = x.sub(mean), variance = centered.square().mean(0), batch = x.shape[0]!;
    return {
      out: centered.mul(variance.add(eps).rsqrt()).mul(p.weight).add(p.bias),
      state: {
        running_mean: s.running_mean.mul(1 - momentum).add(mean.mul(momentum)),
        running_var: s.running_var.mul(1 - momentum).add(variance.mul((momentum * batch) / (batch - 1))),
      },
    };
  },
});

describe("the phase a body is given", () => {
  it("is training in the train step and gradients, eval in predict; a frozen object per trace", () => {
    const seen: Phase[] = [];
    const twice = layer({ name: "twice in training", in: 3, out: 3, apply: (_p, x, _s, phase) => { seen.push(phase); return phase.training ? x.mul(2) : x; } });
    const net = compile(seq(twice), { inputs: 3, batch: 2, loss: mse(), optimizer: sgd({ lr: 0.1 }) });
    expect(seen.map((p) => p.training)).toContain(true);
    expect(seen.map((p) => p.training)).toContain(false);
    expect(seen.every((p) => Object.isFrozen(p))).toBe(true);
    const x = Float32Array.of(1, -2, 3, 0.5, 0, -1);
    expect(net.predict(x)).toEqual(x);
    // mse of 2x against 0: mean((2x)²) = 4·mean(x²).
    const mean2 = x.reduce((a, v) => a + v * v, 0) / x.length;
    expect(net.gradients(x, new Float32Array(6)).loss).toBeCloseTo(4 * mean2, 5);
    const f = fn("half in eval", (h, { training }) => (training ? h : h.mul(0.5)));
    expect(compile(seq(f), { inputs: 3, batch: 2, loss: mse() }).predict(x)).toEqual(x.map((v) => v * 0.5));
  });

  it("lets a user write batchNorm: it trains, tracks and predicts as the built-in does", () => {
    const build = (bn: ReturnType<typeof userBatchNorm> | ReturnType<typeof batchNorm>) =>
      compile(seq(linear(5, 8), bn, relu, linear(8, 3)), { inputs: 5, batch: 6, seed: 4, loss: mse(), optimizer: sgd({ lr: 0.2, momentum: 0.9 }) });
    const mine = build(userBatchNorm(8, 0.3)), theirs = build(batchNorm(8, { momentum: 0.3 }));
    expect(Object.keys(mine.params)).toEqual(Object.keys(theirs.params));
    for (let s = 0; s < 6; s++) {
      const x = floats(30, s + 1), t = floats(18, s + 50);
      expect(mine.trainStep(x, t)).toBeCloseTo(theirs.trainStep(x, t), 5);
    }
    for (const k of ["1.running_mean", "1.running_var"]) {
      const a = mine.state[k] as Float32Array, b = theirs.state[k] as Float32Array;
      expect(a).not.toEqual(new Float32Array(8).fill(k.endsWith("var") ? 1 : 0)); // they moved
      a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
    }
    const x = floats(35, 99);
    const [pa, pb] = [mine.predict(x), theirs.predict(x)];
    pa.forEach((v, i) => expect(v).toBeCloseTo(pb[i]!, 5));
  });
});

describe("x.dropout(p)", () => {
  const data = { x: floats(48, 3), t: floats(24, 7) };
  const train = (model: Parameters<typeof compile>[0], optimize = true) => {
    const net = compile(model, { inputs: 6, batch: 8, seed: 11, loss: mse(), optimizer: sgd({ lr: 0.1 }), optimize });
    const losses = [0, 1, 2].map(() => net.trainStep(data.x, data.t));
    return { net, losses };
  };

  it("is the dropout layer: the same masks (stream by trace order), the same steps bit for bit, absent in eval", () => {
    const body = fn("drop", (h) => h.dropout(0.3));
    const a = train(seq(linear(6, 6), body, relu, dropout(0.5), linear(6, 3)));
    const b = train(seq(linear(6, 6), dropout(0.3), relu, dropout(0.5), linear(6, 3)));
    expect(a.losses).toEqual(b.losses);
    expect(a.net.params["4.weight"]).toEqual(b.net.params["4.weight"]);
    expect(a.net.predict(data.x)).toEqual(b.net.predict(data.x));
    expect(printIR(a.net.ir.eval)).not.toMatch(/mask/);
    // The reference interpreter agrees, and the optimized step runs no JavaScript kernel.
    const reference = train(seq(linear(6, 6), body, relu, dropout(0.5), linear(6, 3)), false);
    reference.losses.forEach((l, i) => expect(l).toBeCloseTo(a.losses[i]!, 5));
    expect(javascriptSteps(a.net)).toEqual([]);
  });

  it("drops about p of the elements, scaling the rest by 1/(1 − p); p = 0 is the identity", () => {
    // The input gradient of sum(dropout(x)) is the mask itself.
    const sum = lossFn("sum", (out: T) => out.sum());
    const net = compile(seq(fn("drop", (h) => h.dropout(0.25))), { inputs: 1000, batch: 40, loss: sum });
    const g = net.gradients(floats(40_000), new Float32Array(40_000), { input: true }).inputGrad!;
    const kept = Math.fround(1 / 0.75);
    expect(g.every((v) => v === 0 || v === kept)).toBe(true);
    expect(Math.abs(g.filter((v) => v === 0).length / g.length - 0.25)).toBeLessThan(0.01);
    const identity = compile(seq(fn("none", (h) => h.dropout(0))), { inputs: 4, batch: 2, loss: sum });
    expect(identity.gradients(floats(8), new Float32Array(8), { input: true }).inputGrad).toEqual(new Float32Array(8).fill(1));
  });

  it("refuses a probability outside [0, 1) and a loss body, naming the layer", () => {
    for (const p of [1, -0.1, Number.NaN, "0.5"]) {
      expect(() => compile(seq(fn("bad", (h) => h.dropout(p as number))), { inputs: 2, batch: 2 })).toThrow(
        /fn "bad" at 0: dropout: expected a probability p with 0 ≤ p < 1, got/);
    }
    const noisy = lossFn("noisy", (out: T, target: T) => out.dropout(0.5).sub(target).square().mean());
    const e = (() => { try { compile(seq(linear(2, 2)), { inputs: 2, batch: 2, loss: noisy }); } catch (err) { return err; } })();
    expect(e).toBeInstanceOf(ModelError);
    expect(String(e)).toMatch(/lossFn "noisy": dropout: only a layer or fn body drops/);
  });
});
