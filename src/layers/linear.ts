import { he, zeros, type Initializer } from "../init.js";
import { ModelError } from "../../runtime/errors.js";
import { checkFeatures } from "./check.js";
import type { LinearNode } from "./node.js";
import type { Sized } from "./sized.js";

export type Linear<In extends number, Out extends number> = LinearNode & Sized<In, Out>;

export interface LinearOptions {
  /** Add a bias (default true). */
  readonly bias?: boolean;
  /** Weight initializer (default He normal, fan-in). */
  readonly init?: Initializer;
  /** Bias initializer (default zeros). */
  readonly biasInit?: Initializer;
}

/**
 * Affine map y = x·Wᵀ + b with W of shape [out, in] (PyTorch's layout, names `weight`, `bias`).
 * @example linear(784, 256, { init: init.he() })
 */
export function linear<In extends number, Out extends number>(inFeatures: In, outFeatures: Out, opts: LinearOptions = {}): Linear<In, Out> {
  const bias = opts.bias ?? true;
  if (typeof bias !== "boolean") throw new ModelError(`linear bias must be true or false, got ${String(bias)}`);
  return Object.freeze({
    kind: "linear" as const,
    in: checkFeatures("linear input features", inFeatures),
    out: checkFeatures("linear output features", outFeatures),
    bias,
    init: opts.init ?? he(),
    biasInit: opts.biasInit ?? zeros(),
  }) as Linear<In, Out>;
}
