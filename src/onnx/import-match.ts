/**
 * What torch.onnx.export writes for each layer of an MLP, as matchers: given the value flowing
 * through the model, each looks at the nodes that read it and returns the kiln layer they
 * compute (with its tensors in the order compile() declares them) or null. Every value inside a
 * pattern must be read only inside it.
 *
 *   Gemm(x, W, b) [transB]          linear        MatMul(x, Wᵀ or Transpose(W)) [+ Add(·, b)]   linear
 *   Relu, Tanh, Sigmoid, LeakyRelu  relu, tanh, sigmoid, leakyRelu    x·Sigmoid(x)    silu
 *   0.5·x·(1 + Erf(x/√2))           gelu          Dropout(x, ratio)                 dropout(ratio)
 *   LayerNormalization(x, γ, β)     layerNorm     ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div [Mul γ] [Add β]   layerNorm
 *   BatchNormalization(x, γ, β, μ, σ²)  batchNorm  Identity, Flatten(axis 1), Reshape to [batch, n]   (nothing)
 */
import { DecodeError, KilnError } from "../../runtime/errors.js";
import { batchNorm } from "../layers/batchNorm.js";
import { dropout } from "../layers/dropout.js";
import { layerNorm } from "../layers/layerNorm.js";
import { linear } from "../layers/linear.js";
import type { LayerNode } from "../layers/node.js";
import { relu } from "../layers/relu.js";
import { gelu, leakyRelu, sigmoid, silu, tanh } from "../layers/activations.js";
import { attrEpsilon, attrFloat, attrInt, attrInts, nodeLabel, type OnnxGraph } from "./import-graph.js";
import type { Node } from "./proto.js";

export interface Matched {
  /** null for nodes that change nothing (Identity, Flatten of a 2-D input, …). */
  readonly layer: LayerNode | null;
  readonly params: readonly Float32Array[];
  readonly state: readonly Float32Array[];
  readonly nodes: readonly number[];
  readonly out: string;
}

/** What a matcher sees: the graph, and the nodes reading a value that no pattern has taken yet. */
export interface Site {
  readonly g: OnnxGraph;
  readonly free: (value: string) => readonly number[];
}

export type Matcher = (s: Site, v: string, width: number) => Matched | null;

/** The shortest decimal that is the same float32 (ONNX floats are float32: 9.99999974e-6 → 1e-5). */
export function nice(x: number): number {
  const f = Math.fround(x);
  for (let p = 1; p < 10; p++) if (Math.fround(Number(f.toPrecision(p))) === f) return Number(f.toPrecision(p));
  return f;
}

/** The one unclaimed reader of v, if it is `op` reading v as its first input. */
function sole(s: Site, v: string, op: string): { n: Node; k: number } | null {
  const users = s.free(v);
  if (users.length !== 1) return null;
  const n = s.g.nodes[users[0]!]!;
  return n.op_type === op && (n.domain === "" || n.domain === "ai.onnx") && n.input[0] === v ? { n, k: users[0]! } : null;
}

/** The other input of a binary node that reads v. */
const other = (n: Node, v: string): string | undefined => (n.input[0] === v ? n.input[1] : n.input[0]);

/** Outputs after the first must be absent or unread (BatchNormalization's, Dropout's mask). */
const extraUnused = (s: Site, n: Node): boolean => n.output.slice(1).every((o) => o === "" || s.g.usersOf(o).length === 0);

const transpose = (w: Float32Array, rows: number, cols: number): Float32Array => {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
  return t;
};

/** A bias [n] or [1, n]. */
function vectorOf(s: Site, name: string, n: number, what: string): Float32Array {
  const t = s.g.floats(name, what);
  const ok = (t.dims.length === 1 && t.dims[0] === n) || (t.dims.length === 2 && t.dims[0] === 1 && t.dims[1] === n);
  if (!ok) throw new KilnError(`ONNX: ${what} must have ${n} values ([${n}]), got [${t.dims.join(",")}]`);
  return t.data;
}

const gemm: Matcher = (s, v) => {
  const m = sole(s, v, "Gemm");
  if (!m) return null;
  const { n } = m, what = `${nodeLabel(n)}`;
  if (attrInt(n, "transA", 0) !== 0 || attrFloat(n, "alpha", 1) !== 1 || attrFloat(n, "beta", 1) !== 1) {
    throw new KilnError(`ONNX: ${what} has transA, alpha or beta other than 0, 1, 1; kiln's linear is x·Wᵀ + b`);
  }
  const w = s.g.floats(n.input[1]!, `the weight of ${what}`);
  if (w.dims.length !== 2) throw new KilnError(`ONNX: the weight of ${what} must be 2-D, got [${w.dims.join(",")}]`);
  const transB = attrInt(n, "transB", 0) !== 0; // any non-zero value transposes, as ONNX Runtime reads it
  const [out, inp] = transB ? [w.dims[0]!, w.dims[1]!] : [w.dims[1]!, w.dims[0]!];
  const weight = transB ? w.data : transpose(w.data, inp, out);
  const bias = n.input[2] ? vectorOf(s, n.input[2], out, `the bias of ${what}`) : null;
  return { layer: linear(inp, out, { bias: bias !== null }), params: bias ? [weight, bias] : [weight], state: [], nodes: [m.k], out: n.output[0]! };
};

/**
 * The Transpose node (perm [1, 0]) that alone reads a 2-D constant and makes `name`, read only by
 * one node: torch's export without constant folding (training mode) writes a bias-free Linear as
 * MatMul(x, Transpose(W)), W [out, in] as PyTorch holds it.
 */
function transposedWeight(s: Site, name: string): { k: number; weight: string } | null {
  const k = s.g.producerOf(name);
  const n = k === undefined ? undefined : s.g.nodes[k];
  if (k === undefined || !n || n.op_type !== "Transpose" || s.g.usersOf(name).length !== 1 || !s.g.isConstant(n.input[0] ?? "")) return null;
  const perm = attrInts(n, "perm");
  return perm === undefined || (perm.length === 2 && perm[0] === 1 && perm[1] === 0) ? { k, weight: n.input[0]! } : null;
}

const matmul: Matcher = (s, v) => {
  const m = sole(s, v, "MatMul");
  const t = m && transposedWeight(s, m.n.input[1]!);
  if (!m || (!t && !s.g.isConstant(m.n.input[1]!))) return null;
  const w = s.g.floats(t ? t.weight : m.n.input[1]!, `the weight of ${nodeLabel(m.n)}`);
  if (w.dims.length !== 2) throw new KilnError(`ONNX: the weight of ${nodeLabel(m.n)} must be 2-D, got [${w.dims.join(",")}]`);
  // x·W with W [in, out] is x·Wᵀ with Wᵀ [out, in]; x·Transpose(W) has W [out, in] already.
  const [inp, out] = (t ? [w.dims[1], w.dims[0]] : w.dims) as [number, number];
  const weight = t ? w.data : transpose(w.data, inp, out);
  const claim = (nodes: number[]) => (t ? [t.k, ...nodes] : nodes);
  const mm = m.n.output[0]!, users = s.free(mm);
  const add = users.length === 1 ? s.g.nodes[users[0]!]! : null;
  const b = add && add.op_type === "Add" && add.input.length === 2 ? other(add, mm) : undefined;
  if (add && b !== undefined && s.g.isConstant(b)) {
    const bias = vectorOf(s, b, out, `the bias of ${nodeLabel(add)}`);
    return { layer: linear(inp, out), params: [weight, bias], state: [], nodes: claim([m.k, users[0]!]), out: add.output[0]! };
  }
  return { layer: linear(inp, out, { bias: false }), params: [weight], state: [], nodes: claim([m.k]), out: mm };
};

const activation = (op: string, layer: LayerNode): Matcher => (s, v) => {
  const m = sole(s, v, op);
  return m && { layer, params: [], state: [], nodes: [m.k], out: m.n.output[0]! };
};

/** Identity, Flatten of [batch, n] at axis 1, Reshape to [batch, n]: no layer. */
const passThrough: Matcher = (s, v, width) => {
  const users = s.free(v);
  const n = users.length === 1 ? s.g.nodes[users[0]!]! : null;
  if (!n || n.input[0] !== v) return null;
  const same = { layer: null, params: [], state: [], nodes: [users[0]!], out: n.output[0]! };
  if (n.op_type === "Identity") return same;
  if (n.op_type === "Flatten") return [1, -1].includes(attrInt(n, "axis", 1)) ? same : null;
  if (n.op_type === "Reshape" && n.input[1]) {
    const [a, b, ...rest] = s.g.ints(n.input[1], `the shape of ${nodeLabel(n)}`);
    return rest.length === 0 && (a === 0 || a === -1) && (b === width || (b === -1 && a === 0)) ? same : null;
  }
  return null;
};

/** LeakyRelu(alpha) → leakyRelu(alpha) (ONNX's default slope 0.01 is PyTorch's too). */
const leakyReluNode: Matcher = (s, v) => {
  const m = sole(s, v, "LeakyRelu");
  return m && { layer: leakyRelu(nice(attrFloat(m.n, "alpha", 0.01))), params: [], state: [], nodes: [m.k], out: m.n.output[0]! };
};

const dropoutNode: Matcher = (s, v) => {
  const m = sole(s, v, "Dropout");
  if (!m || !extraUnused(s, m.n)) return null;
  const ratio = m.n.input[1] ? s.g.scalar(m.n.input[1], `the ratio of ${nodeLabel(m.n)}`) : attrFloat(m.n, "ratio", 0.5);
  return { layer: dropout(nice(ratio)), params: [], state: [], nodes: [m.k], out: m.n.output[0]! };
};

const layerNormNode: Matcher = (s, v, width) => {
  const m = sole(s, v, "LayerNormalization");
  if (!m || !extraUnused(s, m.n) || ![-1, 1].includes(attrInt(m.n, "axis", -1))) return null;
  const what = nodeLabel(m.n);
  const gamma = vectorOf(s, m.n.input[1]!, width, `the scale of ${what}`);
  const beta = m.n.input[2] ? vectorOf(s, m.n.input[2], width, `the bias of ${what}`) : new Float32Array(width);
  return { layer: layerNorm(width, { eps: nice(attrEpsilon(m.n)) }), params: [gamma, beta], state: [], nodes: [m.k], out: m.n.output[0]! };
};

const batchNormNode: Matcher = (s, v, width) => {
  const m = sole(s, v, "BatchNormalization");
  // training_mode = 1 (torch's export in TrainingMode.TRAINING) reads as the same layer: kiln's
  // batchNorm has both phases, batch statistics in training and running ones in eval.
  if (!m || !extraUnused(s, m.n)) return null;
  const what = nodeLabel(m.n);
  const [gamma, beta, mean, variance] = ["scale", "bias", "mean", "variance"].map((name, k) => vectorOf(s, m.n.input[k + 1] ?? "", width, `the ${name} of ${what}`));
  const negative = variance!.findIndex((v) => v < 0);
  if (negative >= 0) throw new DecodeError(`ONNX: the variance of ${what} is ${variance![negative]} at element ${negative}; expected values ≥ 0 (a variance; √(var + ε) of a negative one is NaN)`);
  const momentum = nice(1 - nice(attrFloat(m.n, "momentum", 0.9))); // ONNX keeps (1 − PyTorch's momentum)
  return { layer: batchNorm(width, { eps: nice(attrEpsilon(m.n)), momentum }), params: [gamma!, beta!], state: [mean!, variance!], nodes: [m.k], out: m.n.output[0]! };
};

/** ReduceMean over the last axis of [batch, n], keeping it (axes as attribute, or input from opset 18). */
function meanOverFeatures(s: Site, n: Node): boolean {
  const axes = n.input[1] ? s.g.ints(n.input[1], `the axes of ${nodeLabel(n)}`) : attrInts(n, "axes");
  return axes !== undefined && axes.length === 1 && (axes[0] === -1 || axes[0] === 1) && attrInt(n, "keepdims", 1) === 1;
}

/** LayerNorm as opsets before 17 write it: (x − mean) / √(mean((x − mean)²) + ε) [· γ] [+ β]. */
const layerNormDecomposed: Matcher = (s, v, width) => {
  const users = s.free(v).map((k) => ({ k, n: s.g.nodes[k]! }));
  const mean = users.find((u) => u.n.op_type === "ReduceMean" && u.n.input[0] === v);
  const sub = users.find((u) => u.n.op_type === "Sub" && u.n.input[0] === v);
  if (users.length !== 2 || !mean || !sub || sub.n.input[1] !== mean.n.output[0] || !meanOverFeatures(s, mean.n)) return null;
  const d = sub.n.output[0]!;
  const dUsers = s.free(d).map((k) => ({ k, n: s.g.nodes[k]! }));
  const pow = dUsers.find((u) => u.n.op_type === "Pow" && u.n.input[0] === d);
  const div = dUsers.find((u) => u.n.op_type === "Div" && u.n.input[0] === d);
  if (dUsers.length !== 2 || !pow || !div || !s.g.isConstant(pow.n.input[1]!) || s.g.scalar(pow.n.input[1]!, "the exponent of Pow") !== 2) return null;
  const vmean = sole(s, pow.n.output[0]!, "ReduceMean");
  const add = vmean && meanOverFeatures(s, vmean.n) ? sole(s, vmean.n.output[0]!, "Add") : null;
  const sqrt = add && s.g.isConstant(add.n.input[1]!) ? sole(s, add.n.output[0]!, "Sqrt") : null;
  if (!add || !sqrt || s.free(sqrt.n.output[0]!).length !== 1 || div.n.input[1] !== sqrt.n.output[0]) return null;
  const eps = nice(s.g.scalar(add.n.input[1]!, `the epsilon of ${nodeLabel(add.n)}`));
  if (!(Math.fround(eps) > 0)) return null; // not a layerNorm's: its primitives come in as they are
  const nodes = [mean.k, sub.k, pow.k, vmean!.k, add.k, sqrt.k, div.k];
  const mul = sole(s, div.n.output[0]!, "Mul");
  if (!mul || !s.g.isConstant(mul.n.input[1]!)) {
    return { layer: layerNorm(width, { eps, affine: false }), params: [], state: [], nodes, out: div.n.output[0]! };
  }
  const gamma = vectorOf(s, mul.n.input[1]!, width, `the scale of ${nodeLabel(mul.n)}`);
  const shift = sole(s, mul.n.output[0]!, "Add");
  const beta = shift && s.g.isConstant(shift.n.input[1]!) ? vectorOf(s, shift.n.input[1]!, width, `the bias of ${nodeLabel(shift.n)}`) : null;
  const out = beta ? shift!.n.output[0]! : mul.n.output[0]!;
  return { layer: layerNorm(width, { eps }), params: [gamma, beta ?? new Float32Array(width)], state: [], nodes: [...nodes, mul.k, ...(beta ? [shift!.k] : [])], out };
};

/** The one unclaimed reader of v among `users` that is `op` with v as one of its two inputs, and the other input. */
function binaryReader(s: Site, users: readonly number[], v: string, op: string): { n: Node; k: number; other: string } | null {
  for (const k of users) {
    const n = s.g.nodes[k]!;
    if (n.op_type === op && n.input.length === 2 && n.input.includes(v)) return { n, k, other: other(n, v)! };
  }
  return null;
}

const near = (s: Site, name: string | undefined, want: number): boolean =>
  name !== undefined && s.g.isConstant(name) && Math.abs(s.g.scalar(name, "a constant") - want) <= 1e-6 * Math.abs(want);

/** GELU as torch.onnx.export writes it: 0.5 · x · (1 + erf(x / √2)) (or x · (1/√2)). */
const geluErf: Matcher = (s, v) => {
  const users = s.free(v);
  if (users.length !== 2) return null;
  const scale = users.map((k) => ({ k, n: s.g.nodes[k]! })).find(({ n }) => n.input.length === 2 && n.input[0] === v &&
    ((n.op_type === "Div" && near(s, n.input[1], Math.SQRT2)) || (n.op_type === "Mul" && near(s, n.input[1], Math.SQRT1_2))));
  if (!scale) return null;
  const erf = sole(s, scale.n.output[0]!, "Erf");
  const one = erf && single(s, erf.n.output[0]!, "Add");
  const timesK = users.find((k) => k !== scale.k);
  const times = one && near(s, one.other, 1) && timesK !== undefined ? binaryReader(s, [timesK], v, "Mul") : null;
  if (!erf || !one || !times || times.k === scale.k || times.other !== one.n.output[0]) return null;
  const half = single(s, times.n.output[0]!, "Mul");
  if (!half || !near(s, half.other, 0.5)) return null;
  return { layer: gelu, params: [], state: [], nodes: [scale.k, erf.k, one.k, times.k, half.k], out: half.n.output[0]! };
};

/** SiLU: x · sigmoid(x). */
const siluNodes: Matcher = (s, v) => {
  const users = s.free(v);
  if (users.length !== 2) return null;
  const sig = users.map((k) => ({ k, n: s.g.nodes[k]! })).find((u) => u.n.op_type === "Sigmoid" && u.n.input[0] === v);
  const mul = sig && binaryReader(s, users, v, "Mul");
  if (!sig || !mul || mul.other !== sig.n.output[0] || s.free(sig.n.output[0]!).length !== 1) return null;
  return { layer: silu, params: [], state: [], nodes: [sig.k, mul.k], out: mul.n.output[0]! };
};

/** The one unclaimed reader of v, if it is a binary `op` (v on either side): the node and its other input. */
function single(s: Site, v: string, op: string): { n: Node; k: number; other: string } | null {
  const users = s.free(v);
  return users.length === 1 ? binaryReader(s, users, v, op) : null;
}

/** Tried in order at each value; the first that matches wins. */
export const matchers: readonly Matcher[] = [
  gemm, matmul, activation("Relu", relu), activation("Tanh", tanh), leakyReluNode, siluNodes, activation("Sigmoid", sigmoid), geluErf,
  dropoutNode, layerNormNode, batchNormNode, layerNormDecomposed, passThrough,
];

/** The op types the matchers read (anything else is listed as unsupported before matching). */
export const SUPPORTED: ReadonlySet<string> = new Set([
  "Gemm", "MatMul", "Add", "Relu", "Tanh", "Sigmoid", "Erf", "LeakyRelu", "Dropout", "LayerNormalization", "BatchNormalization",
  "ReduceMean", "Sub", "Pow", "Sqrt", "Div", "Mul", "Identity", "Flatten", "Reshape", "Constant",
]);
