/**
 * The free functions of tensor expressions: `cat` and `where`, each taking tensors of one callback.
 */
import { ModelError } from "../../runtime/errors.js";
import { describe, isTensor, type T } from "./tensor.js";

/**
 * Concatenate tensors along `axis` (like torch.cat); every other dimension must agree.
 * @example layer({ …, apply: (p, x) => cat([x.matmul(p.a, { transposeB: true }), x], 1) })
 */
export function cat(xs: readonly T[], axis: number): T {
  if (!Array.isArray(xs) || xs.length === 0 || !isTensor(xs[0])) {
    throw new ModelError(`cat: expected a non-empty array of tensor expressions, got ${describe(xs)}`);
  }
  const first = xs[0];
  const { scope } = first;
  const vs = xs.map((x, i) => (isTensor(x) ? scope.own(`cat[${i}]`, x) : scope.fail(`cat[${i}]: expected a tensor expression, got ${describe(x)}`)));
  const a = first.axis("cat", axis);
  if (vs.length === 1) return first;
  return scope.emit("cat", (b) => b.concat(vs, a));
}

/**
 * torch.where(cond, a, b): a where cond is nonzero (a mask of gt, lt, ge, le), b where it is 0,
 * with broadcasting; a or b may be numbers. A selection, not a blend: the side not taken may be
 * ±∞ or NaN (where(x.gt(0), x.log(), 0)) without touching the result, and the gradient goes to
 * the side taken (none to cond).
 * @example fn("leaky", (x) => where(x.gt(0), x, x.mul(0.1)))
 */
export function where(cond: T, a: T | number, b: T | number): T {
  if (!isTensor(cond)) throw new ModelError(`where: expected a tensor expression as the condition, got ${describe(cond)}`);
  const { scope } = cond;
  const c = scope.own("where condition", cond), x = scope.operand("where", a), y = scope.operand("where", b);
  return scope.emit("where", (g) => g.where(c, x, y));
}
