import { linear } from "../../src/layers/linear.js";
import { relu } from "../../src/layers/relu.js";
import { residual } from "../../src/layers/residual.js";
import { seq } from "../../src/layers/seq.js";
import { layerNorm } from "../../src/layers/layerNorm.js";
export function block<N extends number>(n: N) {
  return residual(seq(linear(n, n), relu, layerNorm(n)));
}
export function widen<N extends number, M extends number>(n: N, m: M) {
  return seq(linear(n, m), relu, linear(m, n));
}
export const b = seq(linear(784, 256), block(256), widen(256, 512), linear(256, 10));
export const b2: "x" = b;
export const bad = seq(linear(784, 256), block(128));
declare const x: any;
export const a = seq(x, linear(3, 4));
export const a2: "x" = a;
