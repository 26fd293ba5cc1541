/**
 * Matrix product epilogues:
 *   add(matmul(a, w), bias)      → linear[relu=false](a, w, bias)   bias: [N], the product read once
 *   relu(linear[relu=false](…))  → linear[relu=true](…)             when relu is the only other reader
 *   step(pre)                    → step(relu(pre))                   1[relu(x) > 0] = 1[x > 0]
 * The last rule lets the backward's relu mask read the fused output, so the pre-activation
 * need not be kept.
 */
import type { Node } from "../ir/graph.js";
import type { Graph } from "../ir/graph.js";
import { sameShape, type V } from "../ir/types.js";
import { mergeOrigins } from "../ir/builder.js";
import { rewrite, type Rule } from "./rewrite.js";

const biasAdd: Rule = (n, ctx) => {
  if (n.op !== "add") return null;
  for (const [m, bias] of [[n.inputs[0]!, n.inputs[1]!], [n.inputs[1]!, n.inputs[0]!]] as const) {
    const p = ctx.producer(m);
    const bshape = ctx.b.type(bias).shape;
    if (p?.op !== "matmul" || ctx.uses(m) !== 1) continue;
    const out = ctx.b.type(m).shape;
    if (out.length !== 2) continue; // a batched product has no linear kernel
    if (!sameShape(ctx.b.type(n.outputs[0]!).shape, out)) continue;
    const flat = bshape.length === 1 ? bias : bshape.length === 2 && bshape[0] === 1 ? ctx.b.reshape(bias, [bshape[1]!]) : null;
    if (flat === null || ctx.b.type(flat).shape[0] !== out[1]) continue;
    return [ctx.b.emit("linear", [p.inputs[0]!, p.inputs[1]!, flat], { ...p.attrs, relu: false })];
  }
  return null;
};

export function fuseLinear(g: Graph): Graph {
  const g1 = rewrite(g, [biasAdd]);
  // relu(linear) with the linear read only by that relu and by step(): fold the activation in.
  const readers = new Map<V, Node[]>();
  for (const n of g1.nodes) for (const v of n.inputs) { const rs = readers.get(v); if (rs) rs.push(n); else readers.set(v, [n]); }
  const isOutput = new Set(g1.outputs.map((o) => o.value));
  const foldable = new Set<V>();
  for (const n of g1.nodes) {
    if (n.op !== "linear" || n.attrs.relu || isOutput.has(n.outputs[0]!)) continue;
    const rs = readers.get(n.outputs[0]!) ?? [];
    if (rs.filter((r) => r.op === "relu").length === 1 && rs.every((r) => r.op === "relu" || r.op === "step")) foldable.add(n.outputs[0]!);
  }
  if (foldable.size === 0) return g1;
  // The fused output replaces the pre-activation everywhere: relu of it is itself, and the
  // backward's step() of it is the same mask (inputs are remapped by the engine).
  const fused = new Set<V>();
  return rewrite(g1, [
    (n, ctx) => {
      if (n.op !== "linear" || !foldable.has(n.outputs[0]!)) return null;
      const y = ctx.b.emit("linear", n.inputs, { ...n.attrs, relu: true });
      // Provenance: the folded relu's layer too (the relu node itself disappears).
      const relu = readers.get(n.outputs[0]!)!.find((r) => r.op === "relu")!;
      ctx.b.annotate(ctx.b.nodeCount - 1, mergeOrigins(n.at, relu.at));
      fused.add(y);
      return [y];
    },
    (n) => (n.op === "relu" && fused.has(n.inputs[0]!) ? [n.inputs[0]!] : null),
  ]);
}
