/**
 * Vectors of a fused elementwise loop whose rows are shorter than a vector (fused.ts): the
 * innermost dimension n ∈ {2, 3} after coalescing, e.g. a softmax over the middle axis of
 * [B, 128, 2], whose max [B, 1, 2] is read broadcast. The last two dimensions [m, n] run as one
 * row of m·n elements, in chunks of P = lcm(n, 4) elements (P/4 vectors, P/n rows of n) and a
 * scalar tail; each element is computed by the same float32 operations as in the scalar loop
 * (fused-lanes.ts), so the bits do not change. Per operand with strides (a, b) over [m, n],
 * lane t of a chunk starting at row i0 reads element a·(i0 + ⌊t/n⌋) + b·(t mod n):
 *     flat      (a, b) = (n, 1): consecutive floats, an ordinary vector load;
 *     fixed     (0, 0): one value a row, splat;
 *     periodic  (0, b): the same P floats in every chunk, gathered once a row;
 *     gather    otherwise ([…, m, 1] read broadcast: (1, 0)): four loads at constant offsets
 *               from a pointer that moves a·(P/n) a chunk.
 * A scalar loop there ran every op once an element: 6.7 ns an element for a softmax's exp loop
 * of [256, 128, 2], against 1.9 in vectors.
 */
import { f32, f32x4, type Expr } from "./emit.js";

export type SmallKind = "flat" | "fixed" | "periodic" | "gather";

/** How an operand with strides (a, b) over the row's [m, n] is read (see above). */
export function smallKind(a: number, b: number, n: number): SmallKind {
  if (b === 1 && a === n) return "flat";
  if (a === 0) return b === 0 ? "fixed" : "periodic";
  return "gather";
}

/** Elements in a chunk: the least common multiple of n and 4. */
export const chunkOf = (n: number): number => (n % 4 === 0 ? n : n % 2 === 0 ? 2 * n : 4 * n);

/** Byte offsets, from the chunk's first row, of element t (t < chunk length) of an operand (a, b). */
export const elementOffset = (a: number, b: number, n: number, t: number): number => 4 * (a * Math.floor(t / n) + b * (t % n));

/** A vector of the four floats at base + offsets[l] (offsets ≥ 0, folded into the loads' immediates). */
export function gather(base: Expr<"i32">, offsets: readonly number[]): Expr<"v128"> {
  let v = f32x4.splat(f32.load(base, offsets[0]!));
  for (let l = 1; l < 4; l++) v = f32x4.replace_lane(v, l, f32.load(base, offsets[l]!));
  return v;
}
