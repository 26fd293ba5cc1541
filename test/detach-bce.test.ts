/**
 * `detach` (a value with no gradient) and what it is for in kiln itself: binaryCrossEntropy on
 * probabilities takes PyTorch's gradient, (p − t)/max(p(1 − p), 10⁻¹²), which stays finite where
 * a sigmoid rounds to exactly 0 or 1 — where the derivative of the clamped logs is 0·∞ = NaN.
 */
import { describe, expect, it } from "vitest";
import { adamw, binaryCrossEntropy, compile, fn, layer, linear, mse, seq, sgd, sigmoid } from "../src/index.js";
import { fromOnnx } from "../src/onnx/import.js";

const sig = (z: number) => Math.fround(1 / (1 + Math.exp(-z)));

describe("detach", () => {
  it("passes values, stops gradients: a straight-through rounding trains as its identity would", () => {
    // A 0/1 step with the identity's gradient: x + detach(step(x) − x).
    const ste = fn("ste", (x) => x.add(x.gt(0).sub(x).detach()));
    const net = compile(seq(linear(2, 2), ste), { inputs: 2, batch: 2, seed: 0, threads: 1, loss: mse(), optimizer: sgd({ lr: 0.1 }) });
    const x = Float32Array.of(1, -2, 0.5, 3), t = Float32Array.of(1, 0, 0, 1);
    const logits = net.predict(x);
    const w = net.params["0.weight"]!, b = net.params["0.bias"]!;
    const z = [0, 1].flatMap((r) => [0, 1].map((j) => w[2 * j]! * x[2 * r]! + w[2 * j + 1]! * x[2 * r + 1]! + b[j]!));
    expect(Array.from(logits)).toEqual(z.map((v) => (v > 0 ? 1 : 0)));
    // mse's gradient w.r.t. the output, 2(y − t)/4, passes through unchanged to z.
    const { grads } = net.gradients(x, t);
    const dz = z.map((v, i) => (2 * ((v > 0 ? 1 : 0) - t[i]!)) / 4);
    expect(grads["0.bias"]![0]).toBeCloseTo(dz[0]! + dz[2]!, 6);
    expect(grads["0.bias"]![1]).toBeCloseTo(dz[1]! + dz[3]!, 6);
  });

  it("a parameter read only through detach has PyTorch's grad None: adamw leaves it alone (no decay); one read through sign decays", () => {
    const gated = (cut: "detach" | "sign") => layer({
      name: "gated", in: 2, out: 2, params: { w: { shape: [2, 2] }, v: { shape: [2, 2] } },
      apply: (p, x) => { const h = x.matmul(p.w); return x.matmul(p.v).mul(cut === "detach" ? h.detach() : h.sign()); },
    });
    for (const cut of ["detach", "sign"] as const) {
      const net = compile(seq(gated(cut)), { inputs: 2, batch: 2, seed: 3, threads: 1, loss: mse(), optimizer: adamw({ lr: 0.1, weightDecay: 0.5 }) });
      const w0 = net.params["0.w"]!.slice();
      net.trainStep(Float32Array.of(1, 2, -1, 0.5), Float32Array.of(0, 1, 1, 0));
      const w = net.params["0.w"]!;
      if (cut === "detach") expect(w).toEqual(w0);
      else expect(Array.from(w)).toEqual(Array.from(w0, (v) => Math.fround(v - Math.fround(Math.fround(0.1 * 0.5) * v))));
    }
  });

  it("exports as an ONNX Identity and comes back computing the same values", () => {
    const model = seq(linear(3, 4), fn("half", (x) => x.mul(0.5).detach().add(x)));
    const net = compile(model, { inputs: 3, batch: 2, seed: 1, threads: 1, loss: mse(), optimizer: sgd({ lr: 0.1 }) });
    const bytes = net.toOnnx();
    expect(new TextDecoder("latin1").decode(bytes)).toContain("Identity");
    const back = fromOnnx(bytes);
    const twin = compile(back.model, { inputs: 3, batch: 2, seed: 1, threads: 1, loss: mse(), optimizer: sgd({ lr: 0.1 }) });
    for (const [k, v] of Object.entries(back.params)) twin.params[k]!.set(v);
    const x = Float32Array.of(0.3, -1, 2, 1, 0.5, -0.25);
    expect(twin.predict(x)).toEqual(net.predict(x));
  });
});

describe("binaryCrossEntropy on probabilities: PyTorch's gradient", () => {
  const make = (optimize: boolean) => {
    const net = compile(seq(linear(1, 1), sigmoid), { inputs: 1, batch: 2, threads: 1, optimize, loss: binaryCrossEntropy(), optimizer: sgd({ lr: 0.1 }) });
    net.params["0.weight"]![0] = 1;
    net.params["0.bias"]![0] = 0;
    return net;
  };

  it("a sigmoid that rounds to 1 (z = 20, target 1) adds nothing, not NaN, to the gradient (optimized and reference)", () => {
    for (const optimize of [true, false]) {
      const net = make(optimize);
      const x = Float32Array.of(20, -1), t = Float32Array.of(1, 0);
      expect(sig(20)).toBe(1);
      const { loss, grads } = net.gradients(x, t);
      const p1 = sig(-1);
      expect(loss).toBeCloseTo(-Math.log(1 - p1) / 2, 6);
      // Only sample 1 contributes: dz = p − t over the batch of 2, dw = dz·x.
      expect(grads["0.weight"]![0]).toBeCloseTo(-p1 / 2, 6);
      expect(grads["0.bias"]![0]).toBeCloseTo(p1 / 2, 6);
      net.trainStep(x, t);
      expect(net.params["0.weight"]![0]).toBeCloseTo(1 + 0.1 * p1 / 2, 6);
    }
  });

  it("p below 10⁻¹² (z = −46, target 1) gets PyTorch's clamped gradient, (p − 1)/10⁻¹² · p(1 − p)", () => {
    for (const optimize of [true, false]) {
      const net = make(optimize);
      const p = sig(-46);
      const { loss, grads } = net.gradients(Float32Array.of(-46, -46), Float32Array.of(1, 1));
      expect(loss).toBeCloseTo(Math.min(46, 100), 3);
      // dz per sample = (p − 1)/1e-12 · ½ · p(1 − p); dz·x summed over the two samples.
      const dz = ((p - 1) / 1e-12) * 0.5 * (p * (1 - p));
      expect(grads["0.bias"]![0] / (2 * dz)).toBeCloseTo(1, 4);
      expect(grads["0.weight"]![0] / (2 * dz * -46)).toBeCloseTo(1, 4);
    }
  });

  it("exactly 0 and 1 with either target: finite, PyTorch's zero where p(1 − p) rounds to 0 and the sigmoid passes none", () => {
    const net = compile(seq(linear(1, 1), sigmoid), { inputs: 1, batch: 4, threads: 1, loss: binaryCrossEntropy(), optimizer: sgd({ lr: 0.1 }) });
    net.params["0.weight"]![0] = 1;
    const { loss, grads } = net.gradients(Float32Array.of(200, 200, -200, -200), Float32Array.of(1, 0, 1, 0));
    expect(loss).toBeCloseTo((0 + 100 + 100 + 0) / 4, 4);
    expect(grads["0.weight"]![0]).toBe(0);
    expect(grads["0.bias"]![0]).toBe(0);
  });
});
