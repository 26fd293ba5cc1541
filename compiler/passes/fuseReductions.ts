/**
 * Reductions into the fused elementwise loop that produces their input: a `sum` or `mean` of an
 * output of a `fused_elementwise` node over leading axes (a bias gradient Σ_rows, a γ gradient
 * Σ_rows dy·x̂) or over all of them (a loss) becomes one of that node's `sums`, accumulated in the
 * same pass over the data (compiler/ops/fused_sums.ts, runtime/wasm/fused-sums.ts). An output
 * only reductions read is then no longer an output: never written, no arena space. A `reshape`
 * that only drops the kept 1s of a keepdims sum (the bias gradient's [1, n] → [n]) is absorbed
 * too: the sum is made without keepdims, and the copy goes.
 *
 * Row sums (over a trailing axis) and sums of anything else stay as they are. The fused node
 * stays where it was; the reduction's value is now defined there, before its readers.
 */
import { GraphBuilder, mergeOrigins } from "../ir/builder.js";
import type { Graph, Node } from "../ir/graph.js";
import { sameShape, type V } from "../ir/types.js";
import type { SumInstr } from "../ops/elementwise_codegen.js";
import { sumProblem, sumShape } from "../ops/fused_sums.js";
import { dce } from "./dce.js";

type Fused = Extract<Node, { op: "fused_elementwise" }>;

export function fuseReductions(g: Graph): Graph {
  const producer = new Map<V, Node>();
  const readers = new Map<V, Node[]>();
  for (const n of g.nodes) {
    n.outputs.forEach((v) => producer.set(v, n));
    for (const v of new Set(n.inputs)) readers.set(v, [...(readers.get(v) ?? []), n]);
  }
  const graphOut = new Set(g.outputs.map((o) => o.value));
  const added = new Map<Fused, { sums: SumInstr[]; outs: V[]; at: (readonly string[] | undefined)[] }>();
  const removed = new Set<Node>();

  for (const n of g.nodes) {
    if (n.op !== "sum" && n.op !== "mean") continue;
    const x = n.inputs[0]!, p = producer.get(x);
    if (p?.op !== "fused_elementwise") continue;
    const pos = p.outputs.indexOf(x);
    if (pos < 0 || pos >= p.attrs.outputs.length) continue; // a sum the node already makes
    const shape = p.attrs.shape, rank = shape.length;
    const axes = n.attrs.axes.map((a) => (a < 0 ? a + rank : a));
    let s: SumInstr = { op: n.op, slot: p.attrs.outputs[pos]!, axes, keepdims: n.attrs.keepdims };
    if (sumProblem(shape, s) !== null) continue;
    let out = n.outputs[0]!;
    const at = [n.at];
    const only = readers.get(out);
    const reshape = only?.length === 1 && only[0]!.op === "reshape" && !graphOut.has(out) ? only[0]! : undefined;
    if (s.keepdims && reshape && sameShape(g.values[reshape.outputs[0]!]!.shape, sumShape(shape, { ...s, keepdims: false }))) {
      s = { ...s, keepdims: false };
      out = reshape.outputs[0]!;
      at.push(reshape.at);
      removed.add(reshape);
    }
    const entry = added.get(p) ?? { sums: [], outs: [], at: [] };
    entry.sums.push(s);
    entry.outs.push(out);
    entry.at.push(...at);
    added.set(p, entry);
    removed.add(n);
  }
  if (added.size === 0) return g;

  // The elementwise outputs something still reads (or the program returns).
  const stillRead = (v: V) => graphOut.has(v) || (readers.get(v) ?? []).some((r) => !removed.has(r));
  const checker = new GraphBuilder({ ...g, nodes: [], outputs: [] });
  const replaced = new Map<Node, Node>();
  for (const [p, e] of added) {
    const nEw = p.attrs.outputs.length;
    const keep = p.attrs.outputs.map((_s, j) => j).filter((j) => stillRead(p.outputs[j]!));
    const attrs = {
      ...p.attrs,
      outputs: keep.map((j) => p.attrs.outputs[j]!),
      sums: [...p.attrs.sums, ...e.sums],
    };
    const outputs = [...keep.map((j) => p.outputs[j]!), ...p.outputs.slice(nEw), ...e.outs];
    const types = checker.emitMulti("fused_elementwise", p.inputs, attrs).map((v) => checker.type(v)); // checks the shape rule
    types.forEach((t, j) => {
      if (!sameShape(t.shape, g.values[outputs[j]!]!.shape)) throw new Error(`fuseReductions: output ${j} is [${t.shape.join(",")}], the value it replaces [${g.values[outputs[j]!]!.shape.join(",")}]`);
    });
    const at = e.at.reduce<readonly string[] | undefined>((a, x) => mergeOrigins(a, x), p.at);
    replaced.set(p, (at ? { ...p, attrs, outputs, at } : { ...p, attrs, outputs }) as Node);
  }
  const nodes = g.nodes.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
  return dce({ ...g, nodes });
}
