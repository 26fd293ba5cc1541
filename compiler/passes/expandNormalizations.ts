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
 *
 * A softmax is exp(log_softmax(x)) (the DSL's, and the backward of every log_softmax); expanded,
 * that is exp(s − log S) with S = Σ exp(s), which `division` turns into exp(s) / S — PyTorch's
 * formula. The value exp(s) is already computed for S, so each element costs one exp instead of
 * two (and one rounding: exp(s − log S) carries log S's rounding times |s − log S|, about 1e-6
 * relative when s − log S ≈ −10). S ≥ 1 (the max's own term is exp(0)), so the division is safe.
 */
import type { Graph } from "../ir/graph.js";
import type { V } from "../ir/types.js";
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

const division: Rule = (n, { b, producer }) => {
  if (n.op !== "exp") return null;
  const diff = producer(n.inputs[0]!);
  if (diff?.op !== "sub") return null;
  const [s, logS] = diff.inputs as [V, V];
  const lg = producer(logS);
  if (lg?.op !== "log") return null;
  const S = producer(lg.inputs[0]!);
  if (S?.op !== "sum" || !S.attrs.keepdims) return null;
  const e = producer(S.inputs[0]!);
  if (e?.op !== "exp" || e.inputs[0] !== s) return null;
  // s must be x shifted by its own max along the summed axes: then S ≥ 1.
  const shift = producer(s);
  if (shift?.op !== "sub") return null;
  const m = producer(shift.inputs[1]!);
  if (m?.op !== "max" || !m.attrs.keepdims || m.inputs[0] !== shift.inputs[0]) return null;
  const rank = b.type(s).shape.length, axes = (a: readonly number[]) => a.map((x) => (x < 0 ? x + rank : x)).sort().join();
  if (axes(m.attrs.axes) !== axes(S.attrs.axes)) return null;
  return [b.div(S.inputs[0]!, lg.inputs[0]!)];
};

/** Most graphs have none left: then no rebuild (a rewrite walks every node). */
export const expandNormalizations = (g: Graph): Graph =>
  g.nodes.some((n) => n.op === "log_softmax" || n.op === "normalize") ? rewrite(g, [expand, division]) : g;
