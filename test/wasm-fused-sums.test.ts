/**
 * Reductions inside fused elementwise kernels (runtime/wasm/fused-sums.ts, attrs.sums): over
 * seeded random code DAGs, odd domains (rows of 1, columns not a multiple of 4, rows longer than
 * a summation block), broadcasts and masks, each sum of a slot is held to
 *   - column sums: the exact bits of the unfused reduction — the same kernel's value of the slot
 *     stored, then added in row order in float32 and scaled in float32 (runtime/wasm/reduce.ts);
 *   - totals: the float64 sum of the stored float32 values, within 2^-18 of Σ|v| (float32 chains of
 *     at most 64 terms, then float64);
 *   - the generated JavaScript kernel (the fallback): float64 sums of its own values;
 * and the checking variant (checkNumerics) reports a non-finite sum and only then.
 */
import { describe, expect, it } from "vitest";
import { size } from "../compiler/ir/types.js";
import { elementwiseSource, fusedSpec, type FusedElementwiseAttrs, type SumInstr } from "../compiler/ops/elementwise_codegen.js";
import { sumCols, sumProblem, sumScale } from "../compiler/ops/fused_sums.js";
import { scalarOps } from "../compiler/ops/index.js";
import { compileKernel } from "../runtime/kernels/generated.js";
import { emitFusedElementwise } from "../runtime/wasm/fused.js";
import { fusedInstance, prepareFused } from "../runtime/wasm/fused-run.js";
import { createMemory } from "../runtime/wasm/module.js";
import { randomCase, rng, type Case, type ElementOp } from "./helpers/fused-cases.js";

const memory = createMemory(64 << 20);
let top = 4096;
function alloc(n: number, skew: number, kind: "f32" | "i32" = "f32"): Float32Array | Int32Array {
  if (top + 4 * n + 256 > memory.buffer.byteLength) top = 4096;
  const off = top + 4 * skew;
  top = Math.ceil((off + 4 * n + 4) / 64) * 64;
  return kind === "i32" ? new Int32Array(memory.buffer, off, Math.max(n, 1)) : new Float32Array(memory.buffer, off, Math.max(n, 1));
}

/** Ops whose results stay finite and O(1)-ish on O(1) inputs, so sums are meaningful. */
const OPS: readonly ElementOp[] = ["add", "sub", "mul", "mul", "relu", "neg", "abs", "maximum", "minimum", "tanh", "sigmoid", "step", "const", "mask", "mask"];
const DOMAINS: readonly (readonly number[])[] = [
  [], [1], [3], [37], [1100], [1, 9], [1, 37], [2, 3], [3, 7], [4, 33], [5, 8], [7, 4], [37, 1], [3, 1, 7], [2, 3, 5],
  [2, 513], [3, 2500], [2, 3, 700], [40, 37], [9, 1, 4, 3], [13, 40], [6, 1100], [5, 8, 1], [11, 16],
];

/** Random reductions of the case's slots: leading axes (column sums) or all (totals), sum or mean. */
function withSums(r: () => number, c: Case): FusedElementwiseAttrs {
  const a = c.attrs, rank = a.shape.length, k = c.shapes.length;
  const floats = Array.from({ length: k + a.code.length }, (_, s) => s).filter((s) => s >= k || c.dtypes[s] === "f32");
  const sums: SumInstr[] = [];
  for (let j = 1 + Math.floor(r() * 3); j > 0; j--) {
    const lead = Math.floor(r() * (rank + 1));
    const axes = Array.from({ length: lead }, (_, i) => i);
    if (r() < 0.3) axes.reverse();
    sums.push({ op: r() < 0.5 ? "sum" : "mean", slot: floats[Math.floor(r() * floats.length)]!, axes, keepdims: r() < 0.5 });
  }
  for (const s of sums) expect(sumProblem(a.shape, s)).toBeNull();
  // Sometimes no elementwise output at all: the sums are all the kernel writes.
  return { ...a, outputs: r() < 0.3 ? [] : a.outputs, sums };
}

/** The inputs, and the kernel with each summed slot also stored (twin), and the kernel with sums. */
function run(c: Case, a: FusedElementwiseAttrs, r: () => number, skew: number) {
  const n = size(a.shape);
  const ins = c.shapes.map((s, j) => {
    const v = alloc(size(s), j % 2 ? skew : 0, c.dtypes[j]);
    for (let i = 0; i < v.length; i++) v[i] = c.dtypes[j] === "i32" ? Math.floor(r() * 100) : c.sample(r);
    return v;
  });
  const types = c.shapes.map((shape, j) => ({ shape, dtype: c.dtypes[j]! }));
  // Twin: the plain kernel storing every summed slot (the values the sums must add up).
  const twin = { ...a, outputs: a.sums.map((s) => s.slot), sums: [] };
  const vals = twin.outputs.map(() => alloc(n, 0) as Float32Array);
  prepareFused(emitFusedElementwise(fusedSpec(twin, types)!, scalarOps), [...ins, ...vals], memory)();
  const outs = a.outputs.map(() => alloc(n, skew) as Float32Array), sums = a.sums.map((s) => alloc(sumCols(a.shape, s), skew) as Float32Array);
  sums.forEach((y) => y.fill(Number.NaN)); // the kernel must zero them itself
  prepareFused(emitFusedElementwise(fusedSpec(a, types)!, scalarOps), [...ins, ...outs, ...sums], memory)();
  return { ins, vals, outs, sums };
}

describe("fused elementwise kernels with sums", () => {
  it("column sums: the unfused reduction's exact bits; totals within 2^-18 Σ|v| of float64; elementwise outputs unchanged", () => {
    let columns = 0, totals = 0;
    for (let t = 0; t < 300; t++) {
      const r = rng(7100 + t), c = randomCase(r, OPS, DOMAINS), a = withSums(r, c);
      const { ins, vals, outs, sums } = run(c, a, r, t % 4);
      const n = size(a.shape);
      a.sums.forEach((s, j) => {
        const cols = sumCols(a.shape, s), scale = sumScale(a.shape, s), v = vals[j]!, y = sums[j]!;
        const where = `case ${t} [${a.shape}] ${JSON.stringify(s)}`;
        if (cols > 1) {
          columns++;
          const want = new Float32Array(cols);
          for (let i = 0; i < n; i++) want[i % cols] = Math.fround(want[i % cols]! + v[i]!);
          if (scale !== 1) for (let q = 0; q < cols; q++) want[q] = Math.fround(want[q]! * Math.fround(scale));
          expect([...y.subarray(0, cols)], where).toEqual([...want]);
        } else {
          totals++;
          let exact = 0, abs = 0;
          for (let i = 0; i < n; i++) { exact += v[i]!; abs += Math.abs(v[i]!); }
          expect(Math.abs(y[0]! - exact * scale), where).toBeLessThanOrEqual((2 ** -18 * abs + 2 ** -24 * Math.abs(exact)) * scale + 1e-38);
        }
      });
      // The elementwise outputs are those of the kernel without sums.
      if (a.outputs.length) {
        const plain = a.outputs.map(() => alloc(n, 0) as Float32Array);
        const types = c.shapes.map((shape, j) => ({ shape, dtype: c.dtypes[j]! }));
        prepareFused(emitFusedElementwise(fusedSpec({ ...a, sums: [] }, types)!, scalarOps), [...ins, ...plain], memory)();
        outs.forEach((o, q) => expect(Object.is(o[0], plain[q]![0]) && o.every((x, i) => Object.is(x, plain[q]![i]) || (Number.isNaN(x) && Number.isNaN(plain[q]![i]!)))).toBe(true));
      }
    }
    expect(columns).toBeGreaterThan(100);
    expect(totals).toBeGreaterThan(100);
  });

  it("the generated JavaScript kernel: float64 sums of its own values, stored after the loop", () => {
    for (let t = 0; t < 80; t++) {
      const r = rng(7600 + t), c = randomCase(r, OPS.filter((o) => o !== "mask"), DOMAINS), a = withSums(r, c);
      const n = size(a.shape);
      const ins = c.shapes.map((s, j) => Float32Array.from({ length: size(s) }, () => c.sample(r) + 0 * j));
      const vals = a.sums.map(() => new Float32Array(n)), outs = a.outputs.map(() => new Float32Array(n));
      const sums = a.sums.map((s) => new Float32Array(sumCols(a.shape, s)));
      compileKernel(elementwiseSource({ ...a, outputs: a.sums.map((s) => s.slot), sums: [] }, c.shapes, scalarOps))([...ins, ...vals], []);
      compileKernel(elementwiseSource(a, c.shapes, scalarOps))([...ins, ...outs, ...sums], []);
      a.sums.forEach((s, j) => {
        const cols = sumCols(a.shape, s), scale = sumScale(a.shape, s), want = new Float64Array(cols), abs = new Float64Array(cols);
        for (let i = 0; i < n; i++) { want[i % cols]! += vals[j]![i]!; abs[i % cols]! += Math.abs(vals[j]![i]!); }
        for (let q = 0; q < cols; q++) {
          expect(Math.abs(sums[j]![q]! - want[q]! * scale), `case ${t} ${JSON.stringify(s)} [${q}]`).toBeLessThanOrEqual(2 ** -22 * abs[q]! * scale + 1e-38);
        }
      });
    }
  });

  it("checkNumerics: a checked sum reports a non-finite value (a NaN, an overflow of finite terms) and only then", () => {
    const shape = [5, 6];
    const a: FusedElementwiseAttrs = {
      shape, code: [{ op: "mul", args: [0, 0], num: [] }],
      outputs: [], sums: [{ op: "sum", slot: 1, axes: [0], keepdims: true }, { op: "mean", slot: 1, axes: [0, 1], keepdims: false }],
    };
    const spec = fusedSpec(a, [{ shape, dtype: "f32" }])!;
    const x = alloc(30, 1) as Float32Array, y = alloc(6, 0) as Float32Array, z = alloc(1, 0) as Float32Array;
    const checked = (positions: number[]) => fusedInstance(emitFusedElementwise(spec, scalarOps, positions), memory).exports["fused"]!(x.byteOffset, y.byteOffset, z.byteOffset);
    x.fill(0.5);
    expect(checked([0, 1])).toBe(1);
    expect([...y]).toEqual(new Array(6).fill(1.25));
    expect(z[0]).toBe(0.25);
    x[7] = Number.NaN;
    expect(checked([0])).toBe(0);
    expect(checked([1])).toBe(0);
    x[7] = 3e19; // finite, but its square is not a float32: y[1] overflows to ∞
    expect(checked([0])).toBe(0);
    expect(y[1]).toBe(Infinity);
    x[7] = 1e19; // every square finite (1e38), five of them in column 1 would not be: only one is there
    expect(checked([0, 1])).toBe(1);
  });

  it("specs with bad sums are refused: a slot out of range, columns not trailing, a non-finite scale", () => {
    const base = { shape: [4, 6], inputs: [{ strides: [6, 1], dtype: 0 }], code: [{ op: "neg", args: [0], num: [] }], outputs: [1] };
    expect(() => emitFusedElementwise({ ...base, sums: [{ slot: 2, cols: 6, scale: 1 }] }, scalarOps)).toThrow(/sums\[0\]: bad slot/);
    expect(() => emitFusedElementwise({ ...base, sums: [{ slot: 1, cols: 4, scale: 1 }] }, scalarOps)).toThrow(/not a product of trailing dimensions/);
    expect(() => emitFusedElementwise({ ...base, sums: [{ slot: 1, cols: 6, scale: Infinity }] }, scalarOps)).toThrow(/bad cols or scale/);
    expect(() => emitFusedElementwise({ ...base, sums: [{ slot: 1, cols: 6, scale: 0.25 }] }, scalarOps)).not.toThrow();
  });
});
