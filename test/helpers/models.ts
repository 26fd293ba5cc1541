/** Random model expressions for property tests (seeded: the same seed gives the same model). */
import {
  batchNorm, concat, dropout, gelu, layerNorm, leakyRelu, linear, relu, residual, seq, sigmoid, silu, tanh, type LayerNode,
} from "../../src/index.js";

/**
 * A random model mapping `width` features to some output width drawn from `widths`; returns it
 * and that width. Layer kinds: linear (with or without bias), relu, dropout, layerNorm (affine or
 * not), batchNorm (when `allowBatchNorm`), residual blocks; with `dsl` also the open DSL's
 * activations and concat.
 */
export function randomModel(
  r: () => number, width: number, depth: number, allowBatchNorm: boolean, widths: readonly number[], dsl = false,
): [LayerNode, number] {
  const layers: LayerNode[] = [];
  let w = width;
  for (let d = 0; d < depth; d++) {
    // With `dsl`, one draw in three is an open-DSL layer: an activation or two concatenated branches.
    if (dsl && r() < 1 / 3) {
      if (r() < 0.7) layers.push([tanh, sigmoid, gelu, gelu({ approximate: "tanh" }), leakyRelu(0.1), silu][Math.floor(r() * 6)]! as LayerNode);
      else {
        const a = widths[Math.floor(r() * widths.length)]!, b = widths[Math.floor(r() * widths.length)]!;
        layers.push(concat(seq(linear(w, a), gelu) as never, linear(w, b) as never) as LayerNode);
        w = a + b;
      }
      continue;
    }
    const pick = Math.floor(r() * 8);
    if (pick <= 1) { const out = widths[Math.floor(r() * widths.length)]!; layers.push(linear(w, out, { bias: r() < 0.8 })); w = out; }
    else if (pick === 2) layers.push(relu);
    else if (pick === 3) layers.push(dropout([0, 0.1, 0.5][Math.floor(r() * 3)]!));
    else if (pick === 4 && w > 1) layers.push(layerNorm(w, { affine: r() < 0.7, eps: r() < 0.5 ? 1e-5 : 1e-3 }));
    else if (pick === 5 && allowBatchNorm) layers.push(batchNorm(w, { momentum: r() < 0.5 ? 0.1 : 0.3 }));
    else if (pick === 6 && depth < 6) layers.push(residual(residualBody(r, w, 2, allowBatchNorm, widths, dsl) as never));
    else layers.push(linear(w, w));
  }
  return [seq(...(layers as [LayerNode])), w];
}

/** A random model mapping width → width (residual bodies), closed by a linear when needed. */
export function residualBody(r: () => number, width: number, depth: number, bn: boolean, widths: readonly number[], dsl = false): LayerNode {
  const [m, out] = randomModel(r, width, depth, bn, widths, dsl);
  return out === width ? m : seq(m as never, linear(out, width));
}
