import { describe, expect, it } from "vitest";
import { compile, dropout, linear, mse, printIR, relu, seq } from "../src/index.js";
import { forwardGraph } from "../src/programs.js";
import { runGraph } from "./helpers/run.js";

/** The train-mode dropout output for an all-ones input of `n` elements at a given step. */
function masked(p: number, n: number, step: number, seed = 0, precision: "f32" | "f64" = "f32"): Float64Array {
  const { graph } = forwardGraph(seq(dropout(p)), mse(), { inputs: n / 1000, batch: 1000, seed });
  return runGraph(graph, { x: new Float32Array(n).fill(1), labels: new Float32Array(n), step: [step] }, precision).logits!;
}

describe("dropout (p is the DROP probability)", () => {
  for (const p of [0.1, 0.5, 0.9]) {
    it(`drops ${p} of 10⁶ elements (within 0.5% of p) and scales survivors by exactly 1/(1−p)`, () => {
      const y = masked(p, 1_000_000, 0);
      let dropped = 0, other = 0;
      const keep = Math.fround(1 / (1 - p));
      for (const v of y) {
        if (v === 0) dropped++;
        else if (v !== keep) other++;
      }
      expect(other).toBe(0);
      expect(Math.abs(dropped / y.length - p)).toBeLessThan(0.005 * p);
    });
  }

  it("gives the same mask for the same seed and step, new masks for other steps and seeds", () => {
    const a = masked(0.3, 100_000, 4), b = masked(0.3, 100_000, 4);
    expect(a).toEqual(b);
    const differ = (u: Float64Array, v: Float64Array) => u.filter((x, i) => x !== v[i]).length / u.length;
    expect(differ(a, masked(0.3, 100_000, 5))).toBeGreaterThan(0.3);
    expect(differ(a, masked(0.3, 100_000, 4, 1))).toBeGreaterThan(0.3);
  });

  it("is the same mask whatever the precision of the program", () => {
    expect(masked(0.2, 10_000, 2, 0, "f64")).toEqual(masked(0.2, 10_000, 2, 0, "f32"));
  });

  it("is absent from the eval graph, present in the train graph", () => {
    const model = seq(linear(4, 4), relu, dropout(0.5), linear(4, 2));
    const reference = compile(model, { inputs: 4, batch: 2, optimize: false });
    expect(printIR(reference.ir.eval)).not.toMatch(/dropout|mask/);
    expect(printIR(reference.ir.train)).toMatch(/dropout_mask\[p=0\.5/);
    expect(reference.ir.eval.inputs.map((i) => i.name)).not.toContain("step");
    // Optimized: the mask is computed inside the fused loops that use it, never materialized.
    const net = compile(model, { inputs: 4, batch: 2 });
    expect(printIR(net.ir.eval)).not.toMatch(/dropout|mask/);
    expect(printIR(net.ir.train)).not.toMatch(/dropout_mask/);
    expect(printIR(net.ir.train)).toMatch(/fused_elementwise\[.*mask\(in\d+,0\.5,0,0\)/);
  });

  it("advances with each trainStep but not with gradients()", () => {
    const net = compile(seq(dropout(0.5), linear(6, 3)), { inputs: 6, batch: 4, loss: mse() });
    const x = new Float32Array(24).map((_, i) => (i % 5) - 2), t = new Float32Array(12);
    const g1 = net.gradients(x, t).loss, g2 = net.gradients(x, t).loss;
    expect(g1).toBe(g2);
    expect(net.step).toBe(0);
    expect(net.trainStep(x, t)).toBe(g1);
    expect(net.step).toBe(1);
  });
});
