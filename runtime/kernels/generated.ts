/**
 * Kernels whose source the compiler generates per graph (shapes and constants inlined as
 * numbers). The compiler only ever emits numbers and its own identifiers into the source; the
 * runtime compiles it once per distinct source. Generated code can call the helpers passed in
 * here (the counter-based RNG), nothing else.
 */
import { philox, toUniform } from "../rng.js";
import type { Kernel } from "./types.js";

const cache = new Map<string, Kernel>();

export function compileKernel(source: string): Kernel {
  let k = cache.get(source);
  if (!k) {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- source is compiler-made, numbers only
    const make = new Function("philox", "toUniform", `"use strict";\nreturn function generated(bufs, p) {\n${source}\n};`);
    k = make(philox, toUniform) as Kernel;
    cache.set(source, k);
  }
  return k;
}
