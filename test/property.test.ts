/**
 * Property test: over randomly generated models (seeded; depths, widths, layer kinds, batch
 * sizes, odd sizes 1, 7, 33), the optimized program agrees with the reference interpreter on
 * the forward loss, every gradient, three train steps and the eval outputs.
 */
import { describe, expect, it } from "vitest";
import { batchNorm, compile, dropout, printIR, layerNorm, linear, mse, relu, seq, sgd, softmaxCrossEntropy } from "../src/index.js";
import { randomModel as randomModelOf } from "./helpers/models.js";
import { maxRelErr, rand } from "./helpers/run.js";

const WIDTHS = [1, 3, 7, 16, 33];
const randomModel = (r: () => number, width: number, depth: number, bn: boolean) => randomModelOf(r, width, depth, bn, WIDTHS);

const only = process.env.KILN_PROPERTY_ONLY;

describe("thread count does not change a bit", () => {
  // Widths 256 and 250 (a scalar tail in each half of batchNorm's column split).
  for (const [name, norm, h] of [["layerNorm", layerNorm, 256], ["batchNorm", batchNorm, 250]] as const) {
    it(`a ${name} MLP large enough to split its matrix products and normalizations across threads`, () => {
      const model = seq(linear(200, h), norm(h), relu, dropout(0.1), linear(h, h), norm(h), relu, linear(h, 10));
      const opts = { inputs: 200, batch: 256, seed: 3, optimizer: sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }) };
      const one = compile(model, { ...opts, threads: 1 }), two = compile(model, { ...opts, threads: 2 });
      const r = rand(99);
      const x = Float32Array.from({ length: 256 * 200 }, () => 2 * r() - 1), y = Int32Array.from({ length: 256 }, () => Math.floor(r() * 10));
      for (let s = 0; s < 3; s++) expect(two.trainStep(x, y)).toBe(one.trainStep(x, y));
      for (const k of Object.keys(one.params)) expect(Array.from(two.params[k]!), k).toEqual(Array.from(one.params[k]!));
      for (const k of Object.keys(one.state)) expect(String(two.state[k]), k).toBe(String(one.state[k]));
      expect(Array.from(two.predict(x))).toEqual(Array.from(one.predict(x)));
    });
  }

  for (let seed = 0; seed < 6; seed++) {
    it(`random model #${seed}: 1 and 2 threads give identical losses, parameters and predictions`, () => {
      const r = rand(7000 + seed);
      const width = [33, 64, 130][seed % 3]!, batch = [16, 33, 64][seed % 3]!;
      const [body, w] = randomModel(r, width, 3 + (seed % 3), true);
      const model = seq(linear(width, width), body as never, linear(w, 10));
      const opts = { inputs: width, batch, seed, optimizer: sgd({ lr: 0.01, momentum: 0.9 }) };
      const one = compile(model, { ...opts, threads: 1 }), two = compile(model, { ...opts, threads: 2 });
      const x = Float32Array.from({ length: batch * width }, () => 2 * r() - 1), y = Int32Array.from({ length: batch }, () => Math.floor(r() * 10));
      for (let s = 0; s < 3; s++) expect(two.trainStep(x, y)).toBe(one.trainStep(x, y));
      for (const k of Object.keys(one.params)) expect(Array.from(two.params[k]!)).toEqual(Array.from(one.params[k]!));
      expect(Array.from(two.predict(x))).toEqual(Array.from(one.predict(x)));
    });
  }
});

describe("optimized programs agree with the reference interpreter", () => {
  for (let seed = 0; seed < Number(process.env.KILN_PROPERTY_CASES ?? 60); seed++) {
    if (only !== undefined && Number(only) !== seed) continue;
    it(`random model #${seed}`, () => {
      const r = rand(1000 + seed);
      const inputs = WIDTHS[Math.floor(r() * WIDTHS.length)]!;
      const batch = [1, 2, 7, 33][Math.floor(r() * 4)]!;
      const [body, width] = randomModel(r, inputs, 1 + Math.floor(r() * 5), batch > 1);
      const classes = Math.max(2, width);
      const model = seq(body as never, linear(width, classes));
      const useMse = r() < 0.3;
      const opts = {
        inputs, batch, seed,
        loss: useMse ? mse() : softmaxCrossEntropy(),
        optimizer: sgd({ lr: 0.01, momentum: r() < 0.5 ? 0 : 0.9, weightDecay: r() < 0.5 ? 0 : 1e-3, nesterov: false }),
      };
      const fast = compile(model, opts), ref = compile(model, { ...opts, optimize: false });
      if (only !== undefined) console.log(printIR(fast.ir.train));
      const xs = Array.from({ length: 3 }, () => Float32Array.from({ length: batch * inputs }, () => 2 * r() - 1));
      const ys = Array.from({ length: 3 }, () => (useMse
        ? Float32Array.from({ length: batch * classes }, () => r())
        : Int32Array.from({ length: batch }, () => Math.floor(r() * classes))));
      const where = `model ${JSON.stringify(model).slice(0, 300)}`;
      const a = fast.gradients(xs[0]!, ys[0]!), b = ref.gradients(xs[0]!, ys[0]!);
      expect(maxRelErr([a.loss], [b.loss]), `loss; ${where}`).toBeLessThan(1e-4);
      // Gradients are compared relative to the largest gradient of the call: a bias feeding a
      // batchNorm has a gradient that is exactly 0 in exact arithmetic, so only float noise.
      const gscale = Math.max(1e-3, ...Object.values(b.grads).flatMap((g) => Array.from(g, Math.abs)));
      for (const k of Object.keys(b.grads)) expect(maxRelErr(a.grads[k]!, b.grads[k]!, gscale), `grad ${k}; ${where}`).toBeLessThan(1e-4);
      for (let s = 0; s < 3; s++) {
        const lf = fast.trainStep(xs[s]!, ys[s]!), lr = ref.trainStep(xs[s]!, ys[s]!);
        expect(maxRelErr([lf], [lr]), `step ${s}; ${where}`).toBeLessThan(1e-4);
        // A diverging net (the reference's loss explodes) amplifies rounding without bound:
        // compare only what came before.
        if (!(Math.abs(lr) < 1e3)) return;
      }
      // Parameters likewise relative to the largest parameter (a bias before batchNorm only moves by noise).
      const pscale = Math.max(1e-3, ...Object.values(ref.params).flatMap((p) => Array.from(p, Math.abs)));
      for (const k of Object.keys(ref.params)) expect(maxRelErr(fast.params[k]!, ref.params[k]!, pscale), `param ${k}; ${where}`).toBeLessThan(1e-4);
      for (const [k, v] of Object.entries(ref.state)) {
        if (v instanceof Float32Array) expect(maxRelErr(fast.state[k] as Float32Array, v, 1e-2), `state ${k}`).toBeLessThan(1e-4);
      }
      const evalX = Float32Array.from({ length: 5 * inputs }, () => 2 * r() - 1);
      const pf = fast.predict(evalX), pr = ref.predict(evalX);
      expect(maxRelErr(pf, pr), `predict; ${where}`).toBeLessThan(1e-4);
    });
  }
});
