/**
 * The normalized values recomputed where they are read instead of stored. A norm_forward's y is
 * read only by elementwise ops in most models (an activation, dropout, a loss's difference, the
 * backward's relu gate), and so is its x̂ when it still returns one (xhat=true: the dγ sum of a
 * normalization whose input needs no gradient, as in seq(layerNorm(n)) on the data). Then the
 * readers take
 *
 *   x̂ = (x − μ)·rstd,   y = x̂·γ + β (affine) or x̂          μ, rstd: the op's own statistics
 *
 * instead, and the norm_forward computes its statistics only (y = false: two passes over x, no
 * store). fuseElementwise computes those few operations inside the readers' loops, which stream
 * x where they streamed y or x̂ (the same bytes). When y has another reader (a product, a probe)
 * but x̂ does not, only x̂ is recomputed. The bits are the stored ones: the normalization kernels
 * compute x̂ and y as exactly these float32 operations on the float32 μ and rstd they store
 * (runtime/wasm/norm.ts, batchnorm.ts).
 *
 * seq(layerNorm(1024)), mse, batch 256, net.gradients, one thread: x̂ recomputed took the forward
 * kernel from 154 to ~106 µs; with y recomputed too the forward kernel takes 39 µs where it took
 * 80 and the loss's loop 107 where it took 80 (it now computes y), the call 267 → 258 µs;
 * seq(batchNorm(1024)) the same way 359 → 322 µs. Models with a normalization before an
 * activation (W2, W2b, W5, W8) stay within noise (0.998–1.008).
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
  const recomputable = (v: V) => !outputs.has(v) && (readers.get(v) ?? []).every((r) => isElementwise(r.op));
  const edit = new Splice(g);
  let changed = false;
  for (const node of g.nodes) {
    if (node.op !== "norm_forward" || !node.attrs.y) continue;
    const n = node as NodeOf<"norm_forward">, a = n.attrs, x = n.inputs[0]!;
    const y = n.outputs[0]!, xh = a.xhat ? n.outputs[1]! : undefined;
    const withY = recomputable(y) && (xh === undefined || recomputable(xh));
    if (!withY && !(xh !== undefined && recomputable(xh))) continue;
    const at = ix.position(n);
    // Statistics only (outputs μ, rstd, σ²), or y still stored (y, μ, rstd, σ²).
    const outs = withY
      ? edit.emit("norm_forward", [x], { axis: a.axis, eps: a.eps, affine: false, xhat: false, y: false }, at)
      : edit.emit("norm_forward", n.inputs, { ...a, xhat: false }, at);
    const [mean, rstd] = outs.slice(-3) as [V, V, V];
    n.outputs.slice(-3).forEach((s, i) => edit.replace(s, outs[outs.length - 3 + i]!));
    const xhat = edit.emit("mul", [edit.emit("sub", [x, mean], {}, at)[0]!, rstd], {}, at)[0]!;
    if (xh !== undefined) edit.replace(xh, xhat);
    if (!withY) edit.replace(y, outs[0]!);
    else edit.replace(y, a.affine ? edit.emit("add", [edit.emit("mul", [xhat, n.inputs[1]!], {}, at)[0]!, n.inputs[2]!], {}, at)[0]! : xhat);
    changed = true;
  }
  return changed ? dce(edit.build()) : g;
}
