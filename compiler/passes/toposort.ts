/**
 * Stable topological order: nodes keep their given order unless a node needs a value defined
 * later, in which case it waits just until that value exists. Fusion passes emit fused nodes
 * where their last member was and let this restore SSA order.
 *
 * That is: repeatedly take the first node (in the given order) whose inputs all exist. Kept
 * linear-logarithmic: each node counts its inputs not yet defined, nodes whose count reaches
 * zero wait in a min-heap of their positions, and defining a value decrements its readers.
 */
import { GraphError } from "../../runtime/errors.js";
import type { Graph, Node } from "../ir/graph.js";
import type { V } from "../ir/types.js";

export function toposort(g: Graph): Graph {
  const defined = new Set<V>(g.inputs.map((i) => i.value));
  const missing = new Int32Array(g.nodes.length);
  const readers = new Map<V, number[]>();
  const ready = new MinHeap();
  g.nodes.forEach((n, k) => {
    for (const v of new Set(n.inputs)) {
      if (defined.has(v)) continue;
      missing[k]++;
      const rs = readers.get(v);
      if (rs) rs.push(k);
      else readers.set(v, [k]);
    }
    if (missing[k] === 0) ready.push(k);
  });
  const out: Node[] = [];
  while (out.length < g.nodes.length) {
    const k = ready.pop();
    if (k === undefined) throw new GraphError("toposort: the graph has a cycle");
    const n = g.nodes[k]!;
    out.push(n);
    for (const v of n.outputs) {
      if (defined.has(v)) continue;
      defined.add(v);
      for (const r of readers.get(v) ?? []) if (--missing[r] === 0) ready.push(r);
    }
  }
  return { ...g, nodes: out };
}

/** Binary min-heap of node positions. */
class MinHeap {
  private readonly a: number[] = [];

  push(x: number): void {
    const a = this.a;
    let i = a.push(x) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= x) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }

  pop(): number | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0]!, last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i, mv = last;
        if (l < a.length && a[l]! < mv) { m = l; mv = a[l]!; }
        if (r < a.length && a[r]! < mv) m = r;
        if (m === i) break;
        a[i] = a[m]!;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}
