/**
 * Import of a graph that is not a chain of kiln's layers (./import-match.ts): the whole graph, or
 * what follows the layers ./import.ts matched, becomes one user layer, `layer({ name: "onnx", … })`,
 * whose apply computes each node with the IR's primitives (./import-ops.ts) — a model kiln
 * exported from its tensor DSL, or a PyTorch model with a softmax at the end, an ELU, a
 * hand-written normalization, a `view` of the input. It compiles, trains and exports like any
 * user layer.
 *
 * The graph's float initializers (and Constant nodes) become, by how they are read:
 *   - the layer's parameters, under their ONNX names ("fc1.weight"): the weights and biases of
 *     Gemm, MatMul, LayerNormalization and BatchNormalization whatever their values (a bias of
 *     zeros is still a bias), and any other tensor of more than one element;
 *   - its state buffers: a BatchNormalization's mean and variance, which it uses in eval and
 *     moves toward the batch's statistics in training (as kiln's batchNorm, PyTorch's BatchNorm1d);
 *   - constants: single numbers (an ε, the ½ of a GELU, kiln's exported scalars), a
 *     LayerNormalization's scale of ones without a bias (kiln's normalize), and the integers of
 *     shapes, axes and pads, read here.
 * Dropout drops in training (a mask stream of its own) and passes its input through in eval.
 *
 * The graph is traced here in both phases, at batch 2, so whatever does not fit — a shape, an
 * op's form — is a KilnError from fromOnnx naming the node, before anything is compiled.
 */
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { MAX_ELEMENTS, MAX_RANK } from "../../compiler/ir/graph.js";
import { size, type V } from "../../compiler/ir/types.js";
import { KilnError } from "../../runtime/errors.js";
import { zeros } from "../init.js";
import { layer } from "../layers/layer.js";
import type { LayerNode } from "../layers/node.js";
import { attr, attrInt, attrInts, nodeLabel, type OnnxGraph } from "./import-graph.js";
import { integerOp } from "./import-ints.js";
import { ACTIVATION_RULES } from "./import-activations.js";
import { LOGIC_RULES, split } from "./import-logic.js";
import { LAYOUT_RULES, sliceBounds } from "./import-layout.js";
import { RULES, type Ctx, type Ints } from "./import-ops.js";
import { readFloats, type FloatTensor } from "./tensors.js";
import type { Tracing } from "../dsl/scope.js";
import { DataType, quoteName, type Node } from "./proto.js";

const isIntType = (t: number | undefined): boolean => t === DataType.INT64 || t === DataType.INT32;
const isFloatType = (t: number | undefined): boolean => t === DataType.FLOAT || t === DataType.DOUBLE;

/** The ops this importer computes: float ops (./import-ops.ts) and the integer ops of shapes. */
const ALL_RULES = { ...RULES, ...LAYOUT_RULES, ...ACTIVATION_RULES, ...LOGIC_RULES };
export const PRIMITIVE_OPS: ReadonlySet<string> = new Set([...Object.keys(ALL_RULES), "Split", "Shape", "Gather", "Constant", "ConstantOfShape", "Transpose", "ReduceProd"]);

/** Inputs read at import as integers (shapes, axes, pads) or numbers, by op: never tensors of the graph. */
const READ_AT_IMPORT: Readonly<Record<string, readonly number[]>> = {
  Reshape: [1], Expand: [1], ReduceSum: [1], ReduceMean: [1], ReduceMax: [1], ReduceLogSumExp: [1], ReduceL2: [1], ReduceProd: [1], Squeeze: [1], Unsqueeze: [1],
  Slice: [1, 2, 3, 4], Pad: [1, 2, 3], Clip: [1, 2], Pow: [1], Dropout: [1, 2], Split: [1],
};

/** What run() computes with: the layer's tensors by ONNX name, its trace, and where state updates go. */
interface Env {
  tensor(name: string): V | undefined;
  readonly tracing: Tracing;
  /** The state buffer `name` takes v after a training step; false when `name` is no state buffer. */
  update(name: string, v: V): boolean;
}

export interface PrimitiveImport {
  readonly model: LayerNode;
  readonly params: Record<string, Float32Array>;
  readonly state: Record<string, Float32Array>;
}

/**
 * Where the layer starts: the graph's input (the whole graph), or a value of width `width` after
 * the layers kiln matched, whose nodes (`skip`) it leaves out.
 */
export interface Part { readonly from: string; readonly width: number; readonly skip: ReadonlySet<number> }

/** The graph (or its part after `part.from`) as one user layer; its tensors keyed by their ONNX names. */
export function importPrimitives(g: OnnxGraph, part: Part = { from: g.input, width: g.features, skip: new Set() }): PrimitiveImport {
  const params: Record<string, Float32Array> = {}, state: Record<string, Float32Array> = {};
  // Each constant decoded once, however many nodes read it (its dims: the parameter's shape).
  const read = new Map<string, FloatTensor>();
  g.nodes.forEach((n, i) => {
    if (part.skip.has(i) || g.constantNodes.has(i)) return;
    n.input.forEach((name, k) => {
      // A weight read by two nodes is one parameter (torch's export of a module used twice); an
      // Identity copy is a parameter of its own (torch's of two parameters of equal values).
      if (name === "" || !isFloatType(g.constantType(name)) || (READ_AT_IMPORT[n.op_type] ?? []).includes(k)) return;
      const t = read.get(name) ?? read.set(name, g.floats(name, `input ${k} of ${nodeLabel(n)}`)).get(name)!;
      if (t.data.length === 0) throw new KilnError(`ONNX: input ${k} of ${nodeLabel(n)}, ${quoteName(name)}, is empty ([${t.dims.join(",")}])`);
      const kind = g.computed.has(name) ? (t.data.length > 1 ? "state" : "constant") : tensorKind(n, k, t.data);
      if (kind === "constant") return;
      // A variance below 0 would be NaN at every step (the layer path refuses it the same way).
      if (kind === "state" && k === 4 && t.data.some((v) => v < 0)) throw new KilnError(`ONNX: ${nodeLabel(n)}: its variance ${quoteName(name)} holds ${t.data.find((v) => v < 0)} at element ${t.data.findIndex((v) => v < 0)}; expected values ≥ 0`);
      if ((kind === "state" ? params : state)[name] !== undefined) throw new KilnError(`ONNX: ${quoteName(name)} is read both as a parameter and as a batchNormalization's statistic`);
      (kind === "state" ? state : params)[name] = t.data;
    });
  });
  const decl = (names: Record<string, Float32Array>) =>
    Object.fromEntries(Object.keys(names).map((k) => [k, { shape: read.get(k)!.dims, init: zeros() }]));
  // The output's width: from a trace here (batch 2), which also checks every node.
  const out = traceHere(g, part, params, state, (name) => read.get(name)!.dims);
  const model = layer({
    name: "onnx", in: part.width, out,
    params: decl(params), state: decl(state),
    apply: (p, x, st, phase) => {
      const updates = new Map<string, V>();
      const env: Env = {
        tensor: (name) => (Object.hasOwn(p, name) ? p[name] : Object.hasOwn(st, name) ? st[name] : undefined)?.v,
        tracing: x.scope.tracing ?? { training: phase.training, dropout: (v) => v },
        update: (name, v) => Object.hasOwn(st, name) && updates.set(name, v) !== undefined,
      };
      const y = x.scope.emit("onnx", (b) => run(g, part, b, x.v, env));
      if (updates.size === 0) return y;
      return { out: y, state: Object.fromEntries([...updates].map(([name, v]) => [name, x.scope.emit("onnx", () => v)])) };
    },
  });
  return { model, params, state };
}

/**
 * Weights by role (whatever their values), statistics, or else a parameter when it holds more than
 * one number. (A tensor a Constant node computed is a state buffer instead: fixed, never trained.)
 */
function tensorKind(n: Node, k: number, data: Float32Array): "param" | "state" | "constant" {
  switch (n.op_type) {
    case "Gemm": case "MatMul": case "PRelu": if (k >= 1) return "param"; break; // PReLU's slope trains, even one number
    case "BatchNormalization": if (k >= 1) return k >= 3 ? "state" : "param"; break;
    case "LayerNormalization":
      // kiln's normalize is written with a unit scale and no bias: a constant, not a parameter.
      if (k === 1 && !(n.input[2] ?? "") && data.every((v) => v === 1)) return "constant";
      if (k >= 1) return "param";
      break;
  }
  return data.length > 1 ? "param" : "constant";
}

/** The output's width, from traces at batch 2 in training (shapes only: no masks) and in eval. */
function traceHere(g: OnnxGraph, part: Part, params: Record<string, Float32Array>, state: Record<string, Float32Array>, dims: (name: string) => readonly number[]): number {
  const b = new GraphBuilder();
  const x = b.input("x", "data", { shape: [2, part.width], dtype: "f32" });
  const tensors = new Map<string, V>();
  for (const [names, kind] of [[params, "param"], [state, "state"]] as const) {
    for (const name of Object.keys(names)) tensors.set(name, b.input(`t${tensors.size}`, kind, { shape: [...dims(name)], dtype: "f32" }));
  }
  const env = (training: boolean): Env => ({
    tensor: (name) => tensors.get(name), tracing: { training, dropout: (v) => v }, update: (name) => Object.hasOwn(state, name),
  });
  run(g, part, b, x, env(true));
  const y = run(g, part, b, x, env(false));
  const shape = b.type(y).shape;
  if (shape.length !== 2 || shape[0] !== 2) {
    throw new KilnError(`ONNX: the output ${quoteName(g.output)} has shape [${shape.join(",")}] for ${quoteName(part.from)} of [2, ${part.width}]; kiln imports models whose output is [batch, features] (was the model exported with a dynamic batch axis?)`);
  }
  return shape[1]!;
}

/** Trace the part's nodes into `b` from x (the value part.from), with the layer's tensors and phase. */
function run(g: OnnxGraph, part: Part, b: GraphBuilder, x: V, env: Env): V {
  const updated = new Set<string>();
  const values = new Map<string, V>([[part.from, x]]);
  const ints = new Map<string, Ints>();
  const constants = new Map<string, V>();
  // Transpose of the last two axes, kept for the MatMul or Gemm that reads it (as its flag);
  // anything else that reads it reads the transpose, made then (once).
  const transposed = new Map<string, { v: V; perm: number[] }>();
  const materialized = (name: string): V | undefined => {
    const t = transposed.get(name);
    if (!t) return undefined;
    const v = b.transpose(t.v, t.perm);
    transposed.delete(name);
    values.set(name, v);
    return v;
  };
  for (const [i, n] of g.nodes.entries()) {
    if (g.constantNodes.has(i) || part.skip.has(i)) continue; // Constant nodes and Identity copies of constants: read through g
    const fail = (what: string): never => { throw new KilnError(`ONNX: ${nodeLabel(n)}: ${what}`); };
    const intsOf = (k: number): Ints => {
      const name = n.input[k] ?? "";
      const known = ints.get(name);
      if (known) return known;
      if (!g.isConstant(name)) fail(`input ${k} (${quoteName(name)}) must be known at import (a constant or computed from shapes)`);
      const t = g.intTensor(name, `input ${k} of ${nodeLabel(n)}`);
      // Shapes of shapes: their rank bounds the work of every op on them (./import-ints.ts).
      if (t.dims.length > MAX_RANK) fail(`input ${k} (${quoteName(name)}) is a rank-${t.dims.length} integer tensor; kiln's tensors have at most ${MAX_RANK} axes`);
      return t;
    };
    const c: Ctx = {
      b, opset: g.opset, fail,
      has: (k) => (n.input[k] ?? "") !== "",
      data: (k) => {
        const name = n.input[k] ?? "";
        if (name === "") fail(`input ${k} is missing`);
        const v = values.get(name) ?? materialized(name);
        if (v !== undefined) return v;
        if (ints.has(name) || isIntType(g.constantType(name))) fail(`input ${k} (${quoteName(name)}) is an integer tensor; kiln computes on floats`);
        if (!g.isConstant(name)) fail(`input ${k} (${quoteName(name)}) is defined by no node kiln computes`);
        const param = env.tensor(name);
        if (param !== undefined) return param;
        // A constant (importPrimitives read it: one value, repeated).
        let cst = constants.get(name);
        if (!cst) {
          const t = g.floats(name, `input ${k} of ${nodeLabel(n)}`);
          if (!t.data.every((v) => v === t.data[0])) fail(`input ${k} (${quoteName(name)}) is read as a tensor here and as a number elsewhere`);
          constants.set(name, (cst = b.constant(t.data[0]!, t.dims)));
        }
        return cst;
      },
      matrix: (k) => {
        const t = transposed.get(n.input[k] ?? "");
        return t ? { v: t.v, t: true } : { v: c.data(k), t: false };
      },
      ints: (k) => intsOf(k).data,
      scalar: (k) => {
        const name = n.input[k] ?? "";
        if (!g.isConstant(name)) fail(`input ${k} (${quoteName(name)}) must be a constant number`);
        if (!isIntType(g.constantType(name))) return g.scalar(name, `input ${k} of ${nodeLabel(n)}`);
        const { data } = g.intTensor(name, `input ${k} of ${nodeLabel(n)}`); // Pow(x, 2) with an int64 exponent
        return data.length === 1 ? data[0]! : fail(`input ${k} (${quoteName(name)}) must be a single number, got ${data.length} values`);
      },
      shape: (v) => b.type(v).shape,
      tracing: env.tracing,
      update: (k, v) => {
        const name = n.input[k] ?? "";
        if (updated.has(name)) fail(`updates ${quoteName(name)}, which another node updates too`);
        if (!env.update(name, v)) fail(`input ${k} (${quoteName(n.input[k] ?? "")}) must be a state buffer (an initializer) to be updated in training`);
        updated.add(name);
      },
    };
    // Ops on integer tensors (computed from shapes, or integer constants) are evaluated here.
    const isInt = (k: number) => ints.has(n.input[k] ?? "") || isIntType(g.constantType(n.input[k] ?? ""));
    if (n.op_type === "Shape") {
      const shape = isInt(0) ? intsOf(0).dims : c.shape(c.data(0)); // a shape's own shape too
      const [lo, hi] = sliceBounds(attrInt(n, "start", 0), attrInt(n, "end", shape.length), shape.length);
      ints.set(n.output[0]!, { dims: [Math.max(0, hi - lo)], data: shape.slice(lo, hi) });
      continue;
    }
    if (n.op_type === "ConstantOfShape" && !isIntType(attr(n, "value")?.t?.data_type ?? DataType.FLOAT)) {
      // A float fill: a constant of the graph (its value, 0 by default, must be one finite float).
      const t = attr(n, "value")?.t;
      const fill = t ? readFloats(t, `the value of ${nodeLabel(n)}`).data : Float32Array.of(0);
      if (fill.length !== 1) fail(`fills with ${fill.length} values; expected one`);
      const dims = intsOf(0).data;
      if (dims.some((d) => d < 1) || dims.reduce((p, q) => p * q, 1) > MAX_ELEMENTS) fail(`makes a tensor of shape [${dims.join(",")}]`);
      values.set(n.output[0]!, b.constant(fill[0]!, dims));
      continue;
    }
    if (n.op_type === "Transpose" && !isInt(0)) {
      // Swapping the last two axes (of a matrix, or of a batch of them: attention's keys).
      const x = c.data(0), shape = c.shape(x), r = shape.length, perm = attrInts(n, "perm") ?? [...shape.keys()].reverse();
      const swaps = r >= 2 && perm.length === r && perm.every((p, k) => p === (k === r - 2 ? r - 1 : k === r - 1 ? r - 2 : k));
      if (swaps && shape[r - 2] !== 1 && shape[r - 1] !== 1) {
        transposed.set(n.output[0]!, { v: x, perm });
        continue;
      }
    }
    if (isInt(0) && n.op_type === "Cast" && attrInt(n, "to", 1) === DataType.FLOAT) {
      // An integer computed from shapes, made a float (torch's x.var divides by n − 1 so).
      const { dims, data } = intsOf(0);
      if (data.length === 0 || !data.every((v) => v === data[0])) fail(`casts ${data.length} integers that are not all equal to FLOAT; kiln reads one number (a count) here`);
      values.set(n.output[0]!, b.constant(data[0]!, dims));
      continue;
    }
    if (isInt(0)) { ints.set(n.output[0]!, integerOp(c, n, intsOf)); continue; }
    const multi = n.op_type === "Split";
    const rule = multi ? split : Object.hasOwn(ALL_RULES, n.op_type) ? (c: Ctx, m: Node) => [ALL_RULES[n.op_type]!(c, m)] : fail("is not an op kiln computes");
    if (!multi && n.output.slice(1).some((o) => o !== "" && g.usersOf(o).length > 0)) fail("has a second output that is read; kiln computes the first only");
    let ys: V[];
    try {
      ys = rule(c, n);
    } catch (e) {
      if (e instanceof KilnError && !e.message.startsWith("ONNX:")) fail(e.message);
      throw e;
    }
    ys.forEach((y, k) => {
      const shape = b.type(y).shape;
      if (size(shape) > MAX_ELEMENTS) fail(`gives [${shape.join(",")}], more than ${MAX_ELEMENTS} elements`);
      if (n.output[k]) values.set(n.output[k]!, y);
    });
  }
  const y = values.get(g.output) ?? materialized(g.output);
  if (y === undefined) throw new KilnError(`ONNX: the output ${quoteName(g.output)} is ${ints.has(g.output) ? "an integer tensor (from shapes)" : "not computed from the input"}`);
  return y;
}
