/**
 * Stable topological order: nodes keep their given order unless a node needs a value defined
 * later, in which case it waits just until that value exists. Fusion passes emit fused nodes
 * where their last member was and let this restore SSA order.
 */
import { GraphError } from "../../runtime/errors.js";
import type { Graph, Node } from "../ir/graph.js";
import type { V } from "../ir/types.js";

export function toposort(g: Graph): Graph {
  const defined = new Set<V>(g.inputs.map((i) => i.value));
  const waiting: Node[] = [...g.nodes];
  const out: Node[] = [];
  while (waiting.length > 0) {
    const k = waiting.findIndex((n) => n.inputs.every((v) => defined.has(v)));
    if (k < 0) throw new GraphError("toposort: the graph has a cycle");
    const [n] = waiting.splice(k, 1);
    out.push(n!);
    for (const v of n!.outputs) defined.add(v);
  }
  return { ...g, nodes: out };
}
