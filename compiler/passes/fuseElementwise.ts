/**
 * Elementwise fusion: chains of elementwise primitives over the same output shape become one
 * `fused_elementwise` node — one loop, intermediates in registers, never in memory. Scalar
 * constants become literals, `broadcast_to` becomes a strided read, and `dropout_mask` is
 * recomputed inside the loop that consumes it (the mask is never materialized).
 *
 * Grouping, in node order: a node joins the group of one of its inputs when every other input
 * is a graph input, a value of that group, or a value defined before the group's first node —
 * then no path can leave the group and come back, so the fused node cannot form a cycle.
 */
import { GraphError } from "../../runtime/errors.js";
import { GraphBuilder, mergeOrigins } from "../ir/builder.js";
import type { Graph, Node } from "../ir/graph.js";
import { sameShape, type V } from "../ir/types.js";
import type { ElementInstr } from "../ops/fused_elementwise.js";
import { isElementwise, scalarOps } from "../ops/index.js";
import { dce } from "./dce.js";
import { toposort } from "./toposort.js";

/** Nodes read by groups without being members: literals, masks and broadcasts. */
const ABSORBED = new Set<string>(["constant", "dropout_mask", "broadcast_to"]);

/** Nodes searched for a path back into a group before the answer is "depends" (see before). */
const DEPENDS_LIMIT = 64;

interface Group { readonly first: number; readonly members: Node[]; readonly shape: readonly number[] }

export function fuseElementwise(g: Graph): Graph {
  // A late read (below) is checked against its reader's group as it stands; the group it reads
  // from may still grow by a node that depends on the reader (rsqrt(v)'s [n] loop later taking
  // k·Σ(x − μ)), closing a cycle between the two fused nodes. toposort finds it; then the graph
  // is fused again with late reads off (the grouping before them, which cannot form cycles).
  try {
    return fuse(g, true);
  } catch (e) {
    if (e instanceof GraphError && e.message.includes("cycle")) return fuse(g, false);
    throw e;
  }
}

/**
 * The most buffers one fused loop may take: its kernel is a WebAssembly function of one parameter
 * per buffer, and engines refuse more than 1,000 (V8). Counted as the group's distinct outside
 * inputs plus one per member (each may be an output); a node that would pass it starts a loop of
 * its own (a sum of a thousand slices is two loops, never a module that does not compile).
 */
const MAX_LOOP_BUFFERS = 512;
function buffers(members: readonly Node[]): number {
  const made = new Set(members.flatMap((m) => m.outputs));
  return new Set(members.flatMap((m) => m.inputs.filter((v) => !made.has(v)))).size + members.length;
}

function fuse(g: Graph, lateReads: boolean): Graph {
  const producer = new Map<V, { node: Node; index: number }>();
  const order = new Map<Node, number>(g.nodes.map((n, i) => [n, i]));
  g.nodes.forEach((node, index) => node.outputs.forEach((v) => producer.set(v, { node, index })));
  const groupOf = new Map<V, Group>();
  const groups: Group[] = [];

  // A value a group can read: made before the group's first node, or after it by nodes that do
  // not depend on the group (a [n] statistic computed between two [B, n] loops, as batchNorm's
  // rsqrt(running_var + ε) between x − μ and the affine in eval: one loop instead of two). The
  // search back from its producer stops at the group's first node; past DEPENDS_LIMIT nodes it
  // answers "depends" (no fusion, as before) to keep the pass linear on deep graphs.
  const before = (v: V, grp: Group): boolean => {
    const p = producer.get(v);
    if (!p) return true;
    if (groupOf.get(v) === grp) return true;
    if (ABSORBED.has(p.node.op)) return p.node.inputs.every((u) => before(u, grp));
    return p.index < grp.first || (lateReads && !dependsOn(p.node, grp));
  };
  const dependsOn = (start: Node, grp: Group): boolean => {
    const seen = new Set<Node>([start]);
    const stack = [start];
    while (stack.length > 0) {
      for (const u of stack.pop()!.inputs) {
        if (groupOf.get(u) === grp) return true;
        const q = producer.get(u);
        if (!q || q.index < grp.first || seen.has(q.node)) continue;
        if (seen.size >= DEPENDS_LIMIT) return true;
        seen.add(q.node);
        stack.push(q.node);
      }
    }
    return false;
  };
  const fits = (grp: Group) => grp.members.every((m) => m.inputs.every((v) => before(v, grp)));

  g.nodes.forEach((n, index) => {
    // Every elementwise primitive is fusible: its definition says how to compute one element.
    if (!isElementwise(n.op) || g.values[n.outputs[0]!]!.dtype !== "f32") return;
    const shape = g.values[n.outputs[0]!]!.shape;
    const candidates = [...new Set(n.inputs.map((v) => groupOf.get(v)))]
      .filter((x): x is Group => x !== undefined && sameShape(x.shape, shape));
    // Prefer merging every input group into one (a diamond becomes one loop), else join one.
    const merged: Group = {
      first: Math.min(index, ...candidates.map((c) => c.first)),
      members: [...candidates.flatMap((c) => c.members), n].sort((a, b) => order.get(a)! - order.get(b)!),
      shape,
    };
    for (const m of merged.members) groupOf.set(m.outputs[0]!, merged);
    if (candidates.length > 0 && fits(merged) && buffers(merged.members) <= MAX_LOOP_BUFFERS) {
      for (const c of candidates) groups.splice(groups.indexOf(c), 1);
      groups.push(merged);
      return;
    }
    // Undo the tentative merge.
    for (const c of candidates) for (const m of c.members) groupOf.set(m.outputs[0]!, c);
    const grp = candidates.find((c) => n.inputs.every((v) => before(v, c) || groupOf.get(v) === c) && buffers([...c.members, n]) <= MAX_LOOP_BUFFERS)
      ?? { first: index, members: [], shape };
    if (!grp.members.length) groups.push(grp);
    grp.members.push(n);
    groupOf.set(n.outputs[0]!, grp);
  });

  // Values some node outside the group (or a graph output) reads.
  const readOutside = new Set<V>(g.outputs.map((o) => o.value));
  for (const n of g.nodes) {
    for (const v of n.inputs) {
      const grp = groupOf.get(v);
      if (grp && !grp.members.includes(n)) readOutside.add(v);
    }
  }

  const replaced = new Map<Node, Node | null>(); // member → fused node (at its last member) or null
  // One builder over the graph's values checks every fused node's shape rule (one per group
  // copied the values each time: quadratic in depth).
  const checker = new GraphBuilder({ ...g, nodes: [], outputs: [] });
  for (const grp of groups) {
    const fused = buildGroup(checker, grp, producer, readOutside);
    grp.members.forEach((m, k) => replaced.set(m, k === grp.members.length - 1 ? fused : null));
  }
  // A mask that a product or an output reads is stored by a loop of the mask alone (dce drops unread ones).
  const kept = (n: Node) => (n.op === "dropout_mask" ? maskLoop(checker, n) : n);
  const nodes = g.nodes.flatMap((n) => (replaced.has(n) ? (replaced.get(n) ? [replaced.get(n)!] : []) : [kept(n)]));
  return dce(toposort({ ...g, nodes }));
}

/** dropout_mask(step) as a fused loop of one `mask` code op: the WebAssembly module, same bits. */
function maskLoop(checker: GraphBuilder, n: Extract<Node, { op: "dropout_mask" }>): Node {
  const attrs = { shape: [...n.attrs.shape], code: [{ op: "mask", args: [0], num: [n.attrs.p, n.attrs.seed, n.attrs.stream] }], outputs: [1], sums: [] };
  checker.emitMulti("fused_elementwise", n.inputs, attrs); // checks the shape rule
  return (n.at ? { op: "fused_elementwise", inputs: n.inputs, outputs: n.outputs, attrs, at: n.at } : { op: "fused_elementwise", inputs: n.inputs, outputs: n.outputs, attrs }) as Node;
}

/** A code argument before slots are numbered: a value read from outside, or a code result. */
type Ref = { readonly in: V } | { readonly code: number };

function buildGroup(checker: GraphBuilder, grp: Group, producer: Map<V, { node: Node }>, readOutside: Set<V>): Node {
  const raw: { op: string; args: Ref[]; num: number[] }[] = [];
  const memberOut = new Map<V, number>();
  const push = (op: string, args: Ref[], num: number[]) => raw.push({ op, args, num }) - 1;
  const ref = (v: V): Ref => {
    const own = memberOut.get(v);
    if (own !== undefined) return { code: own };
    const p = producer.get(v)?.node;
    if (p?.op === "constant") return { code: push("const", [], [p.attrs.value]) };
    if (p?.op === "dropout_mask") return { code: push("mask", [{ in: p.inputs[0]! }], [p.attrs.p, p.attrs.seed, p.attrs.stream]) };
    if (p?.op === "broadcast_to") return { in: p.inputs[0]! };
    return { in: v };
  };
  for (const m of grp.members) {
    if (!isElementwise(m.op)) throw new Error(`fuseElementwise: ${m.op} is not elementwise`);
    memberOut.set(m.outputs[0]!, push(m.op, m.inputs.map(ref), scalarOps[m.op].num(m.attrs as never)));
  }

  // Slots: the distinct outside values first (the node's inputs), then one per code result.
  const inputs = [...new Set(raw.flatMap((c) => c.args.flatMap((r) => ("in" in r ? [r.in] : []))))];
  const slot = (r: Ref) => ("in" in r ? inputs.indexOf(r.in) : inputs.length + r.code);
  const code: ElementInstr[] = raw.map((c) => ({ op: c.op, args: c.args.map(slot), num: c.num }));
  const outs = grp.members.map((m) => m.outputs[0]!).filter((v) => readOutside.has(v));
  const attrs = { shape: [...grp.shape], code, outputs: outs.map((v) => inputs.length + memberOut.get(v)!), sums: [] };
  checker.emitMulti("fused_elementwise", inputs, attrs); // checks the shape rule
  // The member that makes the output (the last) first: its layer is the one a message names.
  const at = grp.members.reduceRight<readonly string[] | undefined>((a, m) => mergeOrigins(a, m.at), undefined);
  return (at ? { op: "fused_elementwise", inputs, outputs: outs, attrs, at } : { op: "fused_elementwise", inputs, outputs: outs, attrs }) as Node;
}
