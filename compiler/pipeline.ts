/**
 * From a graph to something the runtime runs. Two paths:
 *   reference  the graph as traced, one buffer per value, reference kernels (optimize: false)
 *   optimized  passes (simplify, CSE, DCE, fusion), one arena with liveness-based reuse
 */
import type { Arena } from "../runtime/arena.js";
import { Executor } from "../runtime/executor.js";
import { debugLevel } from "../runtime/host.js";
import { cacheStats } from "../runtime/lru.js";
import { poolStats } from "../runtime/pool.js";
import type { Program } from "../runtime/program.js";
import type { Graph } from "./ir/graph.js";
import { lower, lowerPlanned } from "./lower.js";
import { expandNormalizations } from "./passes/expandNormalizations.js";
import { fuseElementwise } from "./passes/fuseElementwise.js";
import { foldBatchNorm } from "./passes/foldBatchNorm.js";
import { fuseLinear } from "./passes/fuseLinear.js";
import { fuseNormalize } from "./passes/fuseNormalize.js";
import { fuseNormalizeBackward } from "./passes/fuseNormalizeBackward.js";
import { fuseReductions } from "./passes/fuseReductions.js";
import { recomputeXhat } from "./passes/recomputeXhat.js";
import { fuseSoftmaxCrossEntropy } from "./passes/fuseSoftmaxCrossEntropy.js";
import { lossFirst } from "./passes/lossFirst.js";
import { cleanup, runPasses, type Pass } from "./passes/index.js";
import { simplify } from "./passes/simplify.js";
import { planMemory, type MemoryPlan } from "./plan.js";

/**
 * Each pass does only its own rewrite (and drops what it made dead); the reshape chains that the
 * pattern-matching fusions leave (keepdims statistics substituted for their reductions) are folded
 * by the `simplify` listed after each, so `kiln inspect --after X` shows what X did.
 */
const tidy: Pass = { name: "simplify", run: simplify };
export const optimizationPasses: readonly Pass[] = [
  ...cleanup,
  { name: "foldBatchNorm", run: foldBatchNorm },
  { name: "fuseLinear", run: fuseLinear },
  { name: "fuseNormalize", run: fuseNormalize }, tidy,
  { name: "fuseNormalizeBackward", run: fuseNormalizeBackward }, tidy,
  { name: "fuseSoftmaxCrossEntropy", run: fuseSoftmaxCrossEntropy }, tidy,
  { name: "expandNormalizations", run: expandNormalizations },
  { name: "recomputeXhat", run: recomputeXhat },
  { name: "fuseElementwise", run: fuseElementwise },
  { name: "fuseReductions", run: fuseReductions },
  { name: "lossFirst", run: lossFirst },
];

export function optimize(g: Graph, label = "graph"): Graph {
  return runPasses(g, optimizationPasses, label);
}

export interface Prepared {
  readonly program: Program;
  readonly plan: MemoryPlan | null;
  readonly executor: Executor;
}

/** Lower a graph (already optimized or not) and make its executor. */
export function prepare(g: Graph, arena: Arena | null, label = "graph"): Prepared {
  if (!arena) {
    const program = lower(g);
    const executor = new Executor(program);
    executor.label = label;
    return { program, plan: null, executor };
  }
  const plan = planMemory(g);
  if (debugLevel() >= 3) console.error(formatPlan(g, plan, label));
  const program = lowerPlanned(g, plan);
  const executor = new Executor(program, "f32", arena);
  executor.label = label;
  if (debugLevel() >= 1) console.error(`[kiln] ${label}: ${formatShared()}`);
  return { program, plan, executor };
}

/** KILN_DEBUG ≥ 1: what the process shares between networks — bounded caches and the thread pool. */
export function formatShared(): string {
  const caches = cacheStats().map((c) => `${c.name} ${c.size}/${c.capacity}${c.evictions ? ` (${c.evictions} evicted)` : ""}`);
  const pool = poolStats();
  return `caches: ${caches.join(", ")}; thread pool: ${pool.threads} threads, ${pool.leases} networks`;
}

/** KILN_DEBUG=3: where every value lives — its scratch offset, or the external buffer it updates. */
function formatPlan(g: Graph, plan: MemoryPlan, label: string): string {
  const lines = [`[kiln] ${label}: memory plan, scratch ${plan.scratchBytes} bytes (one buffer per value: ${plan.unplannedBytes})`];
  g.values.forEach((t, v) => {
    const where = plan.external[v] ? `in place in ${plan.external[v]}` : plan.offsets[v] === null ? "unused" : `@${plan.offsets[v]}`;
    lines.push(`  %${v} ${t.dtype}[${t.shape.join(",")}] ${where}`);
  });
  return lines.join("\n");
}
