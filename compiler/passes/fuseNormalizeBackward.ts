/**
 * Normalization backward: normalize's vjp spelled in primitives (means along the axis, keepdims),
 *
 *   dx = mul(sub(sub(g, mean(g)), mul(x̂, mean(mul(g, x̂)))), rstd)
 *      = rstd·(g − mean(g) − x̂·mean(g·x̂))
 *
 * and, when g = mul(dy, γ) (the cotangent through the affine y = x̂·γ + β), the affine's
 * parameter gradients dγ = sum(mul(dy, x̂), [0]) and dβ = sum(dy, [0]) become ONE
 * `norm_backward` kernel → (dx, dγ, dβ); without an affine, norm_backward(g, …) → dx.
 *
 * x̂ and rstd must be outputs of one norm_forward (made by fuseNormalize). The kernel reads that
 * node's x and statistics and recomputes x̂ = (x − μ)·rstd, so afterwards the forward stops
 * writing x̂ when nothing else reads it. Operands of add/mul may come in either order; anything
 * that does not match exactly is left as it was.
 */
import type { Graph, Node } from "../ir/graph.js";
import { sameShape, type V } from "../ir/types.js";
import { GraphIndex, orders, perColumn, reducesOver, Splice, type NodeOf } from "./match.js";

/** g when d = mul(sub(sub(g, mean(g)), mul(x̂, mean(mul(g, x̂)))), rstd), else undefined. */
function matchDx(ix: GraphIndex, d: NodeOf<"mul">, xhat: V, rstd: V, axis: number): V | undefined {
  // mean(v, [axis], keepdims) → v
  const meanOf = (v: V): V | undefined => {
    const m = ix.def(v, "mean");
    return m && m.attrs.keepdims && reducesOver(m, [axis], 2) ? m.inputs[0] : undefined;
  };
  for (const [a, r] of orders(d)) {
    const s = r === rstd ? ix.def(a, "sub") : undefined;
    const centered = s && ix.def(s.inputs[0]!, "sub");
    const c = s && ix.def(s.inputs[1]!, "mul");
    if (!centered || !c) continue;
    const g = centered.inputs[0]!;
    if (meanOf(centered.inputs[1]!) !== g || !sameShape(ix.shape(g), ix.shape(xhat))) continue;
    for (const [xh, m2] of orders(c)) {
      const p = xh === xhat ? meanOf(m2) : undefined;
      const pm = p === undefined ? undefined : ix.def(p, "mul");
      if (pm && orders(pm).some(([u, w]) => u === g && w === xhat)) return g;
    }
  }
  return undefined;
}

/** The sums over the batch axis standing for dβ = Σ dy and dγ = Σ dy·x̂ (any keepdims). */
function paramGrads(ix: GraphIndex, dy: V, xhat: V): { dgamma: Node[]; dbeta: Node[] } {
  const overRows = (n: NodeOf<"sum">) => reducesOver(n, [0], 2);
  const dgamma = ix.readers(dy, "mul")
    .filter((m) => orders(m).some(([u, w]) => u === dy && w === xhat))
    .flatMap((m) => ix.readers(m.outputs[0]!, "sum").filter(overRows));
  return { dgamma, dbeta: ix.readers(dy, "sum").filter(overRows) };
}

function fuseBackward(g: Graph): Graph {
  const ix = new GraphIndex(g);
  const edit = new Splice(g);
  let changed = false;
  for (const f of g.nodes) {
    if (f.op !== "norm_forward") continue;
    const axis = f.attrs.axis < 0 ? f.attrs.axis + 2 : f.attrs.axis;
    const xhat = f.attrs.affine ? (f.attrs.xhat ? f.outputs[1] : undefined) : f.outputs[0];
    if (xhat === undefined) continue;
    const [mean, rstd] = f.outputs.slice(-3) as [V, V];
    const x = f.inputs[0]!, cols = ix.shape(x)[1]!;
    for (const d of ix.readers(rstd, "mul")) {
      const grad = matchDx(ix, d, xhat, rstd, axis);
      if (grad === undefined) continue;
      // g = dy·γ with γ per column: fold the affine's backward in too.
      const gm = ix.def(grad, "mul");
      const split = gm && orders(gm).find(([dy, gamma]) => dy !== gamma && sameShape(ix.shape(dy), ix.shape(x)) && perColumn(ix.shape(gamma), cols));
      const ins = split ? [split[0], x, mean, rstd, split[1]] : [grad, x, mean, rstd];
      // A sum may stand for dγ or dβ only if the kernel's inputs do not depend on it.
      const needed = ix.ancestors(ins);
      const free = (ns: readonly Node[]) => ns.filter((n) => !needed.has(n.outputs[0]!));
      const sums = split ? paramGrads(ix, split[0], xhat) : { dgamma: [], dbeta: [] };
      const [dgamma, dbeta] = [free(sums.dgamma), free(sums.dbeta)];
      const at = Math.min(...[d, ...dgamma, ...dbeta].map((n) => ix.position(n)));
      const outs = edit.emit("norm_backward", ins, { axis, affine: split !== undefined }, at);
      edit.replace(d.outputs[0]!, outs[0]!);
      for (const s of dgamma) edit.replace(s.outputs[0]!, edit.reshape(outs[1]!, ix.shape(s.outputs[0]!), at));
      for (const s of dbeta) edit.replace(s.outputs[0]!, edit.reshape(outs[2]!, ix.shape(s.outputs[0]!), at));
      changed = true;
    }
  }
  return changed ? edit.build() : g;
}

/** norm_forward stops writing x̂ once nothing reads it. */
function dropUnreadXhat(g: Graph): Graph {
  const ix = new GraphIndex(g);
  const edit = new Splice(g);
  let changed = false;
  for (const f of g.nodes) {
    if (f.op !== "norm_forward" || !f.attrs.xhat || ix.uses(f.outputs[1]!) > 0) continue;
    const outs = edit.emit("norm_forward", f.inputs, { ...f.attrs, xhat: false }, ix.position(f));
    [f.outputs[0]!, ...f.outputs.slice(2)].forEach((v, k) => edit.replace(v, outs[k]!));
    changed = true;
  }
  return changed ? edit.build() : g;
}

export const fuseNormalizeBackward = (g: Graph): Graph => dropUnreadXhat(fuseBackward(g));
