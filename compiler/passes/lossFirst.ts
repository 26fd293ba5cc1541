/**
 * A train step's order: everything the loss needs first, then the rest — the backward pass, the
 * optimizer's updates and the running statistics, which write the caller's arrays in place.
 * So the loss is known before anything is written, and a step whose loss is not finite can be
 * refused having changed nothing (src/net-programs.ts). Without this, batchNorm's running
 * statistics (read by no later node of the step) were updated in place before the loss.
 *
 * The order stays topological: the loss's ancestors are closed under "reads", so each keeps its
 * inputs before it; every other node keeps its position relative to the others. Graphs without
 * a "loss" output (eval) are returned as they are.
 */
import type { Graph } from "../ir/graph.js";

export function lossFirst(g: Graph): Graph {
  const loss = g.outputs.find((o) => o.name === "loss");
  if (loss === undefined) return g;
  const maker = new Map<number, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((v) => maker.set(v, i)));
  const needed = new Uint8Array(g.nodes.length);
  const stack = [loss.value];
  while (stack.length > 0) {
    const i = maker.get(stack.pop()!);
    if (i === undefined || needed[i]) continue; // a program input, or already taken
    needed[i] = 1;
    for (const v of g.nodes[i]!.inputs) stack.push(v); // not push(...): an imported Sum may read 10⁵ values
  }
  const first = g.nodes.filter((_, i) => needed[i]), rest = g.nodes.filter((_, i) => !needed[i]);
  return first.length === g.nodes.length || rest.length === 0 ? g : { ...g, nodes: [...first, ...rest] };
}
