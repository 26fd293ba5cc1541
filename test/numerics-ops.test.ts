/**
 * checkNumerics op by op (src/numerics.ts): for every op kind of the IR, fused kernels included,
 * an input that makes it produce NaN or ±∞ is reported at that op, with the layer path its node
 * records — on hand-built graphs (every op, as given and optimized) and through compile() (the
 * provenance that tracing, autodiff and the passes carry).
 */
import { describe, expect, it } from "vitest";
import { ops, type OpName } from "../compiler/ops/index.js";
import type { V } from "../compiler/ir/types.js";
import {
  batchNorm, compile, compileGraph, dropout, GraphBuilder, layerNorm, linear, mse, NumericsError, relu, residual, seq, sgd,
  type LayerNode,
} from "../src/index.js";
import { checkedOutputs } from "../src/numerics-skip.js";

const catchNumerics = (f: () => unknown): NumericsError => {
  try { f(); } catch (e) { if (e instanceof NumericsError) return e; throw e; }
  throw new Error("expected a NumericsError, nothing was thrown");
};

// ---------------------------------------------------------------------------------------------
// Every op on a hand-built graph: inputs a [2,3], b (shape per case), the op under test recorded
// as layer "7.fn.2".

const BIG = 3e38;
interface OpCase {
  /** Inputs' shapes (default a: [2,3]) and values (one per element, or one for all). */
  readonly a?: { shape?: number[]; v: number | number[] };
  readonly b?: { shape: number[]; v: number | number[] };
  /** An int32 input "l" (labels, the dropout step). */
  readonly i?: { shape: number[]; v: number };
  readonly build: (g: GraphBuilder, a: V, b: V | undefined, l: V | undefined) => V;
  /** Why a finite input cannot make it non-finite (then a is given a NaN, and the op passes it on). */
  readonly propagates?: string;
  /** Its output is finite whatever the input: a NaN beside it is reported at the op that reads both. */
  readonly absorbs?: string;
  /** The reference kernel computes in float64 and stays finite; only the optimized kernel overflows. */
  readonly exactReference?: boolean;
  /** Optimized, it is written with these primitives (compiler/passes/expandNormalizations.ts); one of them is named. */
  readonly expandsTo?: readonly string[];
}

const fill = (n: number, v: number | number[]) => Float32Array.from({ length: n }, (_, i) => (Array.isArray(v) ? v[i % v.length]! : v));
const NAN_IN = { v: [1, NaN, 2] };

const CASES: Record<OpName, OpCase> = {
  add: { a: { v: BIG }, b: { shape: [2, 3], v: BIG }, build: (g, a, b) => g.add(a, b!) },
  sub: { a: { v: BIG }, b: { shape: [2, 3], v: -BIG }, build: (g, a, b) => g.sub(a, b!) },
  mul: { a: { v: 1e20 }, b: { shape: [2, 3], v: 1e20 }, build: (g, a, b) => g.mul(a, b!) },
  div: { a: { v: 1 }, b: { shape: [2, 3], v: 0 }, build: (g, a, b) => g.div(a, b!) },
  exp: { a: { v: 100 }, build: (g, a) => g.exp(a) },
  log: { a: { v: 0 }, build: (g, a) => g.log(a) },
  sqrt: { a: { v: -1 }, build: (g, a) => g.sqrt(a) },
  rsqrt: { a: { v: 0 }, build: (g, a) => g.rsqrt(a) },
  pow: { a: { v: 1e20 }, build: (g, a) => g.pow(a, 2) },
  sum: { a: { v: BIG }, build: (g, a) => g.sum(a, [1]) },
  // Float64 accumulation: the mean of finite float32 values is finite.
  mean: { a: NAN_IN, build: (g, a) => g.mean(a, [1]), propagates: "a float64 mean of float32 values" },
  matmul: { a: { v: 1e20 }, b: { shape: [3, 2], v: 1e20 }, build: (g, a, b) => g.matmul(a, b!) },
  log_softmax: { a: { v: [BIG, -BIG, 0] }, build: (g, a) => g.logSoftmax(a, 1), expandsTo: ["max", "sub", "exp", "sum", "log"] },
  normalize: { a: { v: [BIG, -BIG, BIG] }, build: (g, a) => g.normalize(a, 1, 1e-5), exactReference: true },
  linear: { a: { v: 1e20 }, b: { shape: [2, 3], v: 1e20 }, build: (g, a, b) => g.emit("linear", [a, b!, g.constant(0, [2])], { transA: false, transB: true, relu: true }) },
  fused_elementwise: {
    a: { v: 1e20 }, b: { shape: [2, 3], v: 1e20 },
    build: (g, a, b) => g.emitMulti("fused_elementwise", [a, b!], { shape: [2, 3], code: [{ op: "mul", args: [0, 1], num: [] }, { op: "exp", args: [2], num: [] }], outputs: [3], sums: [] })[0]!,
  },
  norm_forward: { a: { v: [BIG, -BIG, BIG] }, build: (g, a) => g.emitMulti("norm_forward", [a], { axis: 1, eps: 1e-5, affine: false, xhat: false, y: true })[0]! },
  norm_backward: {
    a: { v: [BIG, -BIG, BIG] }, b: { shape: [2, 3], v: [0, 1, 2] },
    // dx = rstd·(dy − mean(dy) − x̂·mean(dy·x̂)) with rstd = 10: 10·(3e38 − …) overflows.
    build: (g, dy, x) => g.emitMulti("norm_backward", [dy, x!, g.constant(1, [2, 1]), g.constant(10, [2, 1])], { axis: 1, affine: false })[0]!,
  },
  softmax_xent: {
    a: { v: [BIG, -BIG, 0] }, i: { shape: [2], v: 1 },
    build: (g, z, _b, l) => g.emitMulti("softmax_xent", [z, l!], { scale: -0.5, gradScale: -0.5 })[0]!,
  },
  // Ops whose output is finite whenever their input is: they can only pass a NaN on.
  neg: { a: NAN_IN, build: (g, a) => g.neg(a), propagates: "−x" },
  // relu(NaN) is NaN, as PyTorch's (x < 0 ? 0 : x): a NaN does not stop at a relu.
  relu: { a: NAN_IN, build: (g, a) => g.relu(a), propagates: "x < 0 ? 0 : x" },
  step: { a: NAN_IN, build: (g, a) => g.add(g.step(a), a), absorbs: "0 or 1" },
  tanh: { a: NAN_IN, build: (g, a) => g.tanh(a), propagates: "bounded" },
  sigmoid: { a: NAN_IN, build: (g, a) => g.sigmoid(a), propagates: "bounded" },
  erf: { a: NAN_IN, build: (g, a) => g.erf(a), propagates: "bounded" },
  abs: { a: NAN_IN, build: (g, a) => g.abs(a), propagates: "|x|" },
  detach: { a: NAN_IN, build: (g, a) => g.detach(a), propagates: "x itself" },
  // sign(NaN) = 0, as PyTorch's.
  sign: { a: NAN_IN, build: (g, a) => g.add(g.sign(a), a), absorbs: "−1, 0 or 1" },
  maximum: { a: NAN_IN, b: { shape: [2, 3], v: 0 }, build: (g, a, b) => g.maximum(a, b!), propagates: "one of its inputs" },
  minimum: { a: NAN_IN, b: { shape: [2, 3], v: 0 }, build: (g, a, b) => g.minimum(a, b!), propagates: "one of its inputs" },
  keep: { a: NAN_IN, b: { shape: [2, 3], v: 1 }, build: (g, a, b) => g.keep(a, b!, 1), propagates: "its input, where kept" },
  max: { a: NAN_IN, build: (g, a) => g.max(a, [1]), propagates: "one of its inputs" },
  max_mask: { a: NAN_IN, build: (g, a) => g.mul(g.broadcastTo(g.maxMask(a, [1]), [2, 3]), a), absorbs: "0 or 1" },
  constant: { a: NAN_IN, build: (g, a) => g.add(g.constant(2, [2, 3]), a), absorbs: "a literal" },
  reshape: { a: NAN_IN, build: (g, a) => g.reshape(a, [3, 2]), propagates: "moves values" },
  transpose: { a: NAN_IN, build: (g, a) => g.transpose(a, [1, 0]), propagates: "moves values" },
  tril: { a: NAN_IN, build: (g, a) => g.tril(a, 1, false), propagates: "moves values" },
  broadcast_to: { a: { shape: [3], v: [1, NaN, 2] }, build: (g, a) => g.broadcastTo(a, [2, 3]), propagates: "moves values" },
  slice: { a: NAN_IN, build: (g, a) => g.slice(a, 1, 1, 3), propagates: "moves values" },
  pad: { a: NAN_IN, build: (g, a) => g.pad(a, 1, 1, 1), propagates: "moves values" },
  concat: { a: NAN_IN, b: { shape: [2, 3], v: 0 }, build: (g, a, b) => g.concat([a, b!], 1), propagates: "moves values" },
  one_hot: { a: NAN_IN, i: { shape: [2], v: 1 }, build: (g, a, _b, l) => g.add(g.oneHot(l!, 3), a), absorbs: "0 or 1" },
  dropout_mask: { a: NAN_IN, i: { shape: [], v: 0 }, build: (g, a, _b, l) => g.mul(g.dropoutMask(l!, [2, 3], 0.5, 1, 0), a), absorbs: "0 or 1/(1 − p)" },
};

/** Does the reported op stand for `op` (itself, or a fused kernel that fused it)? */
const standsFor = (e: NumericsError, op: string) => e.op === op || e.fused.some((p) => p === op || p.startsWith(`${op} `));

describe("checkNumerics names the op that made the first non-finite value", () => {
  it("has a case for every op of the IR", () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(ops).sort());
  });

  for (const [op, c] of Object.entries(CASES) as [OpName, OpCase][]) {
    const note = c.propagates ? ` (passes a NaN on: ${c.propagates})` : c.absorbs ? ` (never non-finite: ${c.absorbs}; the op reading it is named)` : "";
    it(`${op}${note}`, () => {
      const g = new GraphBuilder();
      const aShape = c.a?.shape ?? [2, 3];
      const a = g.input("a", "data", { shape: aShape, dtype: "f32" });
      const b = c.b ? g.input("b", "data", { shape: c.b.shape, dtype: "f32" }) : undefined;
      const l = c.i ? g.input("l", "labels", { shape: c.i.shape, dtype: "i32" }) : undefined;
      g.output("y", "logits", g.withOrigin(["forward@7.fn.2"], () => c.build(g, a, b, l)));
      const graph = g.build();
      expect(graph.nodes.some((n) => n.op === op)).toBe(true);
      for (const optimize of [false, true]) {
        const p = compileGraph(graph, { optimize, checkNumerics: true, threads: 1 });
        p.input("a").set(fill(aShape.reduce((x, y) => x * y, 1), c.a!.v));
        if (c.b) p.input("b").set(fill(c.b.shape.reduce((x, y) => x * y, 1), c.b.v));
        if (c.i) p.input("l").fill(c.i.v);
        if (c.exactReference && !optimize) {
          expect(() => p.run()).not.toThrow();
          continue;
        }
        const e = catchNumerics(() => p.run());
        // Optimized, the op may be folded into a fused kernel (or a cheaper op: reshape of a
        // broadcast, a slice of a pad …); as given, it is the op itself.
        if (c.absorbs) {
          expect(e.op).not.toBe(op);
          expect(e.equation).toMatch(/= (add|mul|fused_elementwise)/);
        } else if (!optimize) expect(e.op).toBe(op);
        if (optimize && !c.propagates && !c.absorbs) {
          expect([op, ...(c.expandsTo ?? [])].some((o) => standsFor(e, o)), `${e.op} [${e.fused.join(", ")}]`).toBe(true);
        }
        expect(e.layerPath).toBe("7.fn.2");
        expect(e.layer).toBe("seq[7].fn[2]");
        expect(e.message).toContain(e.equation);
        if (c.propagates || c.absorbs) expect(e.message).toMatch(/inputs: .*a:f32\[[\d,]+\] [^;\n]*\d+ not finite/);
        else expect(e.message).not.toMatch(/not finite/);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Through compile(): the layer path each kernel records, forward, loss, backward, optimizer.

interface ModelCase {
  readonly name: string;
  readonly model: LayerNode;
  readonly inputs: number;
  readonly batch: number;
  readonly loss?: "mse";
  readonly optimizer?: ReturnType<typeof sgd>;
  /** Set parameters (by name) before the step: a function of the element index. */
  readonly params: Record<string, (i: number) => number>;
  /** x: one value, or one per sample (row). */
  readonly x: number | number[];
  readonly labels?: number;
  /** What the error must say: program, layer path (null: not a layer), the op as given / optimized. */
  readonly want: { program: string; layerPath: string | null; layer: RegExp; op: [string | null, string] };
}

const MODEL_CASES: ModelCase[] = [
  {
    name: "a linear's product, forward", model: seq(linear(4, 4), relu, linear(4, 4)), inputs: 4, batch: 2,
    params: { "2.weight": () => 1e30, "0.weight": () => 1e5 }, x: 1e4,
    want: { program: "train", layerPath: "2", layer: /^seq\[2\] linear\(4→4\)$/, op: ["matmul", "linear"] },
  },
  {
    name: "a residual's sum", model: seq(linear(4, 4), residual(linear(4, 4))), inputs: 4, batch: 2,
    params: { "0.weight": () => 5e37, "0.bias": () => 0, "1.fn.weight": (i) => (i % 5 === 0 ? 1 : 0), "1.fn.bias": () => 0 }, x: 1,
    want: { program: "train", layerPath: "1", layer: /^seq\[1\] residual\(linear\(4→4\)\)$/, op: ["add", "fused_elementwise"] },
  },
  {
    name: "layerNorm's statistics", model: seq(linear(4, 4), layerNorm(4)), inputs: 4, batch: 2,
    // h = (3e38, −3e38, 3e38, −3e38): x − μ overflows in float32; the float64 reference normalize
    // stays finite and its backward overflows instead.
    params: { "0.weight": (i) => (Math.floor(i / 4) % 2 ? -7.5e37 : 7.5e37), "0.bias": () => 0 }, x: 1,
    want: { program: "train", layerPath: "1", layer: /^seq\[1\] layerNorm\(4\)(, backward)?$/, op: [null, "norm_forward"] },
  },
  {
    name: "batchNorm's statistics", model: seq(linear(4, 4), batchNorm(4)), inputs: 4, batch: 2,
    // Samples ±1: h = ±3e38 down each column, so the batch statistics overflow.
    params: { "0.weight": () => 7.5e37, "0.bias": () => 0 }, x: [1, -1],
    want: { program: "train", layerPath: "1", layer: /^seq\[1\] batchNorm\(4\)$/, op: [null, "norm_forward"] },
  },
  {
    name: "dropout's scaling by 1/(1 − p)", model: seq(linear(4, 4), dropout(0.5)), inputs: 4, batch: 8,
    params: { "0.weight": () => 7.5e37, "0.bias": () => 0 }, x: 1,
    want: { program: "train", layerPath: "1", layer: /^seq\[1\] dropout\(0\.5\)$/, op: ["mul", "fused_elementwise"] },
  },
  {
    name: "softmax cross-entropy", model: seq(linear(4, 2)), inputs: 4, batch: 2, labels: 1,
    params: { "0.weight": (i) => (i < 4 ? 5e37 : -5e37), "0.bias": () => 0 }, x: 1,
    want: { program: "train", layerPath: null, layer: /^the loss softmaxCrossEntropy$/, op: ["log_softmax", "softmax_xent"] },
  },
  {
    name: "mse", model: seq(linear(4, 2)), inputs: 4, batch: 2, loss: "mse",
    params: { "0.weight": () => 5e37, "0.bias": () => 0 }, x: 1,
    // Optimized, the loss's mean is fused into the loop that also makes the bias gradient's sum.
    want: { program: "train", layerPath: null, layer: /^the loss mse( \(fused with seq\[0\] linear\(4→2\), backward\))?$/, op: ["mul", "fused_elementwise"] },
  },
  {
    // h = relu(−1) = 0 keeps the forward finite; dh = dy·W with dy = p − onehot = (−¾, ¼, ¼, ¼).
    name: "a linear's input gradient, backward", model: seq(linear(4, 4), relu, linear(4, 4)), inputs: 4, batch: 1, labels: 0,
    params: { "0.weight": () => 0, "0.bias": () => -1, "2.weight": (i) => (i < 4 ? -3e38 : 3e38), "2.bias": () => 0 }, x: 1,
    want: { program: "train", layerPath: "2", layer: /^seq\[2\] linear\(4→4\), backward$/, op: ["matmul", "matmul"] },
  },
  {
    name: "the optimizer's update", model: seq(linear(4, 4)), inputs: 4, batch: 2, optimizer: sgd({ lr: 1e38 }), labels: 0,
    params: {}, x: 100,
    want: { program: "train", layerPath: "0", layer: /^seq\[0\] linear\(4→4\), optimizer update of 0\.(weight|bias)$/, op: ["mul", "fused_elementwise"] },
  },
  {
    name: "gradient clipping's norm", model: seq(linear(4, 4)), inputs: 4, batch: 2, optimizer: sgd({ lr: 0.01, clipGradNorm: 1 }), labels: 0,
    params: { "0.weight": () => 1e-20 }, x: 1e20,
    want: { program: "train", layerPath: null, layer: /^gradient clipping \(global norm\)$/, op: ["mul", "fused_elementwise"] },
  },
];

describe("checkNumerics names the layer through compile()", () => {
  for (const c of MODEL_CASES) {
    it(c.name, () => {
      for (const optimize of [false, true]) {
        const net = compile(c.model, {
          inputs: c.inputs, batch: c.batch, seed: 0, optimize, checkNumerics: true, threads: 1,
          optimizer: c.optimizer ?? sgd({ lr: 0.01 }), ...(c.loss === "mse" ? { loss: mse() } : {}),
        });
        for (const [name, f] of Object.entries(c.params)) net.params[name]!.forEach((_v, i, a) => { a[i] = f(i); });
        const x = Float32Array.from({ length: c.batch * c.inputs }, (_, i) => (Array.isArray(c.x) ? c.x[Math.floor(i / c.inputs) % c.x.length]! : c.x));
        const labels = c.loss === "mse" ? new Float32Array(c.batch * 2) : new Int32Array(c.batch).fill(c.labels ?? 0);
        const e = catchNumerics(() => net.trainStep(x, labels));
        expect(e.program).toBe(c.want.program);
        expect(e.layerPath, e.message).toBe(c.want.layerPath);
        expect(e.layer, e.message).toMatch(c.want.layer);
        // null: the float64 reference kernels overflow elsewhere in the same layer (its backward).
        const op = c.want.op[optimize ? 1 : 0];
        if (op !== null) expect(e.op, e.message).toBe(op);
        expect(net.step).toBe(0);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Checks skipped (numerics-skip.ts): only where they cannot move the report.

describe("checkNumerics skips the checks that cannot find the first non-finite value", () => {
  const opsOf = (net: { ir: { train: { nodes: readonly { op: string; attrs: unknown }[] } } }, outs: number[][], checked: boolean) =>
    net.ir.train.nodes.flatMap((n, i) => ((outs[i]!.length > 0) === checked ? [n.op === "fused_elementwise" ? `fused(${(n.attrs as { code: { op: string }[] }).code.map((c) => c.op).join(",")})` : n.op] : []));

  it("skips relu's backward gate and reshapes; checks products, sums, the loss, updates, and dropout's 1/(1 − p)", () => {
    const net = compile(seq(linear(6, 5), relu, linear(5, 5), dropout(0.5), linear(5, 3)), { inputs: 6, batch: 4, seed: 0, optimizer: sgd({ lr: 0.1, momentum: 0.9 }) });
    const outs = checkedOutputs(net.ir.train);
    const skipped = opsOf(net, outs, false), checked = opsOf(net, outs, true);
    expect(skipped).toContain("reshape");
    // The relu gate's loop: its output unchecked, the bias gradient's sum fused into it checked.
    const gate = net.ir.train.nodes.findIndex((n) => n.op === "fused_elementwise" && n.attrs.code.map((c) => c.op).join(",") === "step,mul");
    const node = net.ir.train.nodes[gate]!;
    expect(node.op === "fused_elementwise" && node.attrs.sums.map((s) => s.op)).toEqual(["sum"]);
    expect(outs[gate]).toEqual(node.outputs.slice(1));
    expect(checked).toEqual(expect.arrayContaining(["linear", "matmul", "softmax_xent", "sum"]));
    expect(checked.filter((op) => op.includes("mask"))).not.toEqual([]);
    expect(checked.filter((op) => op.startsWith("fused(") && op.includes("sub")).length).toBe(6); // the updates
  });

  it("checks a safe op that reads a program input (a parameter set to NaN is reported where it is first read)", () => {
    const g = new GraphBuilder();
    const w = g.input("w", "param", { shape: [2, 3], dtype: "f32" });
    g.output("y", "logits", g.withOrigin(["forward@3"], () => g.relu(g.reshape(w, [3, 2]))));
    const graph = g.build();
    expect(checkedOutputs(graph).map((o) => o.length)).toEqual([1, 0]);
    for (const optimize of [false, true]) {
      const p = compileGraph(graph, { optimize, checkNumerics: true, threads: 1 });
      p.input("w").set([1, 2, NaN, 4, 5, 6]);
      expect(catchNumerics(() => p.run()).message).toMatch(/NaN, at index 2/);
    }
  });
});
