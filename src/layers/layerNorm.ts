import { ModelError } from "../../runtime/errors.js";
import { checkFeatures, checkPositive } from "./check.js";
import type { LayerNormNode } from "./node.js";
import type { Sized } from "./sized.js";
import { knownOptions } from "../options.js";

export type LayerNorm<N extends number> = LayerNormNode & Sized<N, N>;

/**
 * Layer normalization over the n features of each sample: (x − E[x]) / √(Var[x] + ε), biased
 * variance, then the affine γ·x̂ + β (`weight`, `bias`) unless `affine: false`. Same in training
 * and evaluation, independent of the batch.
 * @example seq(linear(784, 256), layerNorm(256), relu)
 */
export function layerNorm<N extends number>(n: N, opts: { eps?: number; affine?: boolean } = {}): LayerNorm<N> {
  knownOptions("layerNorm", opts, ["eps", "affine"]);
  const affine = opts.affine ?? true;
  if (typeof affine !== "boolean") throw new ModelError(`layerNorm affine must be true or false, got ${String(affine)}`);
  return Object.freeze({
    kind: "layerNorm" as const,
    n: checkFeatures("layerNorm features", n),
    eps: checkPositive("layerNorm eps", opts.eps ?? 1e-5),
    affine,
  }) as LayerNorm<N>;
}
