/**
 * What a compiled program costs: kernels by op, fused kernels, arena bytes (against one buffer
 * per value) and floating-point operations per call.
 */
import type { Graph } from "./ir/graph.js";
import { size, type ValueType } from "./ir/types.js";
import type { OpDef } from "./ops/def.js";
import { ops } from "./ops/index.js";
import { planMemory } from "./plan.js";

export interface ProgramSummary {
  readonly kernels: number;
  readonly byOp: Readonly<Record<string, number>>;
  /** Names of the fused kernels present (fused_elementwise, linear, …). */
  readonly fused: readonly string[];
  readonly arenaBytes: number;
  /** Bytes one buffer per intermediate value would take. */
  readonly unplannedBytes: number;
  readonly flops: number;
}

const FUSED = (op: string) => (ops[op as keyof typeof ops] as OpDef<unknown>).vjp === null;

export function summarize(g: Graph): ProgramSummary {
  const byOp: Record<string, number> = {};
  let flops = 0;
  for (const n of g.nodes) {
    byOp[n.op] = (byOp[n.op] ?? 0) + 1;
    const def = ops[n.op] as OpDef<unknown>;
    const ins = n.inputs.map((v) => g.values[v]!), outs = n.outputs.map((v) => g.values[v]!);
    flops += def.flops ? def.flops(n.attrs, ins, outs) : outs.reduce((s: number, t: ValueType) => s + size(t.shape), 0);
  }
  const plan = planMemory(g);
  return {
    kernels: g.nodes.filter((n) => n.op !== "reshape" && n.op !== "constant").length,
    byOp,
    fused: Object.keys(byOp).filter(FUSED).sort(),
    arenaBytes: plan.scratchBytes,
    unplannedBytes: plan.unplannedBytes,
    flops,
  };
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

/** A few readable lines, as `kiln inspect` prints them. */
export function formatSummary(name: string, s: ProgramSummary): string {
  const ops = Object.entries(s.byOp).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}×${v}`).join(" ");
  return [
    `${name}: ${s.kernels} kernels, ${(s.flops / 1e6).toFixed(1)} MFLOP per call, arena ${mb(s.arenaBytes)} (one buffer per value: ${mb(s.unplannedBytes)})`,
    `  ops: ${ops}`,
    `  fused kernels: ${s.fused.join(", ") || "none"}`,
  ].join("\n");
}
