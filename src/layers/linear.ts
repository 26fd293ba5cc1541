import { he, isInitializer, zeros, type Initializer } from "../init.js";
import { ModelError } from "../../runtime/errors.js";
import { MAX_ELEMENTS } from "../../compiler/ir/graph.js";
import { checkFeatures } from "./check.js";
import type { LinearNode } from "./node.js";
import type { Sized } from "./sized.js";
import { knownOptions } from "../options.js";
import { describeValue } from "../validate.js";

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
  knownOptions("linear", opts, ["bias", "init", "biasInit"]);
  const bias = opts.bias ?? true;
  if (typeof bias !== "boolean") throw new ModelError(`linear bias must be true or false, got ${String(bias)}`);
  for (const k of ["init", "biasInit"] as const) {
    const i = opts[k];
    // Refused here, not as a TypeError when compile() samples it.
    if (i !== undefined && !isInitializer(i)) {
      throw new ModelError(`linear ${k} must be an initializer (init.he(), init.xavier(), init.zeros(), …), got ${describeValue(i)}`);
    }
  }
  const n = checkFeatures("linear input features", inFeatures), m = checkFeatures("linear output features", outFeatures);
  if (n * m > MAX_ELEMENTS) {
    throw new ModelError(`linear(${n}→${m}) has ${n * m} weights; one tensor holds at most ${MAX_ELEMENTS} (2^28)`);
  }
  return Object.freeze({
    kind: "linear" as const,
    in: n,
    out: m,
    bias,
    init: opts.init ?? he(),
    biasInit: opts.biasInit ?? zeros(),
  }) as Linear<In, Out>;
}
