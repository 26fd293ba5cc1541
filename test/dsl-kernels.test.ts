/**
 * The primitives of issue 10 in optimized programs: every one runs as WebAssembly (no step of
 * the lowered program falls back to a JavaScript kernel), and the optimized program agrees with
 * the reference interpreter — bit for bit for the block moves, max and its mask, and the exact
 * elementwise ops; within a few float32 roundings for tanh, sigmoid, erf and pow.
 */
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../compiler/ir/builder.js";
import type { Graph } from "../compiler/ir/graph.js";
import { size, type V } from "../compiler/ir/types.js";
import { lowerPlanned } from "../compiler/lower.js";
import { optimize, prepare } from "../compiler/pipeline.js";
import { Arena } from "../runtime/arena.js";
import { planMemory } from "../compiler/plan.js";
import { compileGraph } from "../src/graph.js";
import { maxRelErr, rand } from "./helpers/run.js";

interface Case {
  readonly name: string;
  readonly shapes: readonly (readonly number[])[];
  readonly build: (b: GraphBuilder, xs: readonly V[]) => V;
  /** Bit-exact against the reference (else within `tol` relative to the largest magnitude). */
  readonly exact?: boolean;
  readonly tol?: number;
}

const cases: Case[] = [
  { name: "slice last axis", shapes: [[5, 11]], build: (b, [x]) => b.slice(x!, 1, 3, 10), exact: true },
  { name: "slice first axis", shapes: [[6, 3, 5]], build: (b, [x]) => b.slice(x!, 0, 1, 4), exact: true },
  { name: "slice middle axis", shapes: [[3, 7, 5]], build: (b, [x]) => b.slice(x!, -2, 2, 3), exact: true },
  { name: "pad", shapes: [[3, 7, 5]], build: (b, [x]) => b.pad(x!, 1, 2, 3), exact: true },
  { name: "concat of three", shapes: [[4, 5], [4, 1], [4, 9]], build: (b, xs) => b.concat(xs, 1), exact: true },
  { name: "concat axis 0", shapes: [[2, 3, 5], [1, 3, 5]], build: (b, xs) => b.concat(xs, 0), exact: true },
  { name: "max last axis", shapes: [[7, 13]], build: (b, [x]) => b.max(x!, [1]), exact: true },
  { name: "max axis 0 (strided)", shapes: [[9, 6]], build: (b, [x]) => b.max(x!, [0], true), exact: true },
  { name: "max of everything", shapes: [[5, 7]], build: (b, [x]) => b.max(x!, [0, 1]), exact: true },
  { name: "max over non-contiguous axes", shapes: [[3, 4, 5]], build: (b, [x]) => b.max(x!, [0, 2]), exact: true },
  { name: "max mask, rows", shapes: [[6, 9]], build: (b, [x]) => b.maxMask(x!, [1]), exact: true },
  { name: "max mask, strided", shapes: [[4, 6, 3]], build: (b, [x]) => b.maxMask(x!, [1]), exact: true },
  { name: "abs sign maximum minimum", shapes: [[5, 9], [9]], build: (b, [x, y]) => b.add(b.mul(b.abs(x!), b.sign(y!)), b.minimum(b.maximum(x!, y!), b.scalar(0.3))), exact: true },
  { name: "tanh sigmoid erf", shapes: [[5, 9]], build: (b, [x]) => b.add(b.tanh(x!), b.mul(b.sigmoid(x!), b.erf(x!))), tol: 1e-6 },
  { name: "pow", shapes: [[5, 9]], build: (b, [x]) => b.add(b.pow(b.abs(x!), 1.5), b.pow(x!, 3)), tol: 1e-6 },
  // Ties: inputs rounded to a few values, so maxima repeat.
  { name: "max mask with ties", shapes: [[5, 8]], build: (b, [x]) => b.maxMask(b.sign(x!), [1]), exact: true },
  // Strided groups four at a time in vector lanes (inner 7: one vector of groups and three scalar
  // ones), rows zeroed then scanned to the first maximum; ties (sign) and NaN in the middle of a
  // group (log of a negative) pick the first, as the reference does.
  { name: "max and mask, strided vector groups", shapes: [[3, 5, 7]], build: (b, [x]) => b.add(b.maxMask(x!, [1]), b.max(x!, [1], true)), exact: true },
  { name: "max mask, strided vector groups with ties", shapes: [[3, 5, 7]], build: (b, [x]) => b.maxMask(b.sign(x!), [1]), exact: true },
  { name: "max and mask with NaN inside groups", shapes: [[3, 5, 8]], build: (b, [x]) => b.add(b.add(b.maxMask(b.log(x!), [1]), b.maxMask(b.log(x!), [2])), b.max(b.log(x!), [1], true)), exact: true },
  { name: "max mask, rows with ties and tails", shapes: [[7, 13]], build: (b, [x]) => b.maxMask(b.sign(x!), [1]), exact: true },
  // Groups of 2 or 3 floats: the block read as vectors, lanes combined per column, the last rows
  // as scalars (runtime/wasm/max.ts); NaN (sqrt of x < −2.9: some columns) and ±0; too few rows for a chunk.
  { name: "max over a middle axis, groups of 2", shapes: [[3, 37, 2]], build: (b, [x]) => b.max(x!, [1], true), exact: true },
  { name: "max over a middle axis, groups of 3", shapes: [[4, 29, 3]], build: (b, [x]) => b.max(x!, [1]), exact: true },
  { name: "max over a middle axis, groups of 3 with some NaN", shapes: [[4, 29, 3]], build: (b, [x]) => b.max(b.sqrt(b.add(x!, b.scalar(2.9))), [1]), exact: true },
  { name: "max over a middle axis, groups of 2 with ±0 and ties", shapes: [[2, 21, 2]], build: (b, [x]) => b.max(b.mul(b.sign(x!), b.scalar(0)), [1]), exact: true },
  { name: "max over a middle axis, fewer rows than a chunk", shapes: [[5, 3, 2], [5, 2, 3]], build: (b, [x, z]) => b.concat([b.max(x!, [1]), b.max(z!, [1])], 1), exact: true },
  { name: "max over a middle axis, groups of 37 and 40 (rows streamed into the output), ±0 and some NaN", shapes: [[3, 9, 37], [3, 5, 40]], build: (b, [x, z]) => b.concat([b.max(b.sqrt(b.add(x!, b.scalar(2.9))), [1]), b.max(b.mul(b.sign(z!), b.scalar(0)), [1])], 1), exact: true },
  // The mask over groups wider than 32: one pass keeping each column's maximum and its first row
  // (runtime/wasm/max.ts maskStream): ties (sign), ±0, some NaN, −∞ (log of 0·x), a tail of columns.
  { name: "max mask over a middle axis, groups of 37 with ties and some NaN", shapes: [[3, 9, 37]], build: (b, [x]) => b.add(b.maxMask(b.sign(x!), [1]), b.maxMask(b.sqrt(b.add(x!, b.scalar(2.9))), [1])), exact: true },
  { name: "max mask over a middle axis, groups of 40 with ±0 and −∞", shapes: [[2, 6, 40]], build: (b, [x]) => b.add(b.maxMask(b.mul(b.sign(x!), b.scalar(0)), [1]), b.maxMask(b.log(b.mul(b.abs(b.sign(x!)), b.scalar(0))), [1])), exact: true },
  { name: "max mask over a middle axis, two rows of 33", shapes: [[4, 2, 33]], build: (b, [x]) => b.maxMask(x!, [1]), exact: true },
  { name: "max mask over a middle axis, one row of 36 (every element its column's maximum)", shapes: [[3, 1, 36]], build: (b, [x]) => b.maxMask(x!, [1]), exact: true },
  { name: "max mask over a middle axis, 5 rows of 64", shapes: [[2, 5, 64]], build: (b, [x]) => b.maxMask(x!, [1]), exact: true },
  { name: "max over a middle axis, groups of 16 and 7 (four running maxima)", shapes: [[3, 41, 16], [3, 43, 7]], build: (b, [x, z]) => b.concat([b.max(x!, [1]), b.max(b.log(z!), [1])], 1), exact: true },
  // Rows of 16 or more: four accumulators of 16 floats a step, then 4-float steps and the tail;
  // NaN (log of x < 0) and ±0 (sign·0) anywhere in the row.
  { name: "max last axis, rows of 70", shapes: [[9, 70]], build: (b, [x]) => b.max(x!, [1]), exact: true },
  { name: "max last axis, rows of 37", shapes: [[9, 70]], build: (b, [x]) => b.max(b.slice(x!, 1, 0, 37), [1]), exact: true },
  { name: "max last axis, rows of 70 with NaN", shapes: [[9, 70]], build: (b, [x]) => b.max(b.log(x!), [1]), exact: true },
  { name: "max last axis, rows of 16 with ±0 and ties", shapes: [[6, 16]], build: (b, [x]) => b.max(b.mul(b.sign(x!), b.scalar(0)), [1]), exact: true },
  // Sums over several runs of axes: one sum per run (the builder splits them), each a WebAssembly
  // [outer, n, inner] view; axes apart only by dimensions of size 1 stay one sum.
  { name: "sum over non-contiguous axes", shapes: [[4, 3, 5, 6]], build: (b, [x]) => b.sum(x!, [0, 2]), tol: 1e-6 },
  { name: "sum over three runs, keepdims", shapes: [[3, 2, 4, 5, 2]], build: (b, [x]) => b.sum(x!, [0, 2, 4], true), tol: 1e-6 },
  { name: "mean over non-contiguous axes", shapes: [[4, 3, 5, 6]], build: (b, [x]) => b.mean(x!, [-1, 1]), tol: 1e-6 },
  { name: "sum over axes apart by a size-1 axis", shapes: [[4, 1, 5]], build: (b, [x]) => b.sum(x!, [0, 2]), tol: 1e-6 },
  // What the fusing passes leave of log_softmax and normalize (a graph built by hand): primitives
  // (expandNormalizations), against the JavaScript kernels' float64 formulas.
  { name: "log_softmax on its own, last axis", shapes: [[6, 37]], build: (b, [x]) => b.logSoftmax(x!, 1), tol: 2e-6 },
  { name: "log_softmax, first axis", shapes: [[37, 5]], build: (b, [x]) => b.logSoftmax(x!, 0), tol: 2e-6 },
  { name: "log_softmax of a rank-3 tensor, middle axis", shapes: [[3, 9, 5]], build: (b, [x]) => b.logSoftmax(x!, 1), tol: 2e-6 },
  // A softmax, exp(log_softmax): expanded to exp(s) / Σ exp(s), one exp an element.
  { name: "softmax, last axis", shapes: [[6, 37]], build: (b, [x]) => b.exp(b.logSoftmax(b.mul(x!, b.scalar(20)), 1)), tol: 2e-6 },
  { name: "softmax of a rank-3 tensor, middle axis", shapes: [[3, 9, 2]], build: (b, [x]) => b.exp(b.logSoftmax(x!, -2)), tol: 2e-6 },
  { name: "log_softmax of large values (the shift)", shapes: [[4, 7]], build: (b, [x]) => b.logSoftmax(b.mul(x!, b.scalar(40)), -1), tol: 2e-6 },
  { name: "normalize of a rank-3 tensor, middle axis", shapes: [[3, 9, 5]], build: (b, [x]) => b.normalize(x!, 1, 1e-5), tol: 1e-5 },
  { name: "normalize of a rank-3 tensor, last axis", shapes: [[3, 4, 33]], build: (b, [x]) => b.normalize(x!, -1, 1e-3), tol: 1e-5 },
];

/** The kernels of the optimized program's steps that run JavaScript, as the executor prepared them. */
const javascriptKernels = (g: Graph) => {
  const arena = new Arena(1);
  try {
    return prepare(optimize(g, "graph"), arena, "graph").executor.steps.filter((s) => !s.wasm).map((s) => s.kernel);
  } finally {
    arena.release();
  }
};

describe("issue 10 primitives in optimized programs", () => {
  for (const c of cases) {
    it(c.name, () => {
      const b = new GraphBuilder();
      const xs = c.shapes.map((shape, i) => b.input(`x${i}`, "data", { shape, dtype: "f32" }));
      b.output("y", "probe", c.build(b, xs));
      const g = b.build();
      // Every step of the optimized program is a WebAssembly module, data movement included.
      expect(javascriptKernels(g)).toEqual([]);
      const fast = compileGraph(g), ref = compileGraph(g, { optimize: false });
      const r = rand(c.name.length);
      for (let trial = 0; trial < 3; trial++) {
        c.shapes.forEach((shape, i) => {
          const v = Float32Array.from({ length: size(shape) }, () => (r() - 0.5) * 6);
          if (trial === 2) v[0] = NaN;
          fast.input(`x${i}`).set(v);
          ref.input(`x${i}`).set(v);
        });
        fast.run();
        ref.run();
        const a = fast.output("y"), e = ref.output("y");
        if (c.exact) expect(Array.from(a), `trial ${trial}`).toEqual(Array.from(e));
        else expect(maxRelErr(a, e, 1), `trial ${trial}`).toBeLessThan(c.tol!);
      }
    });
  }
});

describe("softmax as exp(log_softmax)", () => {
  const opsOf = (build: (b: GraphBuilder, x: V) => V) => {
    const b = new GraphBuilder();
    b.output("y", "probe", build(b, b.input("x", "data", { shape: [4, 5, 3], dtype: "f32" })));
    const ops: string[] = [];
    for (const n of optimize(b.build(), "graph").nodes) {
      ops.push(n.op);
      if (n.op === "fused_elementwise") ops.push(...n.attrs.code.map((c) => c.op));
    }
    return ops;
  };
  it("takes one exp an element and divides by the sum, along any axis", () => {
    for (const axis of [0, 1, 2, -1]) {
      const ops = opsOf((b, x) => b.exp(b.logSoftmax(x, axis)));
      expect(ops.filter((o) => o === "exp"), `axis ${axis}`).toHaveLength(1);
      expect(ops, `axis ${axis}`).toContain("div");
      expect(ops, `axis ${axis}`).not.toContain("log");
    }
  });
  it("leaves a log_softmax read otherwise, and an unshifted hand-written one, as they are", () => {
    expect(opsOf((b, x) => b.exp(b.mul(b.logSoftmax(x, 1), b.scalar(2))))).toContain("log");
    const unshifted = opsOf((b, x) => b.exp(b.sub(x, b.log(b.sum(b.exp(x), [1], true)))));
    expect(unshifted.filter((o) => o === "exp")).toHaveLength(2);
  });
});

describe("one_hot and a stored dropout mask in WebAssembly", () => {
  // Neither is fused here: one_hot is read by a sum, the mask is an output and a product's operand.
  const b = new GraphBuilder();
  const labels = b.input("labels", "labels", { shape: [9], dtype: "i32" }), step = b.input("step", "scalar", { shape: [], dtype: "i32" });
  const x = b.input("x", "data", { shape: [9, 6], dtype: "f32" });
  const mask = b.dropoutMask(step, [9, 6], 0.4, 7, 2);
  b.output("onehot", "probe", b.oneHot(labels, 6));
  b.output("mask", "probe", mask);
  b.output("masked", "probe", b.matmul(mask, x, true, false));
  const g = b.build();

  it("runs no JavaScript kernel", () => expect(javascriptKernels(g)).toEqual([]));

  it("agrees with the reference bit for bit (labels out of range give a row of zeros)", () => {
    const fast = compileGraph(g), ref = compileGraph(g, { optimize: false });
    for (const [k, s] of [[0, 3], [1, 11]]) {
      const l = Int32Array.from([0, 5, 6, -1, 3, 3, 2 ** 31 - 1, -(2 ** 31), 1].map((v, i) => (i === k ? 4 : v)));
      const xv = Float32Array.from({ length: 54 }, (_, i) => Math.sin(i));
      for (const p of [fast, ref]) {
        p.input("labels").set(l); (p.input("step") as Int32Array)[0] = s!; p.input("x").set(xv);
        p.run();
      }
      for (const o of ["onehot", "mask"]) expect(Array.from(fast.output(o)), `${o}, step ${s}`).toEqual(Array.from(ref.output(o)));
      expect(maxRelErr(fast.output("masked"), ref.output("masked"), 1), "the product of the stored mask").toBeLessThan(1e-6);
      expect(Array.from(fast.output("onehot")).slice(6 * 3, 6 * 4), "label −1").toEqual([0, 0, 0, 0, 0, 0]);
    }
  });
});

describe("broadcast_to in WebAssembly", () => {
  // Read by a matmul or a reduction (not absorbed into a fused loop), so the broadcast is its own
  // step. Each view: rows copied (trailing axes kept) or splatted (trailing axes broadcast).
  const shapes: [string, number[], number[]][] = [
    ["[1, n] → [B, n] (a bias row)", [1, 7], [9, 7]],
    ["[B, 1] → [B, n] (a column)", [9, 1], [9, 7]],
    ["[n] → [B, n]", [7], [9, 7]],
    ["scalar → [B, n]", [], [5, 6]],
    ["[a, 1, c] → [a, b, c]", [3, 1, 5], [3, 4, 5]],
    ["[1, b, 1] → [a, b, c]", [1, 4, 1], [3, 4, 5]],
    ["[a, 1, c, 1] → [a, b, c, d] (four runs)", [2, 1, 3, 1], [2, 3, 3, 2]],
    ["[1, b, 1, d, 1] → [a, b, c, d, e] (five runs, rows splatted)", [1, 2, 1, 3, 1], [4, 2, 5, 3, 2]],
    ["[a, 1, c, 1, e] → [a, b, c, d, e] (five runs, rows copied)", [2, 1, 3, 1, 6], [2, 4, 3, 5, 6]],
  ];
  for (const [name, from, to] of shapes) {
    it(name, () => {
      const b = new GraphBuilder();
      const x = b.input("x", "data", { shape: from, dtype: "f32" });
      const y = b.broadcastTo(x, to);
      b.output("y", "probe", y);
      b.output("s", "probe", b.sum(b.mul(y, y), [0]));
      const g = b.build();
      const p = lowerPlanned(optimize(g), planMemory(optimize(g)));
      const step = p.steps.find((s) => s.kernel === "broadcast")!;
      expect(step.wasm !== undefined, "runs in WebAssembly").toBe(true);
      const fast = compileGraph(g), ref = compileGraph(g, { optimize: false });
      const r = rand(name.length);
      const v = Float32Array.from({ length: size(from) }, () => (r() - 0.5) * 6);
      fast.input("x").set(v); ref.input("x").set(v);
      fast.run(); ref.run();
      expect(Array.from(fast.output("y"))).toEqual(Array.from(ref.output("y")));
    });
  }
});

describe("ops of many inputs (engines refuse a WebAssembly function of more than 1,000 parameters)", () => {
  it("a concat of 2,048 tensors is a concat of concats, and a sum or product of 1,100 slices several loops: they compile and compute what the reference does", () => {
    const cases: [string, number, number, (b: GraphBuilder, x: V) => V][] = [
      ["concat of 2,048", 3, 3 * 2048, (b, x) => b.concat(Array.from({ length: 2048 }, (_, i) => (i % 2 ? b.neg(x) : x)), 1)],
      ["sum of 1,100 slices", 1200, 1, (b, x) => Array.from({ length: 1099 }, (_, i) => b.slice(x, 1, i + 1, i + 2)).reduce((acc, s) => b.add(acc, s), b.slice(x, 1, 0, 1))],
      ["product of 1,100 tanh(slices)", 1200, 1, (b, x) => Array.from({ length: 1099 }, (_, i) => b.tanh(b.slice(x, 1, i + 1, i + 2))).reduce((acc, s) => b.mul(acc, b.add(s, b.scalar(1))), b.slice(x, 1, 0, 1))],
    ];
    for (const [name, n, out, f] of cases) {
      const b = new GraphBuilder();
      const x = b.input("x", "data", { shape: [2, n], dtype: "f32" });
      const y = f(b, x);
      expect(b.type(y).shape, name).toEqual([2, out]);
      b.output("y", "probe", y);
      const g = b.build();
      expect(javascriptKernels(g), name).toEqual([]);
      const fast = compileGraph(g), ref = compileGraph(g, { optimize: false });
      const r = rand(n);
      const v = Float32Array.from({ length: 2 * n }, () => (r() - 0.5) * 0.5);
      fast.input("x").set(v); ref.input("x").set(v);
      fast.run(); ref.run();
      expect(maxRelErr(fast.output("y"), ref.output("y")), name).toBeLessThan(1e-5);
    }
  });
});
