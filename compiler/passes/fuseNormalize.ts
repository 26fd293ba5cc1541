/**
 * Normalization forward: each normalize(x)[axis, eps] of a matrix becomes one `norm_forward`
 * kernel, which also returns the statistics it computes, so nothing recomputes them:
 *
 *   add(mul(normalize(x), γ), β)           → y = x̂·γ + β         affine folded (γ, β per column)
 *   mean(x, [axis])                        → μ                    batchNorm's running mean
 *   mean((x − μ)², [axis])                 → σ²                   its running variance (biased;
 *                                                                  the B/(B−1) factor stays a mul)
 *   rsqrt(mean((x − μ)², [axis]) + eps)    → rstd                 recomputed by normalize's vjp
 *
 * (x − μ)² is matched as mul(c, c) with c = sub(x, μ) or sub(μ, x); the means may keep dims or
 * not (a reshape of the keepdims statistic then stands for them). x̂ itself stays an output
 * (xhat=true) only when something besides the affine reads it — the unfused backward does, until
 * fuseNormalizeBackward replaces it.
 */
import type { Graph, Node } from "../ir/graph.js";
import { sameShape, type V } from "../ir/types.js";
import { GraphIndex, orders, perColumn, reducesOver, Splice, type NodeOf } from "./match.js";

/** The statistics subgraphs of (x, axis) found in the graph, by what they compute. */
interface Stats {
  readonly means: NodeOf<"mean">[];
  readonly vars: NodeOf<"mean">[];
  /** rsqrt nodes with the eps they add. */
  readonly rstds: { node: NodeOf<"rsqrt">; eps: number }[];
}

function findStats(ix: GraphIndex, x: V, axis: number): Stats {
  const over = (n: NodeOf<"mean">) => reducesOver(n, [axis], 2);
  const means = ix.readers(x, "mean").filter(over);
  const vars: NodeOf<"mean">[] = [];
  // x − μ must subtract each group's own mean: μ keeps its dims, or is [cols] along axis 0
  // (a [rows] mean would broadcast along the columns instead).
  for (const m of means.filter((m) => m.attrs.keepdims || axis === 0)) {
    for (const c of ix.readers(m.outputs[0]!, "sub")) {
      if (!orders(c).some(([a, b]) => a === x && b === m.outputs[0])) continue;
      for (const sq of ix.readers(c.outputs[0]!, "mul")) {
        if (sq.inputs[0] !== sq.inputs[1]) continue;
        vars.push(...ix.readers(sq.outputs[0]!, "mean").filter(over));
      }
    }
  }
  const rstds: Stats["rstds"] = [];
  for (const v of vars) {
    for (const add of ix.readers(v.outputs[0]!, "add")) {
      const eps = orders(add).map(([a, b]) => (a === v.outputs[0] ? ix.constant(b) : undefined)).find((e) => e !== undefined);
      // The add must not broadcast the variance to a larger shape.
      if (eps === undefined || !sameShape(ix.shape(add.outputs[0]!), ix.shape(v.outputs[0]!))) continue;
      for (const node of ix.readers(add.outputs[0]!, "rsqrt")) rstds.push({ node, eps });
    }
  }
  return { means, vars, rstds };
}

/** The affine after x̂: mul(x̂, γ) read only by add(·, β), γ and β per column and not made from x. */
function findAffine(ix: GraphIndex, n: NodeOf<"normalize">): { gamma: V; beta: V; add: Node } | null {
  const xhat = n.outputs[0]!, cols = ix.shape(xhat)[1]!;
  for (const m of ix.readers(xhat, "mul")) {
    for (const [a, gamma] of orders(m)) {
      if (a !== xhat || gamma === xhat || !perColumn(ix.shape(gamma), cols) || ix.uses(m.outputs[0]!) !== 1) continue;
      const add = ix.readers(m.outputs[0]!, "add")[0];
      const beta = add && orders(add).find(([p]) => p === m.outputs[0])?.[1];
      if (!add || beta === undefined || beta === m.outputs[0] || !perColumn(ix.shape(beta), cols)) continue;
      // γ, β must not depend on x, or the fused node could feed its own inputs.
      if (ix.ancestors([gamma, beta]).has(n.inputs[0]!)) continue;
      return { gamma, beta, add };
    }
  }
  return null;
}

export function fuseNormalize(g: Graph): Graph {
  const ix = new GraphIndex(g);
  const edit = new Splice(g);
  const claimed = new Set<Node>(); // statistics nodes already standing for some fused output
  let changed = false;
  for (const n of g.nodes) {
    if (n.op !== "normalize") continue;
    const x = n.inputs[0]!, shape = ix.shape(x);
    if (shape.length !== 2) continue;
    const axis = n.attrs.axis < 0 ? n.attrs.axis + 2 : n.attrs.axis, eps = n.attrs.eps;
    const stats = findStats(ix, x, axis);
    const mine = <T extends Node>(nodes: readonly T[]) => nodes.filter((s) => !claimed.has(s));
    const means = mine(stats.means), vars = mine(stats.vars);
    const rstds = mine(stats.rstds.filter((r) => r.eps === eps).map((r) => r.node));
    const affine = findAffine(ix, n);
    const xhat = affine !== null && ix.uses(n.outputs[0]!) > 1;
    // Placed before the first node it stands for; toposort delays it if γ or β come later
    // (findAffine rules out a cycle).
    const family: Node[] = [n, ...means, ...vars, ...rstds];
    const at = Math.min(...family.map((s) => ix.position(s)));
    const ins = affine ? [x, affine.gamma, affine.beta] : [x];
    const outs = edit.emit("norm_forward", ins, { axis, eps, affine: affine !== null, xhat, y: true }, at);
    const [y, xh] = [outs[0]!, xhat ? outs[1]! : outs[0]!];
    const [mean, rstd, variance] = outs.slice(-3) as [V, V, V];
    if (affine) edit.replace(affine.add.outputs[0]!, y);
    if (!affine || xhat) edit.replace(n.outputs[0]!, xh);
    const stand = (nodes: readonly Node[], by: V) => {
      for (const s of nodes) { edit.replace(s.outputs[0]!, edit.reshape(by, ix.shape(s.outputs[0]!), at)); claimed.add(s); }
    };
    stand(means, mean);
    stand(vars, variance);
    stand(rstds, rstd);
    changed = true;
  }
  return changed ? edit.build() : g;
}
