/**
 * The WebAssembly sums and copy (runtime/wasm/reduce.ts) against float64, and the mapping of a
 * `sum`/`mean` node's parameters onto one [outer, n, inner] view (kernels/reduce.ts outerInner).
 */
import { describe, expect, it } from "vitest";
import { lowerReduce } from "../compiler/ops/reduce.js";
import { outerInner } from "../runtime/kernels/reduce.js";
import { createMemory, instantiateKernels } from "../runtime/wasm/module.js";
import { rand } from "./helpers/run.js";

const memory = createMemory(64 << 20);
const k = instantiateKernels(memory);
const F = () => new Float32Array(memory.buffer);

describe("reduceSum kernel", () => {
  it("y[o, i] = scale·Σ_k x[o, k, i] for contiguous runs and row streams, odd and large sizes", () => {
    const r = rand(11);
    const shapes: [number, number, number][] = [
      [1, 1, 1], [1, 3, 1], [1, 1000, 1], [1, 1025, 1], [1, 1_000_000, 1], [7, 37, 1], [1000, 3, 1],
      [1, 37, 100], [1, 1000, 3], [3, 5, 7], [2, 1, 9], [1, 256, 1024],
      [256, 128, 2], [5, 9, 3], [3, 7, 16], [2, 11, 17], [2, 6, 18], [3, 4, 19], [2, 3, 35], [1, 1, 2],
    ];
    for (const [outer, n, inner] of shapes) for (const scale of [1, -1 / (n * 3)]) {
      const len = outer * n * inner, x = 4096, y = x + 4 * len + 64;
      const xs = F().subarray(x / 4, x / 4 + len);
      for (let i = 0; i < len; i++) xs[i] = Math.fround(2 * r() - 1 + 0.5); // a mean away from 0
      k.reduceSum(x, y, outer, n, inner, scale);
      const got = F().subarray(y / 4, y / 4 + outer * inner);
      for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
        let s = 0, abs = 0;
        for (let j = 0; j < n; j++) { const v = xs[(o * n + j) * inner + i]!; s += v; abs += Math.abs(v); }
        // float32 partial sums: error ≲ (terms per lane)·ε·Σ|x| within a block, float64 across blocks.
        const tol = Math.abs(scale) * abs * 1e-6 * Math.min(n, inner === 1 ? 1024 / 16 : n) + 1e-30;
        expect(Math.abs(got[o * inner + i]! - scale * s), `${outer}×${n}×${inner} scale ${scale}`).toBeLessThanOrEqual(tol);
        if (inner > 1) {
          // Columns: float32 adds in k order from +0, then one float32 multiply by the scale.
          let s32 = 0;
          for (let j = 0; j < n; j++) s32 = Math.fround(s32 + xs[(o * n + j) * inner + i]!);
          expect(got[o * inner + i], `${outer}×${n}×${inner} column ${i}`).toBe(Math.fround(s32 * Math.fround(scale)));
        }
      }
    }
  });

  it("copy moves n floats, tail included, and nothing past them", () => {
    for (const n of [0, 1, 3, 4, 17, 1001]) {
      const x = 4096, y = 1 << 20;
      F().fill(7, y / 4, y / 4 + n + 4);
      const xs = Float32Array.from({ length: n }, (_, i) => i - 0.5);
      F().set(xs, x / 4);
      k.copy(x, y, n);
      expect(Array.from(F().subarray(y / 4, y / 4 + n))).toEqual(Array.from(xs));
      expect(Array.from(F().subarray(y / 4 + n, y / 4 + n + 4))).toEqual([7, 7, 7, 7]);
    }
  });
});

describe("a reduction's [outer, n, inner] view", () => {
  const view = (shape: number[], axes: number[]) => outerInner(lowerReduce(1, { axes, keepdims: false }, { shape, dtype: "f32" }).params);
  it("covers the sums the passes make: totals, rows, columns, through dimensions of size 1", () => {
    expect(view([256, 1024], [0, 1])).toEqual([1, 256 * 1024, 1]);
    expect(view([37], [0])).toEqual([1, 37, 1]);
    expect(view([], [])).toEqual([1, 1, 1]);
    expect(view([7, 37], [1])).toEqual([7, 37, 1]);
    expect(view([7, 37], [0])).toEqual([1, 7, 37]);
    expect(view([1, 37], [0])).toEqual([1, 1, 37]);
    expect(view([7, 1], [1])).toEqual([1, 1, 7]);
    expect(view([2, 3, 4], [1])).toEqual([2, 3, 4]);
    expect(view([2, 3, 4, 5], [1, 2])).toEqual([2, 12, 5]);
  });
  it("refuses what one view cannot express (reduced, kept, reduced)", () => {
    expect(view([2, 3, 4], [0, 2])).toBeNull();
  });
});
