/**
 * The rewrite engine shared by the local passes: walk the nodes in order, remap inputs through
 * the substitutions made so far, and let a rule replace a node by an existing value or by new
 * nodes. The result is rebuilt through GraphBuilder (so every shape rule is re-checked) and
 * cleaned by DCE.
 */
import { GraphBuilder, mergeOrigins } from "../ir/builder.js";
import type { Graph, Node } from "../ir/graph.js";
import type { V } from "../ir/types.js";
import type { OpName } from "../ops/index.js";
import { canonical, dce } from "./dce.js";

/** What a rule sees: the node (inputs already remapped) and a view of the graph being built. */
export interface RewriteContext {
  readonly b: GraphBuilder;
  /** The node that produced v in the new graph, if any (inputs are not produced by nodes). */
  readonly producer: (v: V) => Node | undefined;
  /** The value of v if it is a constant fill, else undefined. */
  readonly constant: (v: V) => number | undefined;
  /** How many node inputs and graph outputs read v in the graph being rewritten. */
  readonly uses: (v: V) => number;
}

/** A rule returns the values replacing the node's outputs, or null to keep the node. */
export type Rule = (n: Node, ctx: RewriteContext) => readonly V[] | null;

export function rewrite(g: Graph, rules: readonly Rule[]): Graph {
  const b = new GraphBuilder({ ...g, nodes: [], outputs: [] });
  const subst = new Map<V, V>();
  const made = new Map<V, Node>();
  const r = (v: V) => subst.get(v) ?? v;
  const producer = (v: V) => made.get(v);
  const constant = (v: V) => {
    const p = made.get(v);
    return p?.op === "constant" ? p.attrs.value : undefined;
  };
  const oldUses = new Map<V, number>();
  const count = (v: V) => oldUses.set(v, (oldUses.get(v) ?? 0) + 1);
  g.nodes.forEach((n) => n.inputs.forEach(count));
  g.outputs.forEach((o) => count(o.value));
  const origin = new Map<V, V>(); // new value → the old value it stands for
  const uses = (v: V) => oldUses.get(origin.get(v) ?? v) ?? 0;
  const ctx: RewriteContext = { b, producer, constant, uses };
  let fired = false;
  for (const old of g.nodes) {
    // The node as the rules see it: its inputs remapped (the node itself when none moved).
    let moved = false;
    const inputs = old.inputs.map((v) => { const w = r(v); if (w !== v) moved = true; return w; });
    const n = moved ? withInputs(old, inputs) : old;
    const before = b.nodeCount;
    let outs: readonly V[] | null = null;
    for (const rule of rules) {
      outs = rule(n, ctx);
      if (outs) break;
    }
    if (outs !== null) fired = true;
    if (outs === null) {
      // No rule applied: the node is emitted as it is, with its own provenance (what the
      // annotation below would give it: its one new node reads every input).
      outs = b.withOrigin(old.at, () => b.emitMulti(n.op as OpName, n.inputs, n.attrs as never));
    } else if (b.nodeCount > before) {
      // Provenance: new nodes stand for the old one and for the producers they absorbed (inputs
      // of the old node that no new node reads, e.g. the matmul a linear replaces).
      const read = new Set<V>();
      for (let i = before; i < b.nodeCount; i++) for (const v of b.node(i).inputs) read.add(v);
      let at = old.at;
      for (const v of n.inputs) if (!read.has(v)) at = mergeOrigins(at, made.get(v)?.at);
      b.annotate(before, at);
    }
    const got = outs;
    old.outputs.forEach((v, k) => { subst.set(v, got[k]!); if (!origin.has(got[k]!)) origin.set(got[k]!, v); });
    for (let i = before; i < b.nodeCount; i++) {
      const m = b.node(i);
      for (const v of m.outputs) made.set(v, m);
    }
  }
  // No rule applied anywhere: a canonical graph would come back equal to itself (see canonical).
  if (!fired && canonical.has(g)) return g;
  for (const o of g.outputs) b.output(o.name, o.kind, r(o.value));
  const out = dce(b.build());
  canonical.add(out);
  return out;
}

/**
 * The node with other inputs. Written out rather than `{ ...old, inputs }`: V8's object spread
 * of nodes of many shapes was a fifth of the rewrite loop's own time (CPU profile of compile()
 * on the lecture's 50-layer net). `scope` and `at` stay absent when absent (checkGraph refuses
 * a `scope` key that is not a string).
 */
function withInputs(old: Node, inputs: readonly V[]): Node {
  const n: { op: string; inputs: readonly V[]; outputs: readonly V[]; attrs: unknown; at?: readonly string[]; scope?: string } =
    { op: old.op, inputs, outputs: old.outputs, attrs: old.attrs };
  if (old.at !== undefined) n.at = old.at;
  if (old.scope !== undefined) n.scope = old.scope;
  return n as Node;
}
