/** The leaves of the IR: element types and the static type of a value. */
import * as t from "io-ts";

export const DType = t.keyof({ f32: null, i32: null });
export type DType = t.TypeOf<typeof DType>;

export interface ValueType {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** A value is named by its index in `Graph.values` (SSA: defined exactly once). */
export type V = number;

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * A reshape target holding `total` elements, its one −1 (if any) inferred; null when the
 * dimensions cannot hold them. The caller has refused a second −1 and dimensions below −1.
 */
export function inferShape(total: number, want: readonly number[]): number[] | null {
  const known = want.reduce((a, d) => (d === -1 ? a : a * d), 1);
  const out = want.map((d) => (d === -1 ? total / known : d));
  return out.every((d) => Number.isInteger(d) && d >= 1) && size(out) === total ? out : null;
}
export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);
/** One value per column of an [·, n] matrix: [n] or [1, n] (a bias, γ, β). */
export const perColumn = (shape: readonly number[], n: number): boolean =>
  (shape.length === 1 && shape[0] === n) || (shape.length === 2 && shape[0] === 1 && shape[1] === n);
export const fmtShape = (shape: readonly number[]): string => `[${shape.join(",")}]`;
export const fmtType = (v: ValueType): string => `${v.dtype}${fmtShape(v.shape)}`;
