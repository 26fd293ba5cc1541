/**
 * Symbolic reverse-mode differentiation, graph → graph. The result is the forward graph plus the
 * gradient nodes, with one output `<input>.grad` per requested input: ordinary IR, printable and
 * optimizable like any other.
 *
 * The driver is micrograd's: walk the nodes in reverse topological order, ask each op's vjp rule
 * for the cotangents of its inputs, and SUM the cotangents of a value used more than once.
 */
import { GraphError } from "../runtime/errors.js";
import { GraphBuilder } from "./ir/builder.js";
import type { Graph } from "./ir/graph.js";
import type { V } from "./ir/types.js";
import { ops } from "./ops/index.js";
import type { Vjp } from "./ops/def.js";

export function differentiate(g: Graph, loss: string, wrt: readonly string[]): Graph {
  const out = g.outputs.find((o) => o.name === loss);
  if (!out) throw new GraphError(`differentiate: no output named ${JSON.stringify(loss)}`);
  if (g.values[out.value]!.shape.length !== 0) throw new GraphError(`differentiate: output ${loss} is not a scalar`);
  const byName = new Map<string, Graph["inputs"][number]>();
  for (const x of g.inputs) if (!byName.has(x.name)) byName.set(x.name, x); // the first, as a scan finds it
  const targets = wrt.map((name) => {
    const i = byName.get(name);
    if (!i) throw new GraphError(`differentiate: no input named ${JSON.stringify(name)}`);
    return i;
  });

  // Only values that depend on a differentiated input need cotangents.
  const active = new Set<V>(targets.map((t) => t.value));
  for (const n of g.nodes) if (n.inputs.some((v) => active.has(v))) n.outputs.forEach((v) => active.add(v));

  const b = new GraphBuilder(g);
  const ct = new Map<V, V>([[out.value, b.scalar(1)]]);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    const gOuts = n.outputs.map((v) => ct.get(v) ?? null);
    if (gOuts.every((x) => x === null) || !n.inputs.some((v) => active.has(v))) continue;
    const vjp = ops[n.op].vjp as Vjp<unknown> | null;
    if (vjp === null) throw new GraphError(`differentiate: op ${n.op} has no gradient rule`);
    // The gradient's nodes record the node they differentiate: forward@37 → backward@37.
    b.withOrigin(n.at?.map((o) => o.replace(/^forward@/, "backward@")), () => {
      const gIns = vjp(b, gOuts, n.inputs, n.outputs, n.attrs);
      n.inputs.forEach((v, k) => {
        const gv = gIns[k];
        if (gv === null || gv === undefined || !active.has(v)) return;
        const prev = ct.get(v);
        ct.set(v, prev === undefined ? gv : b.add(prev, gv));
      });
    });
  }
  for (const t of targets) {
    b.output(`${t.name}.grad`, "grad", ct.get(t.value) ?? b.constant(0, g.values[t.value]!.shape));
  }
  return b.build();
}

/**
 * Ops whose output carries no gradient in PyTorch's sense: a comparison's 0 or 1 (step), labels'
 * one-hot, dropout's and max's masks, and detach (torch's cuts the graph). (sign and x⁰ have a
 * gradient of zeros there, not none.)
 */
const NO_GRADIENT = new Set<string>(["step", "one_hot", "dropout_mask", "max_mask", "detach"]);

/**
 * The values the output `loss` depends on through ops that carry a gradient: a parameter outside
 * it has PyTorch's grad None (read only by a comparison, or not at all), and PyTorch's optimizers
 * skip it — no weight decay, no momentum. keep's condition (a where's) carries none either.
 */
export function connectedToLoss(g: Graph, loss: string): Set<V> {
  const out = g.outputs.find((o) => o.name === loss);
  const needed = new Set<V>(out ? [out.value] : []);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (NO_GRADIENT.has(n.op) || !n.outputs.some((v) => needed.has(v))) continue;
    (n.op === "keep" ? [n.inputs[0]!] : n.inputs).forEach((v) => needed.add(v));
  }
  return needed;
}
