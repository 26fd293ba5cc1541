/**
 * What the fusing passes leave of `log_softmax` and `normalize`, written with primitives that
 * have WebAssembly kernels. softmaxCrossEntropy's log_softmax becomes softmax_xent and a
 * matrix's normalize becomes norm_forward; a graph built by hand (compileGraph) can hold others —
 * a log_softmax on its own, a normalize of a rank-3 tensor — whose kernels are JavaScript loops
 * (the reference interpreter's). Here, along `axis`, with keepdims statistics:
 *
 *   log_softmax(x) = s − log Σ exp(s),   s = x − max(x)       (shifted: exp never overflows)
 *   normalize(x)   = d · rsqrt(mean(d²) + ε),   d = x − mean(x)
 *
 * the formulas of the JavaScript kernels, in float32 with float64 totals where the sum kernel
 * keeps them (runtime/wasm/reduce.ts). fuseElementwise then makes one loop of each chain of
 * elementwise steps, and fuseReductions puts the sums into them.
 */
import type { Graph } from "../ir/graph.js";
import { rewrite, type Rule } from "./rewrite.js";

const expand: Rule = (n, ctx) => {
  const { b } = ctx;
  if (n.op === "log_softmax") {
    const x = n.inputs[0]!, axis = n.attrs.axis;
    const s = b.sub(x, b.max(x, [axis], true));
    return [b.sub(s, b.log(b.sum(b.exp(s), [axis], true)))];
  }
  if (n.op === "normalize") {
    const x = n.inputs[0]!, { axis, eps } = n.attrs;
    const d = b.sub(x, b.mean(x, [axis], true));
    return [b.mul(d, b.rsqrt(b.add(b.mean(b.mul(d, d), [axis], true), b.scalar(eps))))];
  }
  return null;
};

/** Most graphs have none left: then no rebuild (a rewrite walks every node). */
export const expandNormalizations = (g: Graph): Graph =>
  g.nodes.some((n) => n.op === "log_softmax" || n.op === "normalize") ? rewrite(g, [expand]) : g;
