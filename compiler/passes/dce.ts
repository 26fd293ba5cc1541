/**
 * Dead-code elimination: keep the nodes some output depends on, drop the rest, and renumber
 * values densely (inputs first, then node outputs in order). Inputs are kept even when unused:
 * they are the program's calling convention.
 *
 * Runs after every rewrite, so it is one backward sweep and one forward sweep over flat arrays
 * indexed by value (a graph's values are 0…n−1).
 */
import type { Graph, Node } from "../ir/graph.js";
import type { V } from "../ir/types.js";

/**
 * Graphs as `rewrite` leaves them: numbered densely (inputs, then node outputs in order), every
 * node live, no `scope`, nodes keyed op/inputs/outputs/attrs[/at], every node's types made by
 * its op's shape rule from the graph's own input types. Re-emitting such a graph node by node
 * and cleaning it gives an equal graph, so a rewrite that changes nothing (and DCE) may return
 * it as it is (as the pattern-matching fusions return their input when nothing matched).
 */
export const canonical = new WeakSet<Graph>();

export function dce(g: Graph): Graph {
  if (canonical.has(g)) return g; // already dense with every node live
  const n = g.values.length;
  const inRange = (v: V) => Number.isInteger(v) && v >= 0 && v < n;
  const live = new Uint8Array(n);
  for (const o of g.outputs) if (inRange(o.value)) live[o.value] = 1;
  const keep: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const node = g.nodes[i]!;
    let used = false;
    for (const v of node.outputs) if (live[v] === 1) { used = true; break; }
    if (!used) continue;
    keep.push(node);
    for (const v of node.inputs) if (inRange(v)) live[v] = 1;
  }
  keep.reverse();
  // New number + 1 of each old value (0: none), so a value no input or kept node defines maps to
  // undefined, as in a map lookup.
  const renumber = new Int32Array(n);
  const values: Graph["values"][number][] = [];
  const define = (v: V) => {
    if (inRange(v)) renumber[v] = values.length + 1;
    values.push(g.values[v]!);
  };
  for (const i of g.inputs) define(i.value);
  for (const node of keep) for (const v of node.outputs) define(v);
  const r = (v: V): V => (inRange(v) && renumber[v]! > 0 ? renumber[v]! - 1 : (undefined as unknown as V));
  return {
    values,
    inputs: g.inputs.map((i) => ({ ...i, value: r(i.value) })),
    nodes: keep.map((node) => ({ ...node, inputs: node.inputs.map(r), outputs: node.outputs.map(r) }) as Node),
    outputs: g.outputs.map((o) => ({ ...o, value: r(o.value) })),
  };
}
