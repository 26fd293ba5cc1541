/**
 * The traced forms of kiln's layers, recognized in the eval graph so the exported file has one
 * ONNX node per layer where ONNX has one (each a rewrite anchored at its last primitive; every
 * value inside a pattern must be used only inside it):
 *
 *   add(matmul[transB](x, W), b)                                → Gemm(x, W, b)              linear
 *   add(mul(normalize[last axis](x), γ), β)                      → LayerNormalization(x, γ, β) layerNorm
 *   add(mul(mul(sub(x, μ), rsqrt(add(σ², ε))), γ), β)            → BatchNormalization(x, γ, β, μ, σ²)
 *   the same after a linear, with foldBatchNorm                 → Gemm(x, W·s, (b − μ)·s + β),  s = γ/√(σ² + ε)
 *   mul(x, add(q, mul(add(mul(q, −1), 1), α))), q = sign(relu(x)) → LeakyRelu(x, alpha = α)     leakyRelu
 *
 * Anything else goes through the per-primitive rules (./export-rules.ts).
 */
import type { Graph, Node } from "../../compiler/ir/graph.js";
import type { V } from "../../compiler/ir/types.js";
import { f, i, type OnnxBuilder } from "./builder.js";

/** Emits a whole pattern; `name` gives a value's ONNX name (and declares initializers). */
export type Emit = (o: OnnxBuilder, name: (v: V) => string) => void;

export interface PatternContext {
  readonly fold: boolean;
  /** The graph-input name of a value (parameters, state), if it is one. */
  readonly inputName: (v: V) => string | undefined;
  readonly arrays: (name: string) => Float32Array | undefined;
}

/** node index → its pattern's emitter (at the pattern's last node) or null (inside a pattern). */
export function findPatterns(g: Graph, need: readonly boolean[], ctx: PatternContext): Map<number, Emit | null> {
  const producer = new Map<V, number>();
  const uses = new Array<number>(g.values.length).fill(0);
  g.nodes.forEach((n, k) => {
    n.outputs.forEach((v) => producer.set(v, k));
    if (n.outputs.some((v) => need[v])) n.inputs.forEach((v) => uses[v]!++);
  });
  for (const o of g.outputs) uses[o.value]!++;
  const found = new Map<number, Emit | null>();
  const shape = (v: V) => g.values[v]!.shape;
  const vector = (v: V, n: number) => shape(v).length === 1 && shape(v)[0] === n;

  /** The node defining v if it is `op`, used once, and not yet in a pattern. */
  const only = <K extends Node["op"]>(v: V, op: K, anchor = false): Extract<Node, { op: K }> & { k: number } | null => {
    const k = producer.get(v);
    if (k === undefined || found.has(k) || (!anchor && uses[v] !== 1)) return null;
    const n = g.nodes[k]!;
    return n.op === op ? { ...(n as Extract<Node, { op: K }>), k } : null;
  };

  const linearAt = (v: V, anchor: boolean) => {
    const add = only(v, "add", anchor);
    const mm = only(add ? add.inputs[0]! : v, "matmul");
    if (!mm || mm.attrs.transA) return null;
    const out = shape(mm.outputs[0]!);
    if (out.length !== 2) return null; // batched: MatMul (export-rules.ts)
    if (add && !(vector(add.inputs[1]!, out[1]!) && shape(add.outputs[0]!).length === 2)) return null;
    return { nodes: add ? [mm.k, add.k] : [mm.k], x: mm.inputs[0]!, w: mm.inputs[1]!, transB: mm.attrs.transB, bias: add ? add.inputs[1]! : null, out: v };
  };

  const layerNormAt = (add: Node & { k: number }) => {
    const mul = only(add.inputs[0]!, "mul");
    const norm = mul && only(mul.inputs[0]!, "normalize");
    if (!mul || !norm) return null;
    const x = shape(norm.inputs[0]!), n = x[x.length - 1]!;
    const axis = norm.attrs.axis < 0 ? norm.attrs.axis + x.length : norm.attrs.axis;
    if (axis !== x.length - 1 || !vector(mul.inputs[1]!, n) || !vector(add.inputs[1]!, n)) return null;
    return { nodes: [norm.k, mul.k, add.k], x: norm.inputs[0]!, gamma: mul.inputs[1]!, beta: add.inputs[1]!, eps: norm.attrs.eps };
  };

  const batchNormAt = (add: Node & { k: number }) => {
    const affine = only(add.inputs[0]!, "mul");
    const scaled = affine && only(affine.inputs[0]!, "mul");
    const centered = scaled && only(scaled.inputs[0]!, "sub");
    const rstd = scaled && only(scaled.inputs[1]!, "rsqrt");
    const shifted = rstd && only(rstd.inputs[0]!, "add");
    const eps = shifted && only(shifted.inputs[1]!, "constant");
    if (!affine || !scaled || !centered || !rstd || !shifted || !eps || eps.attrs.shape.length !== 0) return null;
    const x = centered.inputs[0]!, n = shape(x)[1]!;
    const [mean, variance, gamma, beta] = [centered.inputs[1]!, shifted.inputs[0]!, affine.inputs[1]!, add.inputs[1]!];
    if (shape(x).length !== 2 || ![mean, variance, gamma, beta].every((t) => vector(t, n))) return null;
    return { nodes: [centered.k, eps.k, shifted.k, rstd.k, scaled.k, affine.k, add.k], x, mean, variance, gamma, beta, eps: eps.attrs.value };
  };

  /** A scalar constant used once, with its value. */
  const scalar = (v: V) => {
    const c = only(v, "constant");
    return c && c.attrs.shape.length === 0 ? { k: c.k, value: c.attrs.value } : null;
  };
  // leakyRelu's traced form: x·(q + slope·(1 − q)), q = sign(relu(x)) read twice inside.
  const leakyReluAt = (mul: Node & { k: number }) => {
    const [x, h] = mul.inputs as [V, V];
    const sum = only(h, "add"), slope = sum && only(sum.inputs[1]!, "mul");
    const one = slope && only(slope.inputs[0]!, "add"), neg = one && only(one.inputs[0]!, "mul");
    const q = sum?.inputs[0], kq = q === undefined ? undefined : producer.get(q);
    if (!sum || !slope || !one || !neg || q === undefined || kq === undefined || found.has(kq) || uses[q] !== 2 || neg.inputs[0] !== q) return null;
    const sign = g.nodes[kq]!, relu = sign.op === "sign" ? only(sign.inputs[0]!, "relu") : null;
    const [m1, p1, a] = [scalar(neg.inputs[1]!), scalar(one.inputs[1]!), scalar(slope.inputs[1]!)];
    if (!relu || relu.inputs[0] !== x || m1?.value !== -1 || p1?.value !== 1 || !a) return null;
    return { nodes: [relu.k, kq, m1.k, neg.k, p1.k, one.k, a.k, slope.k, sum.k, mul.k], x, alpha: a.value };
  };

  const claim = (nodes: readonly number[], emit: Emit) => {
    nodes.forEach((k) => found.set(k, null));
    found.set(nodes[nodes.length - 1]!, emit);
  };

  // Last node first, so a batchNorm claims the linear before it when folding.
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k]!;
    if (found.has(k) || !n.outputs.some((v) => need[v])) continue;
    if (n.op === "mul") {
      const lk = leakyReluAt({ ...n, k });
      if (lk) claim(lk.nodes, (o, name) => o.node("LeakyRelu", [name(lk.x)], { alpha: f(lk.alpha) }, [name(n.outputs[0]!)]));
      continue;
    }
    if (n.op !== "add") continue;
    const at = { ...n, k };
    const bn = batchNormAt(at);
    if (bn) {
      const lin = ctx.fold ? linearAt(bn.x, false) : null;
      const folded = lin && foldInto(lin, bn, ctx, g);
      if (lin && folded) {
        claim([...lin.nodes, ...bn.nodes], (o, name) => {
          o.initializer(folded.weight, shape(lin.w), folded.w);
          o.initializer(folded.biasName, [folded.b.length], folded.b);
          o.node("Gemm", [name(lin.x), folded.weight, folded.biasName], { transB: i(1) }, [name(n.outputs[0]!)]);
        });
      } else {
        claim(bn.nodes, (o, name) => o.node("BatchNormalization", [bn.x, bn.gamma, bn.beta, bn.mean, bn.variance].map(name), { epsilon: f(bn.eps) }, [name(n.outputs[0]!)]));
      }
      continue;
    }
    const ln = layerNormAt(at);
    if (ln) {
      claim(ln.nodes, (o, name) => o.node("LayerNormalization", [ln.x, ln.gamma, ln.beta].map(name), { axis: i(-1), epsilon: f(ln.eps) }, [name(n.outputs[0]!)]));
      continue;
    }
    const lin = linearAt(n.outputs[0]!, true);
    if (lin && lin.bias !== null) {
      const bias = lin.bias;
      claim(lin.nodes, (o, name) => o.node("Gemm", [name(lin.x), name(lin.w), name(bias)], { transB: i(lin.transB ? 1 : 0) }, [name(n.outputs[0]!)]));
    }
  }
  return found;
}

type LinearMatch = { x: V; w: V; transB: boolean; bias: V | null };
type BatchNormMatch = { mean: V; variance: V; gamma: V; beta: V; eps: number };

/**
 * W' = W·s per output row and b' = (b − μ)·s + β, s = γ/√(σ² + ε), in float64, rounded once.
 * Null when a tensor is not a parameter or state of the net (nothing to fold numerically).
 */
function foldInto(lin: LinearMatch, bn: BatchNormMatch, ctx: PatternContext, g: Graph) {
  const get = (v: V) => { const n = ctx.inputName(v); return n === undefined ? undefined : ctx.arrays(n); };
  const weight = ctx.inputName(lin.w);
  const [w, gamma, beta, mean, variance] = [get(lin.w), get(bn.gamma), get(bn.beta), get(bn.mean), get(bn.variance)];
  if (!lin.transB || weight === undefined || !w || !gamma || !beta || !mean || !variance) return null;
  const b = lin.bias === null ? new Float32Array(gamma.length) : get(lin.bias);
  if (!b) return null;
  const [rows, cols] = g.values[lin.w]!.shape as [number, number];
  const eps = Math.fround(bn.eps);
  const s = Float64Array.from(gamma, (gm, r) => gm / Math.sqrt(Math.fround(variance[r]! + eps)));
  const wf = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) wf[r * cols + c] = w[r * cols + c]! * s[r]!;
  const bf = Float32Array.from(b, (bv, r) => (bv - mean[r]!) * s[r]! + beta[r]!);
  const biasName = lin.bias !== null ? ctx.inputName(lin.bias) ?? `${weight}.folded_bias` : weight.replace(/weight$/, "bias");
  return { weight, w: wf, b: bf, biasName };
}
