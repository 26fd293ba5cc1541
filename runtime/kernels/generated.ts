/**
 * Kernels whose source the compiler generates per graph (shapes and constants inlined as
 * numbers). The compiler only ever emits numbers and its own identifiers into the source; the
 * runtime compiles it once per distinct source. Generated code can call the helpers passed in
 * here (the counter-based RNG, the scalar math JavaScript lacks), nothing else.
 */
import { philox, toUniform } from "../rng.js";
import { erf, sigmoid } from "./math.js";
import { Lru } from "../lru.js";
import type { Kernel } from "./types.js";

/** What generated code may call, by these names. */
export const HELPERS = { philox, toUniform, erf, sigmoid } as const;
const names = Object.keys(HELPERS), values = Object.values(HELPERS);

const cache = new Lru<string, Kernel>("generated JS kernels", 256);

export function compileKernel(source: string): Kernel {
  let k = cache.get(source);
  if (!k) {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- source is compiler-made, numbers only
    const make = new Function(...names, `"use strict";\nreturn function generated(bufs, p) {\n${source}\n};`);
    k = make(...values) as Kernel;
    cache.set(source, k);
  }
  return k;
}

/**
 * A scalar function of `arity` arguments a, b, … from a compiler-made expression over them (the
 * same formulas as the generated kernels: constant folding uses it, so folded and computed
 * values agree).
 */
export function compileScalar(expr: string, arity: number): (...args: number[]) => number {
  const args = ["a", "b", "c", "d"].slice(0, arity);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- expression is compiler-made
  return new Function(...names, `"use strict";\nreturn function scalar(${args.join(", ")}) { return ${expr}; };`)(...values) as (...args: number[]) => number;
}
