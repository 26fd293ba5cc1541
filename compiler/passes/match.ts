/**
 * Pattern matching over a whole graph, for the fusion passes whose patterns span many nodes
 * (a normalization backward, softmax + cross-entropy): `GraphIndex` answers "who made v, who
 * reads v", and `Splice` adds fused nodes and substitutes values, then restores SSA order
 * (toposort) and drops what became dead (DCE). Nothing else: the reshape chains a splice leaves
 * are folded by the `simplify` the pipeline runs after each such pass (compiler/pipeline.ts),
 * so a pass's output shows only its own rewrite.
 *
 * A splice only ever replaces a value by one that computes the same thing, so a partial match
 * is still correct: nodes some other reader needs simply stay.
 */
import { GraphBuilder } from "../ir/builder.js";
import type { Graph, Node } from "../ir/graph.js";
import { perColumn, type V, type ValueType } from "../ir/types.js";

export { perColumn };
import { ops, type AttrsOf, type OpName } from "../ops/index.js";
import { dce } from "./dce.js";
import { toposort } from "./toposort.js";

export type NodeOf<K extends OpName> = Extract<Node, { op: K }>;

export class GraphIndex {
  private readonly made = new Map<V, Node>();
  private readonly at = new Map<Node, number>();
  private readonly read = new Map<V, Node[]>();
  private readonly count = new Map<V, number>();

  constructor(readonly g: Graph) {
    g.nodes.forEach((n, i) => {
      this.at.set(n, i);
      for (const v of n.outputs) this.made.set(v, n);
      for (const v of n.inputs) this.count.set(v, (this.count.get(v) ?? 0) + 1);
      for (const v of new Set(n.inputs)) { const rs = this.read.get(v); if (rs) rs.push(n); else this.read.set(v, [n]); }
    });
    for (const o of g.outputs) this.count.set(o.value, (this.count.get(o.value) ?? 0) + 1);
  }

  type(v: V): ValueType {
    return this.g.values[v]!;
  }

  shape(v: V): readonly number[] {
    return this.g.values[v]!.shape;
  }

  producer(v: V): Node | undefined {
    return this.made.get(v);
  }

  position(n: Node): number {
    return this.at.get(n)!;
  }

  /** The producer of v if it is an `op` node. */
  def<K extends OpName>(v: V, op: K): NodeOf<K> | undefined {
    const n = this.made.get(v);
    return n?.op === op ? (n as NodeOf<K>) : undefined;
  }

  /** The `op` nodes reading v, in graph order. */
  readers<K extends OpName>(v: V, op: K): NodeOf<K>[] {
    return (this.read.get(v) ?? []).filter((n): n is NodeOf<K> => n.op === op);
  }

  /** Reads of v by nodes (an operand twice counts twice) and by graph outputs. */
  uses(v: V): number {
    return this.count.get(v) ?? 0;
  }

  /** The value of a `constant` fill, if v is one. */
  constant(v: V): number | undefined {
    return this.def(v, "constant")?.attrs.value;
  }

  /** Every value v depends on, v included (the inputs of its producer, transitively). */
  ancestors(vs: readonly V[]): Set<V> {
    const seen = new Set<V>();
    const stack = [...vs];
    while (stack.length > 0) {
      const v = stack.pop()!;
      if (seen.has(v)) continue;
      seen.add(v);
      stack.push(...(this.made.get(v)?.inputs ?? []));
    }
    return seen;
  }
}

/** Both operand orders of a commutative binary node (add, mul). */
export const orders = (n: Node): [V, V][] => [[n.inputs[0]!, n.inputs[1]!], [n.inputs[1]!, n.inputs[0]!]];

/** Does a sum/mean node reduce exactly `axes` of its rank-`rank` input (axes given non-negative)? */
export function reducesOver(n: NodeOf<"sum" | "mean">, axes: readonly number[], rank: number): boolean {
  const got = n.attrs.axes.map((a) => (a < 0 ? a + rank : a)).sort();
  return got.length === axes.length && [...axes].sort().every((a, i) => a === got[i]);
}

/** Shape [n] or [1, n]: one value per column of a [rows, n] matrix. */
/** Edits to a graph: add nodes, substitute values, then `build` the result. */
export class Splice {
  private readonly values: ValueType[];
  private readonly added = new Map<number, Node[]>(); // old node position → nodes placed before it
  private readonly subst = new Map<V, V>();

  constructor(private readonly g: Graph) {
    this.values = [...g.values];
  }

  /** Add an op before the node at `before` (its types from the op's shape rule); its outputs. */
  emit<K extends OpName>(op: K, inputs: readonly V[], attrs: AttrsOf<K>, before: number): V[] {
    const types = ops[op].shapes(inputs.map((v) => this.values[v]!), attrs);
    const outputs = types.map((t) => this.values.push(t) - 1);
    // Provenance: the fused node's family starts at `before` (one layer's statistics or gradient).
    const at = this.g.nodes[before]?.at;
    const node = (at ? { op, inputs: [...inputs], outputs, attrs, at } : { op, inputs: [...inputs], outputs, attrs }) as Node;
    const here = this.added.get(before);
    if (here) here.push(node);
    else this.added.set(before, [node]);
    return outputs;
  }

  /** v seen at another shape of the same size (no node when the shape already is that). */
  reshape(v: V, shape: readonly number[], before: number): V {
    const from = this.values[v]!.shape;
    if (from.length === shape.length && from.every((d, i) => d === shape[i])) return v;
    return this.emit("reshape", [v], { shape: [...shape] }, before)[0]!;
  }

  /** Every reader of `old` (nodes and graph outputs) reads `by` instead. */
  replace(old: V, by: V): void {
    this.subst.set(old, by);
  }

  build(): Graph {
    const r = (v: V): V => {
      for (let n = 0; this.subst.has(v) && n <= this.subst.size; n++) v = this.subst.get(v)!;
      return v;
    };
    const nodes: Node[] = [];
    this.g.nodes.forEach((n, i) => nodes.push(...(this.added.get(i) ?? []), n));
    nodes.push(...(this.added.get(this.g.nodes.length) ?? []));
    const g: Graph = {
      ...this.g,
      values: this.values,
      nodes: nodes.map((n) => ({ ...n, inputs: n.inputs.map(r) }) as Node),
      outputs: this.g.outputs.map((o) => ({ ...o, value: r(o.value) })),
    };
    // Rebuilt through the builder so every shape rule is checked again.
    return new GraphBuilder(dce(toposort(g))).build();
  }
}
