import { ModelError } from "../../runtime/errors.js";
import { describe, features, flowOut, type LayerNode, type SeqNode } from "./node.js";
import { asLayer, type SeqArgs, type SeqOf } from "./shapes.js";

/**
 * Layers applied one after the other, like PyTorch's `nn.Sequential` (parameters `0.weight`, …).
 * Neighbouring feature sizes must agree: with literal sizes tsc rejects the offending argument
 * (see ./shapes.ts); the same check always runs here too, for `number` sizes and JS callers.
 * relu and dropout pass their input size through, so a seq may start with them.
 * @example seq(linear(784, 256), layerNorm(256), relu, dropout(0.1), linear(256, 10))
 */
export function seq<L extends readonly unknown[]>(...layers: SeqArgs<L>): SeqOf<L>;
export function seq(...layers: readonly unknown[]): SeqNode {
  if (layers.length === 0) throw new ModelError("seq needs at least one layer, got none");
  const nodes: LayerNode[] = [];
  // `out` is the size flowing between layers; null until the first layer that has sizes.
  let out: number | null = null;
  layers.forEach((layer, i) => {
    const node = asLayer(`seq argument ${i}`, layer);
    const f = features(node);
    if (f.in !== null && out !== null && f.in !== out) {
      throw new ModelError(`seq[${i}] ${describe(node)}: seq argument ${i} expects ${f.in} features, but previous layer outputs ${out}`);
    }
    out = flowOut(node, out);
    nodes.push(node);
  });
  return Object.freeze({ kind: "seq" as const, layers: Object.freeze(nodes) });
}
