/**
 * Common-subexpression elimination: two nodes with the same op, the same (already merged) inputs
 * and equal attributes compute the same values, so the second reuses the first's outputs. Every
 * primitive is pure — even dropout_mask is a function of its step input and attributes.
 */
import type { Graph } from "../ir/graph.js";
import type { V } from "../ir/types.js";
import { rewrite } from "./rewrite.js";

export function cse(g: Graph): Graph {
  // Until a first duplicate merges, the rewrite's renumbering is one-to-one, so a duplicate
  // exists exactly when one exists among the nodes as given; with none, every node is emitted
  // as it is: the rewrite without rules (which returns a canonical graph unchanged).
  const given = new Set<string>();
  let duplicate = false;
  for (const n of g.nodes) {
    const key = `${n.op}(${n.inputs.join(",")})${JSON.stringify(n.attrs)}`;
    if (given.has(key)) { duplicate = true; break; }
    given.add(key);
  }
  if (!duplicate) return rewrite(g, []);
  const seen = new Map<string, readonly V[]>();
  return rewrite(g, [
    (n, ctx) => {
      const key = `${n.op}(${n.inputs.join(",")})${JSON.stringify(n.attrs)}`;
      const hit = seen.get(key);
      if (hit) return hit;
      // Not a duplicate: emit it here so later duplicates can find its outputs.
      const outs = ctx.b.emitMulti(n.op, n.inputs, n.attrs as never);
      seen.set(key, outs);
      return outs;
    },
  ]);
}
