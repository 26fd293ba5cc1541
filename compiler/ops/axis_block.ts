/** Shared rule of the block-moving ops (slice, pad, concat): one axis, the view [outer, n, inner]. */
import type { ValueType } from "../ir/types.js";
import { aroundAxis, axisOf, requireF32, shapeError } from "./def.js";

export const isInt = (x: number) => Number.isInteger(x) && !Object.is(x, -0);

/** The axis made non-negative, after checking the operands are f32 and the axis is in range. */
export function blockAxis(op: string, ins: readonly ValueType[], axis: number): number {
  requireF32(op, ins);
  if (!isInt(axis)) shapeError(op, ins, `axis must be an integer, got ${axis}`);
  return axisOf(op, ins, axis, ins[0]!.shape.length);
}

/** [outer, n, inner] of x around `axis`. */
export const blockView = (x: ValueType, axis: number) => aroundAxis(x.shape, axis < 0 ? axis + x.shape.length : axis);
