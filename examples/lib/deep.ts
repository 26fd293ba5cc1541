/**
 * The lecture's deep ReLU MLP (§1): `depth` blocks of linear(·→width) + ReLU (optionally a
 * layerNorm or batchNorm after each linear), weights W ~ N(0, c/n) with n the fan-in, then a
 * linear head to 10 classes. Blocks are nested seqs, so block i's output is probe path "i" and its weight is
 * "i.0.weight".
 */
import type { LineChartSpec } from "../../src/plot/index.js";
import { batchNorm, compile, init, layerNorm, linear, relu, residual, seq, sgd, type LayerNode, type Optimizer } from "../../src/index.js";

export interface DeepOptions {
  readonly depth?: number;
  readonly width?: number;
  readonly inputs?: number;
  /** σ² = c/n. */
  readonly c: number;
  readonly norm?: Norm;
  /** Blocks 2…depth as x + block(x) (a residual net; block 1 changes the width). */
  readonly residual?: boolean;
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
    blocks.push(o.residual && i > 0 ? residual(block) : block);
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
  const lin = (i: string) => (o.residual && i !== "0" ? `${i}.fn.0` : `${i}.0`); // residual(block) nests it under "fn"
  return {
    activation: blocks.map((i) => p.activationNorm[i]!),
    gradient: blocks.map((i) => p.gradNorm[lin(i)]!),
    weightVariance: blocks.map((i) => p.weightVariance[lin(i)]!),
    loss,
  };
}

/**
 * The lecture's two panels: activation norm and weight-gradient norm against the layer, one
 * series per c (log axes: the norms span many decades, and a flat curve keeps a decade above and below).
 * @example multiPanel(initNormsCharts([[1, r1], [2, r2], [3, r3]]), { columns: 2 })
 */
export function initNormsCharts(results: readonly (readonly [c: number, norms: LayerNorms])[]): LineChartSpec[] {
  // At least a decade of room on each side: "flat" reads as flat on the scale of the unnormalized
  // figures, instead of a ±10% wobble blown up to the full height.
  const room = (what: "activation" | "gradient") => {
    const v = results.flatMap(([, r]) => r[what]).filter((x) => x > 0 && Number.isFinite(x));
    return v.length ? [Math.min(...v) / 10, Math.max(...v) * 10] : [];
  };
  const panel = (what: "activation" | "gradient", ylabel: string): LineChartSpec => ({
    title: `${what === "activation" ? "Activation" : "Weight-gradient"} norm vs layer`,
    x: { label: "layer" },
    y: { label: ylabel, log: true, include: room(what) },
    series: results.map(([c, r]) => ({ name: `σ² = ${c}/n`, points: r[what].map((v, i) => [i + 1, v] as const) })),
  });
  return [panel("activation", "‖Z_i‖₂"), panel("gradient", "‖∂ℓ/∂W_i‖₂")];
}
