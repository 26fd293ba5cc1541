/** The lecture's claims (../shared/LECTURE.md), asserted on real MNIST digits. */
import { describe, expect, it } from "vitest";
import { subset } from "../src/data/batches.js";
import { loadMnistDigits } from "../src/data/mnist.js";
import { normsAtInit } from "../examples/lib/deep.js";
import { runExplosion } from "../examples/lib/initTraining.js";

describe("§1 initialization: 50-layer ReLU MLP, 100 units, W ~ N(0, c/n), at initialization", () => {
  const ratio = async (c: number, norm: "none" | "layerNorm") => {
    const { train } = await loadMnistDigits();
    const s = subset(train, 64, 1);
    const r = normsAtInit({ c, norm, x: s.images, labels: s.labels });
    return r.activation[49]! / r.activation[0]!;
  };
  it("c = 1 vanishes: activation norm last/first < 1e-5", async () => expect(await ratio(1, "none")).toBeLessThan(1e-5), 60_000);
  it("c = 3 explodes: last/first > 1e3", async () => expect(await ratio(3, "none")).toBeGreaterThan(1e3), 60_000);
  it("c = 2 (He) stays flat: last/first in (0.1, 10)", async () => {
    const r = await ratio(2, "none");
    expect(r).toBeGreaterThan(0.1);
    expect(r).toBeLessThan(10);
  }, 60_000);
  for (const c of [1, 2, 3]) {
    it(`with layerNorm after every linear, c = ${c} is flat: last/first in (0.5, 2)`, async () => {
      const r = await ratio(c, "layerNorm");
      expect(r).toBeGreaterThan(0.5);
      expect(r).toBeLessThan(2);
    }, 60_000);
  }
});

describe("§1 when training goes wrong: σ² = 3/n with a large learning rate", () => {
  it("makes an Infinity that checkNumerics pins on a linear layer in the first steps; clipGradNorm trains the same run", async () => {
    const { train } = await loadMnistDigits();
    const failed = runExplosion({ train, steps: 5, lr: 0.01 });
    expect(failed.error).toMatch(/^train step [0-4]: the first non-finite value is (-?Infinity|NaN), at index \d+ .* of \w+:f32\[64,100\], made by seq\[\d+\]\[0\] linear\(100→100\)/);
    expect(failed.error).toMatch(/parameters, state and optimizer state are as they were before this step/);
    const clipped = runExplosion({ train, steps: 25, lr: 0.01, clipGradNorm: 10 });
    expect(clipped.error).toBeNull();
    expect(clipped.losses).toHaveLength(25);
    // The loss starts in the thousands (the activations grew ~10⁴-fold) and falls by 10× at least.
    expect(clipped.losses[0]).toBeGreaterThan(1000);
    expect(Math.max(...clipped.losses.slice(-5))).toBeLessThan(clipped.losses[0]! / 10);
  }, 120_000);
});
