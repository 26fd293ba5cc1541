import { ModelError } from "../../runtime/errors.js";
import { describe, features, type ResidualNode } from "./node.js";
import { asLayer, type ResidualArg, type ResidualOf } from "./shapes.js";

/**
 * A residual block y = x + f(x). The sum needs f(x) to have x's size, so f must map N features
 * to N: tsc rejects a literal mismatch, and the same check always runs here too. The residual of
 * a pass-through layer (relu, dropout) is itself pass-through.
 * @example seq(linear(784, 256), relu, residual(seq(linear(256, 256), batchNorm(256), relu)), linear(256, 10))
 */
export function residual<F>(fn: ResidualArg<F>): ResidualOf<F>;
export function residual(fn: unknown): ResidualNode {
  const node = asLayer("residual argument", fn);
  const f = features(node);
  if (f.in !== null && f.out !== null && f.in !== f.out) {
    throw new ModelError(`residual.fn ${describe(node)}: residual expects its function to map N features to N, but it maps ${f.in} to ${f.out}`);
  }
  return Object.freeze({ kind: "residual" as const, fn: node });
}
