/**
 * Misuse the types allow or JavaScript reaches: a net called again from inside one of its own
 * calls (a schedule, a getter, a Proxy), hyper-parameters finite as doubles but ∞ as float32,
 * and options that are not objects. Each is a KilnError naming what was expected and what came,
 * and changes nothing.
 */
import { describe, expect, it } from "vitest";
import {
  accuracy, adam, adamw, argmax, batchNorm, binaryCrossEntropy, compile, cosine, dropout, fn, huber, KilnError, layerNorm, leakyRelu, linear, mse,
  relu, residual, seq, sgd, stepDecay, warmup, type Net,
} from "../src/index.js";

const X = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
const Y = Int32Array.from({ length: 8 }, (_, i) => i % 3);
const make = (lr: number | ((step: number) => number) = 0.1) =>
  compile(seq(linear(4, 16), relu, linear(16, 3)), { inputs: 4, batch: 8, seed: 0, threads: 1, optimizer: sgd({ lr, momentum: 0.9 }) });
const snapshot = (net: Net) => JSON.stringify([net.params, net.optimizerState, net.step].map((r) =>
  typeof r === "number" ? r : Object.entries(r).map(([k, v]) => [k, Array.from(v as Float32Array)])));

function refusal(f: () => unknown): Error {
  let error: unknown;
  try { f(); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(KilnError);
  return error as Error;
}

describe("a net called from inside one of its own calls", () => {
  it("a schedule that runs predict, gradients or trainStep on its own net is refused: the step is not taken", () => {
    for (const nested of ["predict", "gradients", "trainStep"] as const) {
      let net!: Net;
      net = make(() => {
        if (nested === "predict") net.predict(new Float32Array(80).fill(5));
        else if (nested === "gradients") net.gradients(X, Y);
        else net.trainStep(X, Y);
        return 0.1;
      });
      const before = snapshot(net);
      const e = refusal(() => net.trainStep(X, Y));
      expect(e.message).toBe(`${nested}: called while this net's trainStep is running (from a learning-rate schedule, or a getter or Proxy of the arrays it reads); call it after trainStep returns`);
      expect(snapshot(net)).toBe(before);
      // The net is not left busy: the same step runs as on a fresh net once the schedule behaves.
      const ref = make(), plain = make();
      plain.params["0.weight"]!.set(net.params["0.weight"]!);
      expect(ref.trainStep(X, Y)).toBe(plain.trainStep(X, Y));
    }
  });

  it("labels read through a Proxy that calls predict, or trainStep, are refused mid-call; the outer result stays right", () => {
    const net = make(), ref = make();
    const nestedIn = (call: () => unknown) => new Proxy(Array.from(Y), { get: (t, k) => { if (k === "0") call(); return Reflect.get(t, k); } });
    const before = snapshot(net);
    refusal(() => net.trainStep(X, nestedIn(() => net.predict(new Float32Array(80).fill(5)))));
    refusal(() => net.gradients(X, nestedIn(() => net.trainStep(X, Y))));
    expect(snapshot(net)).toBe(before);
    expect(net.trainStep(X, Y)).toBe(ref.trainStep(X, Y));
    expect(net.params["0.weight"]).toEqual(ref.params["0.weight"]);
  });

  it("setStep and dispose wait too; another net may be called from a schedule", () => {
    const other = make();
    let net!: Net;
    net = make(() => { other.trainStep(X, Y); return 0.1; });
    expect(Number.isFinite(net.trainStep(X, Y))).toBe(true);
    let inner!: Net;
    inner = make(() => { inner.setStep(5); return 0.1; });
    expect(refusal(() => inner.trainStep(X, Y)).message).toMatch(/^setStep: called while this net's trainStep is running/);
    inner = make(() => { inner.dispose(); return 0.1; });
    expect(refusal(() => inner.trainStep(X, Y)).message).toMatch(/^dispose: called while/);
    expect(inner.step).toBe(0);
  });
});

describe("hyper-parameters beyond float32's range", () => {
  it("are refused when built, naming the value; a schedule's at the step, changing nothing", () => {
    const beyond = /1e\+39 \(beyond float32's range, ±3\.4e38\)/;
    for (const f of [
      () => sgd({ lr: 1e39 }), () => sgd({ lr: 0.1, weightDecay: 1e39 }), () => sgd({ lr: 0.1, momentum: 1e39 }),
      () => adam({ lr: 0.1, eps: 1e39 }), () => adamw({ lr: 0.1, weightDecay: 1e39 }), () => sgd({ lr: 0.1, clipGradNorm: 1e39 }),
      () => huber({ delta: 1e39 }), () => leakyRelu(1e39), () => layerNorm(4, { eps: 1e39 }), () => cosine({ from: 1e39 }),
    ]) expect(refusal(f).message).toMatch(beyond);
    // A tensor expression's number too (x.add(1e39) was stored as ∞; x.add(Infinity) was refused).
    expect(refusal(() => compile(seq(fn("big", (x) => x.add(1e39))), { inputs: 4, batch: 2, loss: mse(), optimizer: sgd({ lr: 0.1 }) })).message)
      .toMatch(/^fn "big" at 0: add: expected a finite number, got 1e\+39 \(beyond float32's range, ±3\.4e38\)$/);
    const net = make(() => 1e39);
    const before = snapshot(net);
    expect(refusal(() => net.trainStep(X, Y)).message).toMatch(/^learning-rate schedule gave 1e\+39 \(beyond float32's range/);
    expect(snapshot(net)).toBe(before);
  });
});

describe("options that are not objects", () => {
  it("are a KilnError naming the options expected, not a TypeError", () => {
    const bad = (f: () => unknown, message: RegExp) => expect(refusal(f).message).toMatch(message);
    bad(() => (adam as (o: unknown) => unknown)({ lr: 0.1, betas: 0.9 }), /^adam betas must be a pair \[β₁, β₂\], got 0\.9$/);
    bad(() => (adam as (o: unknown) => unknown)({ lr: 0.1, betas: [0.9, 0.99, 0.5] }), /^adam betas must be a pair \[β₁, β₂\], got 3 numbers$/);
    bad(() => (cosine as () => unknown)(), /^cosine: expected an options object \{ from, to, steps \}, got undefined$/);
    bad(() => (stepDecay as (o: unknown) => unknown)(null), /^stepDecay: expected an options object \{ from, gamma, every \}, got null$/);
    bad(() => (warmup as (o: unknown, t: unknown) => unknown)(null, 0.1), /^warmup: expected an options object/);
    bad(() => (warmup as (o: unknown, t: unknown) => unknown)({ steps: 2 }, "0.1"), /^warmup's then must be a schedule \(step\) => lr or a number, got string$/);
    bad(() => (linear as (a: number, b: number, o: unknown) => unknown)(3, 3, null), /^linear: expected an options object \{ bias, init, biasInit \}, got null$/);
    bad(() => (sgd as (o: unknown) => unknown)([0.1]), /^sgd: expected an options object .*, got an array$/);
    const net = make();
    bad(() => (net.gradients as (x: unknown, y: unknown, o: unknown) => unknown)(X, Y, true), /^gradients: expected an options object \{ input, out \}, got boolean true$/);
    bad(() => (argmax as (a: unknown, c: unknown) => unknown)(null, 3), /^argmax: expected an array of logits, got null$/);
    bad(() => (argmax as (a: unknown, c: unknown) => unknown)(new Float32Array(6), "3"), /^argmax: classes must be a positive integer, got 3$/);
    bad(() => (accuracy as (a: unknown, l: unknown, c: number) => unknown)(new Float32Array(6), null, 3), /^accuracy: expected an array of labels, got null$/);
  });
});

describe("a train step whose loss is not finite", () => {
  const models = () => [
    seq(linear(4, 8), relu, linear(8, 3)),
    seq(linear(4, 8), batchNorm(8), relu, dropout(0.2), linear(8, 3)),
    seq(linear(4, 8), layerNorm(8), relu, residual(seq(linear(8, 8), batchNorm(8), relu)), linear(8, 3)),
  ];
  const optimizers = () => [sgd({ lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }), adam({ lr: 0.01 }), adamw({ lr: 0.01, clipGradNorm: 1 })];
  const all = (net: Net) => JSON.stringify([net.params, net.state, net.optimizerState, net.step].map((r) =>
    typeof r === "number" ? r : Object.entries(r).map(([k, v]) => [k, Array.from(v as ArrayLike<number | bigint>, String)])));

  it("is refused before anything is written, optimized or not, with any optimizer and batchNorm's running statistics", () => {
    for (const optimize of [true, false]) {
      models().forEach((model, m) => optimizers().forEach((optimizer, o) => {
        const net = compile(model, { inputs: 4, batch: 8, seed: m, threads: 1, optimize, optimizer, probes: { gradNorm: o === 2 } });
        net.trainStep(X, Y); // running statistics and optimizer buffers that are not zeros
        const w = net.params["0.weight"]!;
        w[0] = 3e38; w[1] = 3e38; // the first layer's outputs overflow: an infinite or NaN loss
        const before = all(net);
        const e = refusal(() => net.trainStep(X, Y));
        expect(e.name, `model ${m} optimizer ${o} optimize ${optimize}`).toBe("NumericsError");
        expect(e.message).toMatch(/^train step 1: the loss is (NaN|-?Infinity); the step was not taken: parameters, state and optimizer state are as they were before it, and net.step is still 1\. Compile with checkNumerics: true/);
        expect(all(net)).toBe(before);
        w[0] = 0.1; w[1] = -0.1; // and the net trains on
        expect(Number.isFinite(net.trainStep(X, Y))).toBe(true);
        expect(net.step).toBe(2);
      }));
    }
  });

  it("binaryCrossEntropy() of outputs outside [0, 1] (no sigmoid) says so and changes nothing, as PyTorch's BCELoss refuses them", () => {
    const net = compile(seq(linear(4, 2)), { inputs: 4, batch: 2, seed: 0, loss: binaryCrossEntropy(), optimizer: sgd({ lr: 0.1, momentum: 0.9 }) });
    const x = Float32Array.of(0, 0.84, 0.91, 0.14, -0.76, -0.96, -0.28, 0.66);
    const before = all(net);
    expect(refusal(() => net.trainStep(x, Float32Array.of(0, 1, 1, 0))).message).toMatch(/the loss is NaN; .* binaryCrossEntropy\(\) reads probabilities: outputs outside \[0, 1\] make its loss NaN \(PyTorch's BCELoss refuses them\); for raw scores use binaryCrossEntropy\(\{ logits: true \}\)\./);
    expect(all(net)).toBe(before);
  });
});
