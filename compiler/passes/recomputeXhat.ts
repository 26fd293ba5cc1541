/**
 * x̂ recomputed where it is read instead of stored: a norm_forward that still returns x̂
 * (xhat=true: something besides its affine reads it, typically the dγ sum of a normalization
 * whose input needs no gradient, as in seq(layerNorm(n)) on the data) gives it up when every
 * reader is elementwise, and they read
 *
 *   x̂ = (x − μ)·rstd          μ, rstd: the norm_forward's own [rows,1] / [1,cols] statistics
 *
 * instead. fuseElementwise then computes that inside the readers' loop, so the forward writes y
 * only, and the readers stream x where they streamed x̂ (the same bytes). The bits are the
 * stored x̂'s: the normalization kernels compute x̂ as exactly these two float32 operations on
 * the float32 μ and rstd they store (runtime/wasm/norm.ts, batchnorm.ts).
 *
 * x̂ stays stored when it is a graph output (a probe) or when a non-elementwise op (a product, a
 * reduction on its own) reads it: those would need it in memory anyway. seq(layerNorm(1024)),
 * mse, batch 256, net.gradients, one thread: the forward kernel 154 → ~106 µs of a ~250 µs step.
 */
import type { Graph, Node } from "../ir/graph.js";
import type { V } from "../ir/types.js";
import { isElementwise } from "../ops/index.js";
import { dce } from "./dce.js";
import { GraphIndex, Splice, type NodeOf } from "./match.js";

export function recomputeXhat(g: Graph): Graph {
  const ix = new GraphIndex(g);
  const outputs = new Set<V>(g.outputs.map((o) => o.value));
  const readers = new Map<V, Node[]>();
  for (const n of g.nodes) for (const v of n.inputs) { const rs = readers.get(v); if (rs) rs.push(n); else readers.set(v, [n]); }
  const edit = new Splice(g);
  let changed = false;
  for (const n of g.nodes) {
    if (n.op !== "norm_forward" || !n.attrs.xhat) continue;
    const xh = n.outputs[1]!;
    if (outputs.has(xh) || !(readers.get(xh) ?? []).every((r) => isElementwise(r.op))) continue;
    const at = ix.position(n);
    const outs = edit.emit("norm_forward", n.inputs, { ...(n as NodeOf<"norm_forward">).attrs, xhat: false }, at);
    const [y, mean, rstd, variance] = outs as [V, V, V, V];
    edit.replace(n.outputs[0]!, y);
    edit.replace(n.outputs[2]!, mean);
    edit.replace(n.outputs[3]!, rstd);
    edit.replace(n.outputs[4]!, variance);
    const centred = edit.emit("sub", [n.inputs[0]!, mean], {}, at)[0]!;
    edit.replace(xh, edit.emit("mul", [centred, rstd], {}, at)[0]!);
    changed = true;
  }
  return changed ? dce(edit.build()) : g;
}
