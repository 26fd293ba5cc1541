/**
 * The pass pipeline: a short list of named Graph → Graph functions, run in order. With
 * KILN_DEBUG ≥ 1 each pass's name and time are printed, ≥ 2 the IR after each pass.
 */
import { debugLevel } from "../../runtime/host.js";
import type { Graph } from "../ir/graph.js";
import { printIR } from "../ir/print.js";
import { cse } from "./cse.js";
import { dce } from "./dce.js";
import { simplify } from "./simplify.js";

export interface Pass {
  readonly name: string;
  readonly run: (g: Graph) => Graph;
}

export const cleanup: readonly Pass[] = [
  { name: "simplify", run: simplify },
  { name: "cse", run: cse },
  { name: "dce", run: dce },
];

/** Run passes in order; `label` names the program in debug output. */
export function runPasses(g: Graph, passes: readonly Pass[], label: string): Graph {
  const level = debugLevel();
  for (const p of passes) {
    const t0 = performance.now();
    g = p.run(g);
    if (level >= 1) console.error(`[kiln] ${label}: ${p.name} ${(performance.now() - t0).toFixed(2)} ms, ${g.nodes.length} nodes`);
    if (level >= 2) console.error(printIR(g));
  }
  return g;
}
