import { describe, expect, it } from "vitest";
import { compile, init, KilnError, linear, seq, type Initializer } from "../src/index.js";

function stats(a: Float32Array): { mean: number; variance: number; min: number; max: number } {
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (const v of a) { s += v; s2 += v * v; min = Math.min(min, v); max = Math.max(max, v); }
  const mean = s / a.length;
  return { mean, variance: s2 / a.length - mean * mean, min, max };
}

function weight(initializer: Initializer, fanIn = 1024, fanOut = 1024, seed = 0): Float32Array {
  return compile(linear(fanIn, fanOut, { init: initializer }), { inputs: fanIn, batch: 1, seed }).params.weight!;
}

describe("initializers (1024×1024 weights)", () => {
  const cases: [string, Initializer, number, number, number][] = [
    ["He normal, fan-in", init.he(), 1024, 512, 2 / 1024],
    ["He normal, fan-out", init.he({ mode: "fanOut" }), 1024, 512, 2 / 512],
    ["He uniform", init.he({ distribution: "uniform" }), 1024, 1024, 2 / 1024],
    ["Xavier normal", init.xavier(), 1024, 512, 2 / 1536],
    ["Xavier uniform", init.xavier({ distribution: "uniform" }), 1024, 512, 2 / 1536],
    ["normal σ² = 3/n", init.normal({ variance: (n) => 3 / n }), 1024, 1024, 3 / 1024],
    ["normal fixed variance", init.normal({ variance: 0.01 }), 1024, 1024, 0.01],
  ];
  for (const [name, ini, fanIn, fanOut, variance] of cases) {
    it(`${name}: variance ${variance.toPrecision(3)} within 2%, mean ≈ 0`, () => {
      const s = stats(weight(ini, fanIn, fanOut));
      expect(Math.abs(s.variance / variance - 1)).toBeLessThan(0.02);
      expect(Math.abs(s.mean)).toBeLessThan(0.01 * Math.sqrt(variance));
    });
  }

  it("uniform initializers stay inside ±√(3·variance)", () => {
    const s = stats(weight(init.he({ distribution: "uniform" })));
    const a = Math.sqrt(3 * 2 / 1024);
    expect(s.min).toBeGreaterThanOrEqual(-a);
    expect(s.max).toBeLessThanOrEqual(a);
  });

  it("zeros and ones are exact; biases default to zero and weights to He normal", () => {
    expect(weight(init.zeros(), 8, 8).every((v) => v === 0)).toBe(true);
    expect(weight(init.ones(), 8, 8).every((v) => v === 1)).toBe(true);
    const net = compile(linear(1024, 1024), { inputs: 1024, batch: 1 });
    expect(net.params.bias!.every((v) => v === 0)).toBe(true);
    expect(Math.abs(stats(net.params.weight!).variance / (2 / 1024) - 1)).toBeLessThan(0.02);
  });

  it("same seed → same parameters; another seed → other parameters", () => {
    const m = seq(linear(20, 30), linear(30, 5));
    const a = compile(m, { inputs: 20, batch: 1, seed: 7 }), b = compile(m, { inputs: 20, batch: 1, seed: 7 });
    const c = compile(m, { inputs: 20, batch: 1, seed: 8 });
    expect(a.params).toEqual(b.params);
    expect(a.params["0.weight"]).not.toEqual(c.params["0.weight"]);
    expect(a.params["0.weight"]).not.toEqual(a.params["1.weight"]?.subarray(0, 600));
  });

  it("rejects bad options with a KilnError", () => {
    expect(() => init.he({ distribution: "cauchy" as never })).toThrow(KilnError);
    expect(() => init.he({ mode: "fan" as never })).toThrow(/fanIn/);
    expect(() => weight(init.normal({ variance: () => -1 }), 4, 4)).toThrow(/variance must be a finite number ≥ 0, got -1/);
  });
});
