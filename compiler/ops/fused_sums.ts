/**
 * The reductions a fused elementwise loop computes as it goes (attrs.sums): `sum` or `mean` of
 * one of its slots over the domain's leading axes. With every non-1 reduced dimension before
 * every non-1 kept one, the domain is a [rows, cols] matrix in memory order (cols = the kept
 * dimensions' product) and the reduction is its column sums, y[c] = scale · Σ_r v[r·cols + c]:
 * the bias-gradient shape (cols > 1), or the total (cols = 1, a loss). Row sums (reducing a
 * trailing axis) are not of this form and stay `sum` nodes.
 */
import { size } from "../ir/types.js";
import type { SumInstr } from "./elementwise_codegen.js";

/** Why `s` is not a fused reduction over `shape`, or null when it is one. */
export function sumProblem(shape: readonly number[], s: SumInstr): string | null {
  const rank = shape.length;
  if (!s.axes.every((a) => Number.isInteger(a) && a >= 0 && a < rank) || new Set(s.axes).size !== s.axes.length) return `axes ${JSON.stringify(s.axes)} out of range or repeated`;
  const lastReduced = Math.max(-1, ...s.axes.filter((a) => shape[a] !== 1));
  const firstKept = shape.findIndex((d, i) => d !== 1 && !s.axes.includes(i));
  if (firstKept >= 0 && firstKept < lastReduced) return `axes ${JSON.stringify(s.axes)} are not leading axes of [${shape.join(",")}]`;
  if (size(shape) === 0) return "an empty domain";
  return null;
}

/** Elements of the output: the kept dimensions' product. */
export const sumCols = (shape: readonly number[], s: SumInstr): number => shape.reduce((p, d, i) => (s.axes.includes(i) ? p : p * d), 1);

/** The factor applied to the sum: 1, or 1/n for a mean over n elements (as `mean` lowers). */
export const sumScale = (shape: readonly number[], s: SumInstr): number => (s.op === "mean" ? 1 / (size(shape) / sumCols(shape, s)) : 1);

/** The output's shape: `sum`'s rule (reduced axes dropped, or kept as 1 with keepdims). */
export const sumShape = (shape: readonly number[], s: SumInstr): number[] =>
  s.keepdims ? shape.map((d, i) => (s.axes.includes(i) ? 1 : d)) : shape.filter((_d, i) => !s.axes.includes(i));

/** IR text: "sum(t5,axes=[0],keepdims)". */
export const printSum = (s: SumInstr, name: (slot: number) => string): string =>
  `${s.op}(${name(s.slot)},axes=[${s.axes.join(",")}]${s.keepdims ? ",keepdims" : ""})`;
