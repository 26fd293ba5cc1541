/** What compile() hands a Net, and the IR a Net shows. */
import type { Graph } from "../compiler/ir/graph.js";
import type { Arena } from "../runtime/arena.js";
import type { LayerNode } from "./layers/node.js";
import type { Loss } from "./loss.js";
import type { Optimizer } from "./optim/optimizer.js";
import type { TraceOptions } from "./programs.js";

export interface IR {
  readonly forward: Graph;
  readonly backward: Graph;
  readonly train: Graph;
  readonly eval: Graph;
}

/** @internal What compile() hands a Net (not in the published types: it names runtime internals). */
export interface NetParts {
  /** The arena of the optimized path; null runs the reference interpreter. */
  readonly arena: Arena | null;
  readonly optimizerState: Record<string, Float32Array>;
  readonly model: LayerNode;
  readonly trace: TraceOptions;
  readonly outputs: number;
  readonly loss: Loss;
  readonly optimizer: Optimizer;
  readonly ir: IR;
  readonly params: Record<string, Float32Array>;
  readonly state: Record<string, Float32Array>;
  readonly batchNorms: readonly string[];
  /** Check every kernel's outputs for NaN and ±∞ (see numerics.ts). */
  readonly checkNumerics?: boolean;
}
