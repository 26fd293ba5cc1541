/**
 * Softmax cross-entropy, forward and backward, as one `softmax_xent` kernel over the logits z:
 *
 *   loss = mul(sum(mul(log_softmax(z), onehot), [0,1]), s)                 → scale = s
 *   dz   = sub(q, mul(exp(log_softmax(z)), sum(q, [1], keepdims)))         → gradScale = c
 *          with q = mul(c, onehot)
 *
 * (what softmaxCrossEntropy's loss and log_softmax's vjp give after simplify, s = c = −1/B).
 * Algebra: dz = c·onehot − softmax(z)·c·Σ_j onehot, which the kernel computes from z and the
 * integer labels without materializing log_softmax, exp or the one-hot matrix. Without the
 * final mul by s, the sum itself is the loss (scale = 1). Both patterns must be present.
 */
import type { Graph, Node } from "../ir/graph.js";
import { sameShape, type V } from "../ir/types.js";
import { GraphIndex, orders, reducesOver, Splice, type NodeOf } from "./match.js";

/** The scalar c and the one-hot matrix when v = mul(c, onehot), c a scalar constant. */
function scaledOneHot(ix: GraphIndex, v: V): { c: number; onehot: V } | undefined {
  const m = ix.def(v, "mul");
  for (const [k, oh] of m ? orders(m) : []) {
    const c = ix.constant(k);
    if (c !== undefined && ix.shape(k).length === 0 && ix.def(oh, "one_hot")) return { c, onehot: oh };
  }
  return undefined;
}

/** The loss node and its scale: [mul(] sum(mul(logp, onehot), [0,1]) [, s)]. */
function findLoss(ix: GraphIndex, logp: V, onehot: V): { node: Node; scale: number } | undefined {
  for (const p of ix.readers(logp, "mul")) {
    if (!orders(p).some(([a, b]) => a === logp && b === onehot)) continue;
    for (const s of ix.readers(p.outputs[0]!, "sum")) {
      if (!reducesOver(s, [0, 1], 2)) continue;
      const scaled = ix.uses(s.outputs[0]!) === 1 ? ix.readers(s.outputs[0]!, "mul")[0] : undefined;
      const k = scaled && orders(scaled).find(([a, b]) => a === s.outputs[0] && ix.shape(b).length === 0 && ix.constant(b) !== undefined)?.[1];
      if (scaled && k !== undefined && ix.shape(scaled.outputs[0]!).length === ix.shape(s.outputs[0]!).length) {
        return { node: scaled, scale: ix.constant(k)! };
      }
      return { node: s, scale: 1 };
    }
  }
  return undefined;
}

/** dz = sub(q, mul(exp(logp), sum(q, [1], keepdims))), q = mul(c, onehot). */
function findGrad(ix: GraphIndex, logp: V): { node: NodeOf<"sub">; c: number; onehot: V } | undefined {
  for (const e of ix.readers(logp, "exp")) {
    for (const m of ix.readers(e.outputs[0]!, "mul")) {
      for (const [u, rowSum] of orders(m)) {
        const s = u === e.outputs[0] ? ix.def(rowSum, "sum") : undefined;
        if (!s || !s.attrs.keepdims || !reducesOver(s, [1], 2)) continue;
        const q = s.inputs[0]!, scaled = scaledOneHot(ix, q);
        const node = ix.readers(m.outputs[0]!, "sub").find((d) => d.inputs[0] === q && d.inputs[1] === m.outputs[0]);
        if (scaled && node) return { node, ...scaled };
      }
    }
  }
  return undefined;
}

export function fuseSoftmaxCrossEntropy(g: Graph): Graph {
  const ix = new GraphIndex(g);
  const edit = new Splice(g);
  let changed = false;
  for (const n of g.nodes) {
    if (n.op !== "log_softmax") continue;
    const z = n.inputs[0]!, logp = n.outputs[0]!;
    if (ix.shape(z).length !== 2 || (n.attrs.axis !== 1 && n.attrs.axis !== -1)) continue;
    const grad = findGrad(ix, logp);
    const oh = grad && ix.def(grad.onehot, "one_hot");
    if (!grad || !oh || !sameShape(ix.shape(grad.onehot), ix.shape(z))) continue;
    const loss = findLoss(ix, logp, grad.onehot);
    if (!loss) continue;
    const at = Math.min(ix.position(loss.node), ix.position(grad.node));
    const [l, dz] = edit.emit("softmax_xent", [z, oh.inputs[0]!], { scale: loss.scale, gradScale: grad.c }, at) as [V, V];
    edit.replace(loss.node.outputs[0]!, edit.reshape(l, ix.shape(loss.node.outputs[0]!), at));
    edit.replace(grad.node.outputs[0]!, dz);
    changed = true;
  }
  return changed ? edit.build() : g;
}
