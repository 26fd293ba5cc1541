/**
 * Graphviz DOT for a graph: inputs as ellipses, ops as boxes (fused kernels shaded), edges
 * labelled with the value's type. Names are quoted and escaped: they are data, not syntax.
 */
import type { Graph } from "./graph.js";
import { fmtType, type V } from "./types.js";

const quote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
const FUSED = new Set(["fused_elementwise", "linear", "norm_forward", "norm_backward", "softmax_xent"]);

export function toDot(g: Graph, title = "kiln"): string {
  const lines = [`digraph ${quote(title)} {`, "  rankdir=TB;", '  node [fontname="monospace", fontsize=10];', '  edge [fontname="monospace", fontsize=8];'];
  const source = new Map<V, string>();
  g.inputs.forEach((i, k) => {
    const id = `in${k}`;
    source.set(i.value, id);
    lines.push(`  ${id} [shape=ellipse, label=${quote(`${i.name}\n${fmtType(g.values[i.value]!)}`)}];`);
  });
  g.nodes.forEach((n, k) => {
    const id = `n${k}`;
    const style = FUSED.has(n.op) ? ', style=filled, fillcolor="#e8f0fe"' : "";
    lines.push(`  ${id} [shape=box, label=${quote(n.op)}${style}];`);
    for (const v of n.inputs) if (source.has(v)) lines.push(`  ${source.get(v)} -> ${id} [label=${quote(fmtType(g.values[v]!))}];`);
    for (const v of n.outputs) source.set(v, id);
  });
  g.outputs.forEach((o, k) => {
    const id = `out${k}`;
    lines.push(`  ${id} [shape=note, label=${quote(`${o.kind}: ${o.name}`)}];`);
    if (source.has(o.value)) lines.push(`  ${source.get(o.value)} -> ${id} [label=${quote(fmtType(g.values[o.value]!))}];`);
  });
  lines.push("}");
  return lines.join("\n");
}
