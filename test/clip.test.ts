/**
 * Gradient clipping inside the compiled train step (src/optim/clip.ts). The PyTorch agreement
 * is in the pytorch-*-clip-*.json fixtures (test/pytorch.test.ts); here: what clipping leaves
 * alone, the optimized program against the reference interpreter, and bad options.
 */
import { describe, expect, it } from "vitest";
import { adam, compile, layerNorm, linear, relu, seq, sgd, type Optimizer } from "../src/index.js";

const model = () => seq(linear(6, 10), relu, linear(10, 10), layerNorm(10), relu, linear(10, 3));
const x = new Float32Array(5 * 6).map((_, i) => 3 * Math.sin(i * 1.7));
const y = new Int32Array([0, 2, 1, 1, 0]);
const l2 = (gs: Iterable<Float32Array>) => Math.sqrt([...gs].reduce((s, g) => s + g.reduce((t, v) => t + v * v, 0), 0));
const net = (optimizer: Optimizer, optimize = true) =>
  compile(model(), { inputs: 6, batch: 5, seed: 3, optimizer, optimize, probes: { gradNorm: true } });

describe("gradient clipping", () => {
  it("scales the step by maxNorm / ‖g‖ and leaves net.gradients unclipped; probes give the norm before clipping", () => {
    const plain = net(sgd({ lr: 0.1 })), clipped = net(sgd({ lr: 0.1, clipGradNorm: 0.05 }));
    const g = clipped.gradients(x, y).grads;
    expect(g).toEqual(plain.gradients(x, y).grads);
    const norm = l2(Object.values(g));
    expect(norm).toBeGreaterThan(0.5); // so 0.05 clips
    const w0 = Object.fromEntries(Object.entries(clipped.params).map(([k, v]) => [k, v.slice()]));
    clipped.trainStep(x, y);
    expect(clipped.probes().gradNorm.total).toBeCloseTo(norm, 5);
    // Plain SGD: Δw = −lr·g·(c / (‖g‖ + 1e-6)) for every parameter.
    const scale = 0.05 / (norm + 1e-6);
    for (const [k, w] of Object.entries(clipped.params)) {
      w.forEach((v, i) => expect(v).toBeCloseTo(w0[k]![i]! - 0.1 * scale * g[k]![i]!, 6));
    }
  });

  it("changes no bit when the norm is under the limit", () => {
    const plain = net(adam({ lr: 0.01 })), loose = net(adam({ lr: 0.01, clipGradNorm: 1e6 }));
    for (let s = 0; s < 3; s++) expect(loose.trainStep(x, y)).toBe(plain.trainStep(x, y));
    for (const k of Object.keys(plain.params)) expect(loose.params[k]).toEqual(plain.params[k]);
  });

  it("clamps each gradient element with clipGradValue", () => {
    const clipped = net(sgd({ lr: 1, clipGradValue: 0.01 }));
    const { grads } = clipped.gradients(x, y);
    const w0 = Object.fromEntries(Object.entries(clipped.params).map(([k, v]) => [k, v.slice()]));
    clipped.trainStep(x, y);
    let clamped = 0;
    for (const [k, w] of Object.entries(clipped.params)) {
      w.forEach((v, i) => {
        const gi = grads[k]![i]!, want = Math.min(0.01, Math.max(-0.01, gi));
        if (want !== gi) clamped++;
        expect(w0[k]![i]! - v).toBeCloseTo(want, 6);
      });
    }
    expect(clamped).toBeGreaterThan(10);
  });

  it("runs the same optimized as on the reference interpreter", () => {
    for (const optimizer of [sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01, clipGradNorm: 0.1 }), adam({ lr: 0.01, clipGradValue: 0.02 })]) {
      const fast = net(optimizer), ref = net(optimizer, false);
      for (let s = 0; s < 3; s++) expect(fast.trainStep(x, y)).toBeCloseTo(ref.trainStep(x, y), 5);
      for (const k of Object.keys(ref.params)) fast.params[k]!.forEach((v, i) => expect(v).toBeCloseTo(ref.params[k]![i]!, 5));
    }
  });

  it("rejects bad limits with a ModelError", () => {
    expect(() => sgd({ lr: 0.1, clipGradNorm: 0 })).toThrow(/sgd clipGradNorm must be a finite number > 0, got 0/);
    expect(() => adam({ lr: 0.1, clipGradValue: NaN })).toThrow(/adam clipGradValue must be a finite number > 0, got NaN/);
    expect(() => sgd({ lr: 0.1, clipGradNorm: 1, clipGradValue: 1 })).toThrow(/not both/);
  });
});
