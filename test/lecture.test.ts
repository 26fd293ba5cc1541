/** The lecture's claims (docs/lecture.md), asserted on real MNIST digits. */
import { describe, expect, it } from "vitest";
import { subset } from "../src/data/batches.js";
import { loadMnistDigits } from "../src/data/mnist.js";
import { normsAtInit, type Norm } from "../examples/lib/deep.js";
import { runExplosion } from "../examples/lib/initTraining.js";
import { runGrid } from "../examples/lib/normsGrid.js";

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

describe("§2 normalization repairs the scale: the 50-layer, 100-unit ReLU MLP trained from σ² = c/n (reduced grid)", () => {
  // examples/norms.ts runs the full grid (c ∈ {1, 1.7, 2, 2.3, 3} × none/layerNorm/batchNorm, the
  // best of 6 rates per cell). Here: one rate from the region where every trainable cell does
  // best (0.001), held after a 30-step warmup, batch 32, 300 steps, one thread.
  const recipe = { steps: 300, batch: 32, lrs: [1e-3], decay: false };
  const chance = 0.9;
  const grid = async (norm: Norm, cs: number[]) => {
    const { train, test } = await loadMnistDigits();
    return runGrid({ train, test: subset(test, 300, 0), trainEval: subset(train, 1000, 0), cs, norms: [norm], recipe, threads: 1 });
  };

  it("without normalization, c = 1 stays at chance, c = 3 diverges (or stays at chance), and c = 2 trains", async () => {
    const [one, two, three] = await grid("none", [1, 2, 3]);
    expect(one!.best.trainError).toBeGreaterThan(chance - 0.03);
    expect(three!.best.diverged || three!.best.trainError > chance - 0.03).toBe(true);
    expect(two!.best.diverged).toBe(false);
    expect(two!.best.trainError).toBeLessThan(0.8);
  }, 300_000); // ~10 s of CPU each; minutes on the loaded shared machine

  it("with a layerNorm after every linear, c = 1 and c = 3 both train well below chance", async () => {
    // The README grid's budget (batch 64, 200 steps, warmup + cosine) at its two best rates for
    // these cells. The single constant rate above (batch 32, 300 steps at 0.001) sat at the edge:
    // c = 1 reached 0.84, 0.90, 0.90 training error for seeds 0, 1, 2, and a change of float
    // rounding in the classifier head's product moved seed 0 to 0.91. With this recipe, seeds
    // 0–2: c = 1 at 0.69–0.81, c = 3 at 0.57–0.74, before and after that change.
    const { train, test } = await loadMnistDigits();
    const budget = { steps: 200, batch: 64, lrs: [4e-4, 1.6e-3] };
    const cells = runGrid({ train, test: subset(test, 300, 0), trainEval: subset(train, 1000, 0), cs: [1, 3], norms: ["layerNorm"], recipe: budget, threads: 1 });
    for (const cell of cells) {
      expect(cell.best.diverged, `c = ${cell.c}`).toBe(false);
      expect(cell.best.trainError, `c = ${cell.c}`).toBeLessThan(0.85);
    }
  }, 300_000); // ~10 s of CPU each; minutes on the loaded shared machine
});
