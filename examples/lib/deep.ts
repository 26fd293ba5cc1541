/**
 * The lecture's deep ReLU MLP (§1): `depth` blocks of linear(·→width) + ReLU (optionally a
 * layerNorm or batchNorm after each linear), weights W ~ N(0, c/n) with n the fan-in, then a
 * linear head to 10 classes. Blocks are nested seqs, so block i's output is probe path "i" and its weight is
 * "i.0.weight".
 */
import { batchNorm, compile, init, layerNorm, linear, relu, seq, sgd, type LayerNode, type Optimizer } from "../../src/index.js";

export interface DeepOptions {
  readonly depth?: number;
  readonly width?: number;
  readonly inputs?: number;
  /** σ² = c/n. */
  readonly c: number;
  readonly norm?: Norm;
}

/** Where a normalization layer goes: after every linear, before its ReLU (or nowhere). */
export type Norm = "none" | "layerNorm" | "batchNorm";

export function deepMlp(o: DeepOptions): LayerNode {
  const { depth = 50, width = 100, inputs = 784, c, norm = "none" } = o;
  const w = init.normal({ variance: (n) => c / n });
  const blocks: LayerNode[] = [];
  for (let i = 0; i < depth; i++) {
    const lin = linear(i === 0 ? inputs : width, width, { init: w });
    const block = norm === "layerNorm" ? seq(lin, layerNorm(width), relu)
      : norm === "batchNorm" ? seq(lin, batchNorm(width), relu)
      : seq(lin, relu);
    blocks.push(block);
  }
  return seq(...(blocks as [LayerNode]), linear(width, 10, { init: w }));
}

export interface LayerNorms {
  /** ‖activation‖₂ of block i's output, i = 0 … depth − 1. */
  readonly activation: number[];
  /** ‖∂ℓ/∂W_i‖₂ of block i's weight. */
  readonly gradient: number[];
  readonly weightVariance: number[];
  readonly loss: number;
}

/**
 * Per-layer norms of one forward/backward pass at initialization, read with probes — the
 * lecture's two panels in one call.
 */
export function normsAtInit(o: DeepOptions & { x: Float32Array; labels: Int32Array; seed?: number; optimizer?: Optimizer }): LayerNorms {
  const depth = o.depth ?? 50;
  const batch = o.labels.length;
  const net = compile(deepMlp(o), {
    inputs: o.inputs ?? 784, batch, seed: o.seed ?? 0,
    optimizer: o.optimizer ?? sgd({ lr: 0.01 }),
    probes: { activationNorm: true, gradNorm: true, weightVariance: true },
  });
  const { loss } = net.gradients(o.x, o.labels);
  const p = net.probes();
  const blocks = Array.from({ length: depth }, (_, i) => String(i));
  return {
    activation: blocks.map((i) => p.activationNorm[i]!),
    gradient: blocks.map((i) => p.gradNorm[`${i}.0`]!),
    weightVariance: blocks.map((i) => p.weightVariance[`${i}.0`]!),
    loss,
  };
}
