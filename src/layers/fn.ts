import { ModelError } from "../../runtime/errors.js";
import type { Phase } from "../dsl/scope.js";
import type { T } from "../dsl/tensor.js";
import type { FnNode } from "./node.js";

/** The fn marker type: passes its input size through, like relu (no phantom sizes, see ./sized.ts). */
export type Fn = FnNode;

/** A user's name for a layer: any non-empty string of at most 256 characters. It is data only. */
export function checkName(what: string, name: unknown): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 256) {
    throw new ModelError(`${what} name must be a non-empty string of at most 256 characters, got ${typeof name === "string" ? `a string of ${name.length}` : `${typeof name} ${String(name)}`}`);
  }
  return name;
}

/**
 * A shape-preserving layer written with tensor expressions (typed like `relu`: sizes pass
 * through). The body may use only its input and numbers; `name` shows in errors and in the IR.
 * Its second argument says whether the program being traced trains (`phase.training`).
 * @example const swish = fn("swish", (x) => x.mul(x.sigmoid()));  seq(linear(20, 64), swish)
 */
export function fn(name: string, f: (x: T, phase: Phase) => T): Fn {
  const n = checkName("fn", name);
  if (typeof f !== "function") throw new ModelError(`fn ${JSON.stringify(n)}: expected a function (x) => tensor expression, got ${typeof f}`);
  return Object.freeze({ kind: "fn" as const, name: n, f });
}
