/** Random model expressions for property tests (seeded: the same seed gives the same model). */
import { batchNorm, dropout, layerNorm, linear, relu, residual, seq, type LayerNode } from "../../src/index.js";

/**
 * A random model mapping `width` features to some output width drawn from `widths`; returns it
 * and that width. Layer kinds: linear (with or without bias), relu, dropout, layerNorm (affine or
 * not), batchNorm (when `allowBatchNorm`), residual blocks.
 */
export function randomModel(r: () => number, width: number, depth: number, allowBatchNorm: boolean, widths: readonly number[]): [LayerNode, number] {
  const layers: LayerNode[] = [];
  let w = width;
  for (let d = 0; d < depth; d++) {
    const pick = Math.floor(r() * 8);
    if (pick <= 1) { const out = widths[Math.floor(r() * widths.length)]!; layers.push(linear(w, out, { bias: r() < 0.8 })); w = out; }
    else if (pick === 2) layers.push(relu);
    else if (pick === 3) layers.push(dropout([0, 0.1, 0.5][Math.floor(r() * 3)]!));
    else if (pick === 4 && w > 1) layers.push(layerNorm(w, { affine: r() < 0.7, eps: r() < 0.5 ? 1e-5 : 1e-3 }));
    else if (pick === 5 && allowBatchNorm) layers.push(batchNorm(w, { momentum: r() < 0.5 ? 0.1 : 0.3 }));
    else if (pick === 6 && depth < 6) layers.push(residual(residualBody(r, w, 2, allowBatchNorm, widths) as never));
    else layers.push(linear(w, w));
  }
  return [seq(...(layers as [LayerNode])), w];
}

/** A random model mapping width → width (residual bodies), closed by a linear when needed. */
export function residualBody(r: () => number, width: number, depth: number, bn: boolean, widths: readonly number[]): LayerNode {
  const [m, out] = randomModel(r, width, depth, bn, widths);
  return out === width ? m : seq(m as never, linear(out, width));
}
