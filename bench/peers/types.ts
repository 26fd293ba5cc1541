/**
 * What the runner needs from a peer: one prepared, already-checked case per workload.
 */
import type { LayerNormData, Norm, TrainData, Workload, referenceLayerNorm } from "../workloads.js";

/** One workload on one peer, set up and verified, ready to time. */
export interface Case {
  /** One unit of work (one product, one train step, one forward, one fwd+bwd), finished on return. */
  run(): unknown;
  /** What the correctness check found, e.g. "loss 2.41 → 1.90 in 20 steps". */
  readonly check: string;
  /** The check already ran the case enough to warm it up (e.g. 20 train steps): one warm-up run suffices. */
  readonly warmedUp?: boolean;
  dispose?(): void | Promise<void>;
}

/** Data shared by every peer (built once, lazily). */
export interface Shared {
  readonly quick: boolean;
  train(): TrainData;
  params(norm: Norm): Record<string, Float32Array>;
  evalInput(): Float32Array;
  /** Float64 logits of the first W3_CHECK_ROWS rows of evalInput(). */
  referenceLogits(): Float64Array;
  sgemm(n: number): { a: Float32Array; b: Float32Array };
  layerNorm(): LayerNormData;
  layerNormReference(): ReturnType<typeof referenceLayerNorm>;
}

export interface Peer {
  readonly name: string;
  /** Threads the peer computes with (1 for the single-threaded JS/WASM peers in Node). */
  readonly threads: number;
  /** Once, before any case; a throw fails every case of this peer with its message. */
  setup?(): Promise<void>;
  /** Package version etc., for results.json (after setup). */
  info?(): Record<string, unknown>;
  supports(w: Workload): boolean;
  /** A checked case, or null for "not measured" (printed n/a). Throws on failure. */
  prepare(w: Workload, shared: Shared): Promise<Case | null>;
}
