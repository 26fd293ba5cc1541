/**
 * compile() stays linear in a model's depth (issue 11: the lecture's 50-layer net took 0.4 s).
 * No timing is asserted: the tests count work that used to grow with depth × parameters, and hold
 * the linear-time rewrites of toposort and DCE to the simple quadratic algorithms they replace.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { GraphBuilder } from "../compiler/ir/builder.js";
import type { Graph, Node } from "../compiler/ir/graph.js";
import type { V } from "../compiler/ir/types.js";
import { dce } from "../compiler/passes/dce.js";
import { toposort } from "../compiler/passes/toposort.js";
import { cse } from "../compiler/passes/cse.js";
import { foldBatchNorm } from "../compiler/passes/foldBatchNorm.js";
import { rewrite } from "../compiler/passes/rewrite.js";
import { simplify } from "../compiler/passes/simplify.js";
import { printIR } from "../compiler/ir/print.js";
import { lower } from "../compiler/lower.js";
import { Executor } from "../runtime/executor.js";
import { kernels } from "../runtime/kernels/index.js";
import { GraphError } from "../runtime/errors.js";
import { fillNormal, fillUniform, philox } from "../runtime/rng.js";
import { rand as rng } from "./helpers/run.js";
import { batchNorm, compile, dropout, layerNorm, linear, relu, residual, seq, sgd, softmaxCrossEntropy, type LayerNode } from "../src/index.js";

const lecture = (depth: number): LayerNode =>
  seq(linear(20, 10), relu, ...Array.from({ length: depth - 2 }, () => [linear(10, 10), relu]).flat(), linear(10, 3)) as LayerNode;

describe("compile() does work linear in depth", () => {
  afterEach(() => vi.restoreAllMocks());

  it("prepares each kernel call of the train and gradient programs a bounded number of times", () => {
    // Binding the parameters one at a time re-prepared every step per parameter: 2·depth + 1 times.
    const spy = vi.spyOn(kernels.linear, "prepare");
    for (const depth of [4, 16]) {
      spy.mockClear();
      const net = compile(lecture(depth), { inputs: 20, batch: 8, seed: 0, threads: 1, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: 0.1, momentum: 0.9 }) });
      const steps = [...net.programs().values()].reduce((s, p) => s + p.steps.filter((x) => x.kernel === "linear").length, 0);
      expect(steps).toBeGreaterThanOrEqual(depth);
      // Once when the executor is made, once when the parameters are bound.
      expect(spy.mock.calls.length).toBe(2 * steps);
      net.dispose();
    }
  });
});

describe("Executor.bindAll", () => {
  it("binds many inputs at once and, given one bad pair, binds none", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", { shape: [2], dtype: "f32" }), w = b.input("w", "param", { shape: [2], dtype: "f32" });
    const c = b.input("c", "param", { shape: [2], dtype: "f32" });
    b.output("y", "logits", b.add(b.mul(x, w), c));
    const exec = new Executor(lower(b.build()));
    exec.input("x").set([1, 2]);
    const W = Float32Array.of(3, 4), C = Float32Array.of(10, 20);
    expect(() => exec.bindAll([["w", W], ["c", new Float32Array(3)]])).toThrow(/cannot bind "c": expected Float32Array\(2\), got Float32Array\(3\)/);
    expect(() => exec.bindAll([["w", W], ["nope", C]])).toThrow(/no input named "nope"/);
    exec.run();
    expect(Array.from(exec.output("y"))).toEqual([0, 0]); // w and c still their own zeroed buffers
    exec.bindAll([["w", W], ["c", C]]);
    exec.run();
    expect(Array.from(exec.output("y"))).toEqual([13, 28]);
  });
});

/** The algorithm toposort replaces: take the first waiting node whose inputs all exist (quadratic). */
function toposortByScan(g: Graph): Graph {
  const defined = new Set<V>(g.inputs.map((i) => i.value));
  const waiting: Node[] = [...g.nodes];
  const out: Node[] = [];
  while (waiting.length > 0) {
    const k = waiting.findIndex((n) => n.inputs.every((v) => defined.has(v)));
    if (k < 0) throw new GraphError("toposort: the graph has a cycle");
    const [n] = waiting.splice(k, 1);
    out.push(n!);
    for (const v of n!.outputs) defined.add(v);
  }
  return { ...g, nodes: out };
}

/** The DCE it replaces: sets and maps keyed by value. */
function dceByMaps(g: Graph): Graph {
  const live = new Set<V>(g.outputs.map((o) => o.value));
  const keep: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((v) => live.has(v))) continue;
    keep.push(n);
    for (const v of n.inputs) live.add(v);
  }
  keep.reverse();
  const renumber = new Map<V, V>();
  const values = [...g.inputs.map((i) => i.value), ...keep.flatMap((n) => n.outputs)].map((v, k) => {
    renumber.set(v, k);
    return g.values[v]!;
  });
  const r = (v: V) => renumber.get(v)!;
  return {
    values,
    inputs: g.inputs.map((i) => ({ ...i, value: r(i.value) })),
    nodes: keep.map((n) => ({ ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) }) as Node),
    outputs: g.outputs.map((o) => ({ ...o, value: r(o.value) })),
  };
}

/** A random DAG of adds and negations (some dead), its nodes shuffled out of SSA order. */
function randomGraph(r: () => number): Graph {
  const b = new GraphBuilder();
  const vs: V[] = [];
  for (let i = 0; i < 1 + Math.floor(r() * 4); i++) vs.push(b.input(`x${i}`, "data", { shape: [3], dtype: "f32" }));
  const nodes = 1 + Math.floor(r() * 40);
  for (let i = 0; i < nodes; i++) {
    const pick = () => vs[Math.floor(r() * vs.length)]!;
    vs.push(r() < 0.3 ? b.neg(pick()) : b.add(pick(), pick()));
  }
  for (let i = 0, outs = 1 + Math.floor(r() * 3); i < outs; i++) b.output(`y${i}`, "logits", vs[vs.length - 1 - Math.floor(r() * Math.min(5, nodes))]!);
  const g = b.build();
  const shuffled = [...g.nodes];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  return { ...g, nodes: shuffled };
}

describe("linear-time toposort and DCE", () => {
  it("give exactly the results of the algorithms they replace (300 random graphs)", () => {
    const r = rng(11);
    for (let k = 0; k < 300; k++) {
      const g = randomGraph(r);
      const sorted = toposort(g);
      expect(sorted).toEqual(toposortByScan(g));
      // Same nodes (objects) in the same order, not only equal ones.
      sorted.nodes.forEach((n, i) => expect(n).toBe(toposortByScan(g).nodes[i]));
      expect(dce(sorted)).toEqual(dceByMaps(sorted));
    }
  });

  it("reports a cycle as before", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", { shape: [3], dtype: "f32" });
    const y = b.neg(x), z = b.neg(y);
    b.output("z", "logits", z);
    const g = b.build();
    const [ny, nz] = g.nodes as [Node, Node];
    const cyclic: Graph = { ...g, nodes: [{ ...ny, inputs: [z] } as Node, nz] };
    expect(() => toposort(cyclic)).toThrow("toposort: the graph has a cycle");
    expect(() => toposortByScan(cyclic)).toThrow("toposort: the graph has a cycle");
  });
});

/** The Philox and Box–Muller of runtime/rng.ts before it was made faster: 16-bit-half products, a uniform buffer. */
const reference = (() => {
  const M0 = 0xd2511f53, M1 = 0xcd9e8d57, W0 = 0x9e3779b9, W1 = 0xbb67ae85;
  const mulhi = (a: number, b: number) => {
    const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
    const mid = a1 * b0 + a0 * b1 + Math.floor((a0 * b0) / 65536);
    return (a1 * b1 + Math.floor(mid / 65536)) >>> 0;
  };
  const philox = (c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array) => {
    for (let round = 0; round < 10; round++) {
      const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
      const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
      c0 = (hi1 ^ c1 ^ k0) >>> 0; c1 = lo1; c2 = (hi0 ^ c3 ^ k1) >>> 0; c3 = lo0;
      k0 = (k0 + W0) >>> 0; k1 = (k1 + W1) >>> 0;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
  };
  const fillUniform = (out: Float32Array | Float64Array, k0: number, k1: number, c1: number) => {
    const block = new Uint32Array(4);
    for (let i = 0; i < out.length; i += 4) {
      philox(i >>> 2, c1 >>> 0, 0, 0, k0 >>> 0, k1 >>> 0, block);
      for (let j = 0; j < Math.min(4, out.length - i); j++) out[i + j] = (block[j]! >>> 8) * 5.9604644775390625e-8;
    }
  };
  const fillNormal = (out: Float32Array | Float64Array, k0: number, k1: number) => {
    const u = new Float64Array(out.length + (out.length & 1));
    fillUniform(u, k0, k1, 0);
    for (let i = 0; i < out.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - u[i]!));
      const theta = 2 * Math.PI * u[i + 1]!;
      out[i] = r * Math.cos(theta);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(theta);
    }
  };
  return { philox, fillUniform, fillNormal };
})();

describe("Philox with one float64 product per high word", () => {
  it("gives the bits of the 16-bit-half products: 200,000 random counters and keys, and the extremes", () => {
    const r = rng(5), u32 = () => Math.floor(r() * 2 ** 32) >>> 0;
    const a = new Uint32Array(4), b = new Uint32Array(4);
    const edges = [0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
    let checked = 0;
    for (const c0 of edges) for (const c2 of edges) {
      philox(c0, 0xffffffff, c2, 0xffffffff, 0xffffffff, 0xffffffff, a);
      reference.philox(c0, 0xffffffff, c2, 0xffffffff, 0xffffffff, 0xffffffff, b);
      expect(Array.from(a)).toEqual(Array.from(b));
    }
    for (let k = 0; k < 200_000; k++) {
      const args = [u32(), u32(), u32(), u32(), u32(), u32()] as const;
      philox(...args, a);
      reference.philox(...args, b);
      if (a[0] !== b[0] || a[1] !== b[1] || a[2] !== b[2] || a[3] !== b[3]) expect([k, ...a]).toEqual([k, ...b]);
      checked++;
    }
    expect(checked).toBe(200_000);
  });

  it("fills uniforms and normals (float32 and float64, odd and even lengths) with the same bits as before", () => {
    // 16,384 elements is one chunk of the WebAssembly words kernel (4,096 blocks): lengths around
    // it and several chunks long, so a chunk's first and last blocks are checked too.
    for (const n of [1, 2, 3, 4, 5, 7, 8, 101, 10_000, 16_383, 16_384, 16_385, 16_386, 50_001]) {
      for (const [k0, k1] of [[0, 0x80000000], [7, 0x80000003], [0xffffffff, 0xffffffff]] as const) {
        for (const T of [Float32Array, Float64Array]) {
          const got = new T(n), want = new T(n);
          fillNormal(got, k0, k1); reference.fillNormal(want, k0, k1);
          expect(got).toEqual(want);
          for (const c1 of [0, 9, 0xffffffff]) {
            fillUniform(got, k0, k1, c1); reference.fillUniform(want, k0, k1, c1);
            expect(got).toEqual(want);
          }
        }
      }
    }
  });
});

describe("a pass that changes nothing returns its (canonical) input", () => {
  it("equals what the full rewrite, DCE and CSE make from a copy of it, key order and provenance included", () => {
    let compared = 0;
    for (const model of [lecture(6), seq(linear(20, 16), layerNorm(16), relu, dropout(0.2), linear(16, 3)) as LayerNode,
      seq(residual(seq(linear(20, 20), batchNorm(20), relu) as never), linear(20, 3)) as LayerNode]) {
      const net = compile(model, { inputs: 20, batch: 8, seed: 0, threads: 1, optimize: false, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: 0.1, momentum: 0.9 }) });
      for (const g of [net.ir.train, net.ir.backward, net.ir.eval]) {
        const settled = cse(simplify(g)); // made by rewrite: canonical
        for (const pass of [simplify, cse, dce, foldBatchNorm, (x: Graph) => rewrite(x, [])]) {
          const same = pass(settled);
          if (same !== settled) continue; // the pass changed something: nothing to compare
          const full = pass({ ...settled }); // a copy is not known canonical: the whole rewrite runs
          expect(full).not.toBe(settled);
          expect(JSON.stringify(full)).toBe(JSON.stringify(settled));
          expect(printIR(full, { origins: true })).toBe(printIR(settled, { origins: true }));
          compared++;
        }
      }
      net.dispose();
    }
    expect(compared).toBeGreaterThanOrEqual(30); // of 45: simplify or CSE may still find work
  });

  it("is taken by the passes that find nothing to do in the lecture net", () => {
    const net = compile(lecture(6), { inputs: 20, batch: 8, seed: 0, threads: 1, optimize: false, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: 0.1 }) });
    const settled = cse(simplify(net.ir.train)); // the pipeline's start
    expect(cse(settled)).toBe(settled);
    expect(dce(settled)).toBe(settled);
    expect(foldBatchNorm(settled)).toBe(settled);
    net.dispose();
  });
});
