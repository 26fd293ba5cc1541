/**
 * No slow path: over a seeded corpus of random models — every layer (activations, fn, concat
 * included), every loss, every optimizer, odd sizes (1, 3, 37, 100, 1000), batch 1 and 1000, a normalization last, dropout
 * first, gradient clipping by global norm and by value — every step of every optimized program (train, gradients with and without the input's,
 * eval at several batch sizes)
 * runs a WebAssembly kernel (Executor.steps, decided when the program is prepared, not by timing).
 * The JavaScript kernels stay the reference interpreter's, and the optimized results are held
 * to it here too: loss and gradients, a train step, predictions.
 */
import { describe, expect, it } from "vitest";
import {
  adam, adamw, batchNorm, binaryCrossEntropy, compile, concat, dropout, fn, gelu, huber, l1, layerNorm, leakyRelu, linear, mse, relu,
  residual, seq, sgd, sigmoid, silu, softmaxCrossEntropy, tanh, type LayerNode, type Loss, type Optimizer,
} from "../src/index.js";
import { javascriptSteps, maxRelErr, rand } from "./helpers/run.js";

const SIZES = [1, 3, 37, 100, 1000];

interface Case { readonly model: LayerNode; readonly inputs: number; readonly outputs: number; readonly batch: number; readonly loss: Loss; readonly optimizer: Optimizer }

/** One random model: dropout first, a normalization last (when the batch allows batchNorm). */
function randomCase(r: () => number, k: number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const batch = k % 2 === 0 ? 1 : 1000;
  // Width 1000 only at batch 1: the reference interpreter must check the case in milliseconds.
  const sizes = batch === 1000 ? SIZES.slice(0, 4) : SIZES;
  const inputs = pick(sizes);
  const layers: LayerNode[] = [];
  let w = inputs;
  if (r() < 0.6) layers.push(dropout(pick([0.1, 0.5])));
  const norm = (n: number): LayerNode => (batch > 1 && r() < 0.5 ? batchNorm(n) : layerNorm(n, { affine: r() < 0.7 }));
  const activations: LayerNode[] = [relu, tanh, sigmoid, gelu, gelu({ approximate: "tanh" }), leakyRelu(0.1), silu, fn("square", (t) => t.mul(t))];
  for (let d = 0, depth = 1 + Math.floor(r() * 4); d < depth; d++) {
    const kind = Math.floor(r() * 7);
    if (kind <= 1) { const out = pick(sizes); layers.push(linear(w, out, { bias: r() < 0.8 })); w = out; }
    else if (kind === 2) layers.push(pick(activations));
    else if (kind === 3 && w > 1) layers.push(norm(w));
    else if (kind === 4) layers.push(residual(seq(linear(w, w), relu) as never));
    else if (kind === 5) { const a = pick(sizes.slice(0, 3)), b = pick(sizes.slice(0, 3)); layers.push(concat(seq(linear(w, a), tanh), linear(w, b)) as never); w = a + b; }
    else layers.push(dropout(0.2));
  }
  const classes = Math.max(2, w);
  if (classes !== w) { layers.push(linear(w, classes)); w = classes; }
  if (w > 1) layers.push(norm(w)); // a normalization last: its x̂ feeds the loss
  const loss = pick([mse(), softmaxCrossEntropy(), binaryCrossEntropy({ logits: true }), l1(), huber({ delta: 0.5 })]);
  const optimizer = pick([
    sgd({ lr: 0.01 }), sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4, nesterov: true }),
    adam({ lr: 1e-3 }), adamw({ lr: 1e-3, weightDecay: 1e-2 }),
    // Clipping: the global norm's sum of squares over every gradient, and the clamp.
    sgd({ lr: 0.01, momentum: 0.9, clipGradNorm: 0.5 }), adam({ lr: 1e-3, clipGradNorm: 1e-3 }), adamw({ lr: 1e-3, weightDecay: 1e-2, clipGradValue: 1e-3 }),
  ]);
  return { model: seq(...(layers as [LayerNode])), inputs, outputs: w, batch, loss, optimizer };
}

describe("optimized programs run no JavaScript kernel", () => {
  it("the corpus clips gradients by global norm and by value", () => {
    const clips = Array.from({ length: 30 }, (_, k) => randomCase(rand(4200 + k), k).optimizer.clip);
    expect(clips.filter((c) => c?.norm !== undefined).length).toBeGreaterThanOrEqual(2);
    expect(clips.filter((c) => c?.value !== undefined).length).toBeGreaterThanOrEqual(1);
  });

  it("a gradient that simplifies to zeros (x⁰ between two products) is filled in WebAssembly", () => {
    // The backward's zero dY reaches the first linear's products as a constant: a fill step.
    const model = seq(linear(3, 4), fn("flat", (t) => t.pow(0)), linear(4, 2));
    const opts = { inputs: 3, batch: 5, seed: 0, loss: mse(), optimizer: sgd({ lr: 0.1 }), threads: 1 };
    const fast = compile(model, opts), ref = compile(model, { ...opts, optimize: false });
    const x = Float32Array.from({ length: 15 }, (_, i) => i / 7 - 1), y = Float32Array.from({ length: 10 }, (_, i) => i / 10);
    const a = fast.gradients(x, y, { input: true }), b = ref.gradients(x, y, { input: true });
    for (const n of Object.keys(b.grads)) expect(maxRelErr(a.grads[n]!, b.grads[n]!, 1), n).toBeLessThan(1e-6);
    expect(maxRelErr(a.inputGrad, b.inputGrad, 1)).toBeLessThan(1e-6);
    expect(Array.from(a.grads["0.weight"]!)).toEqual(new Array(12).fill(0)); // the zeros the fill made
    const fills = [...fast.programs().values()].flatMap((e) => e.steps.filter((st) => st.kernel === "fill"));
    expect(fills.length).toBeGreaterThan(0);
    expect(javascriptSteps(fast)).toEqual([]);
  });

  for (let k = 0; k < 30; k++) {
    it(`random model #${k}`, () => {
      const r = rand(4200 + k);
      const c = randomCase(r, k);
      const opts = { inputs: c.inputs, batch: c.batch, seed: k, loss: c.loss, optimizer: c.optimizer, threads: 1 };
      const fast = compile(c.model, opts), ref = compile(c.model, { ...opts, optimize: false });
      const where = JSON.stringify(c.model).slice(0, 300);
      const x = Float32Array.from({ length: c.batch * c.inputs }, () => 2 * r() - 1);
      // Class indices, or targets in [0, 1) shaped like the output (regression, binary labels).
      const y = c.loss.labelType(c.batch, c.outputs).dtype === "i32"
        ? Int32Array.from({ length: c.batch }, () => Math.floor(r() * c.outputs))
        : Float32Array.from({ length: c.batch * c.outputs }, () => r());
      const a = fast.gradients(x, y, { input: true }), b = ref.gradients(x, y, { input: true });
      expect(maxRelErr([a.loss], [b.loss]), `loss; ${where}`).toBeLessThan(1e-4);
      // Gradients relative to the largest one (a bias before a normalization has a gradient of 0
      // in exact arithmetic: only float noise). At batch 1000 a parameter's gradient is a sum over
      // 1000 rows, which the kernels add in float32 lanes and the reference in float64: 1e-3.
      const gscale = Object.values(b.grads).reduce((m, g) => g.reduce((mm, v) => Math.max(mm, Math.abs(v)), m), 1e-3);
      const gtol = c.batch >= 1000 ? 1e-3 : 1e-4;
      for (const n of Object.keys(b.grads)) expect(maxRelErr(a.grads[n]!, b.grads[n]!, gscale), `grad ${n}; ${where}`).toBeLessThan(gtol);
      // ∂loss/∂x sums over the first layer's outputs (up to 1000 terms that largely cancel for a
      // width-1 input), and through a batchNorm over the batch's 1000 rows too, in float32 and in
      // another order than the reference: looser bounds than the parameters'.
      const xscale = b.inputGrad.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-3);
      expect(maxRelErr(a.inputGrad, b.inputGrad, xscale), `input gradient; ${where}`).toBeLessThan(c.batch >= 1000 ? 1e-2 : 1e-3);
      // Predictions on the same parameters (before a step: Adam's first update is ±lr wherever a
      // gradient is float noise, so parameters after it differ by more than rounding).
      for (const n of [1, 3]) {
        const xe = Float32Array.from({ length: n * c.inputs }, () => 2 * r() - 1);
        expect(maxRelErr(fast.predict(xe), ref.predict(xe)), `predict ${n}; ${where}`).toBeLessThan(1e-4);
      }
      expect(maxRelErr([fast.trainStep(x, y)], [ref.trainStep(x, y)]), `train step; ${where}`).toBeLessThan(1e-4);
      expect([...fast.programs().keys()]).toEqual(["train", "backward", "backward+input", "eval[1]", "eval[3]"]);
      expect(javascriptSteps(fast), where).toEqual([]);
      // The reference interpreter is all JavaScript: the property the assertion above relies on.
      expect(javascriptSteps(ref).length).toBe([...ref.programs().values()].reduce((s, e) => s + e.steps.length, 0));
    }, 60_000); // ~1 s a case on an idle machine; the reference interpreter runs the batch-1000 ones
  }
});
