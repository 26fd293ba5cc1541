/**
 * Dead-code elimination: keep the nodes some output depends on, drop the rest, and renumber
 * values densely (inputs first, then node outputs in order). Inputs are kept even when unused:
 * they are the program's calling convention.
 */
import type { Graph, Node } from "../ir/graph.js";
import type { V } from "../ir/types.js";

export function dce(g: Graph): Graph {
  const live = new Set<V>(g.outputs.map((o) => o.value));
  const keep: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((v) => live.has(v))) continue;
    keep.push(n);
    for (const v of n.inputs) live.add(v);
  }
  keep.reverse();
  const renumber = new Map<V, V>();
  const values = [...g.inputs.map((i) => i.value), ...keep.flatMap((n) => n.outputs)].map((v, k) => {
    renumber.set(v, k);
    return g.values[v]!;
  });
  const r = (v: V) => renumber.get(v)!;
  return {
    values,
    inputs: g.inputs.map((i) => ({ ...i, value: r(i.value) })),
    nodes: keep.map((n) => ({ ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) }) as Node),
    outputs: g.outputs.map((o) => ({ ...o, value: r(o.value) })),
  };
}
