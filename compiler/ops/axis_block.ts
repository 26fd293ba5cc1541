/** Shared rule of the block-moving ops (slice, pad, concat): one axis, the view [outer, n, inner]. */
import type { ValueType } from "../ir/types.js";
import { Lru } from "../../runtime/lru.js";
import { emitBlocks, emitBroadcast, emitOneHot, emitTril, type BlockSpec } from "../../runtime/wasm/blocks.js";
import { emitMax } from "../../runtime/wasm/max.js";
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

/** Module bytes by spec (a network's programs share most call sites' shapes). */
const modules = new Lru<string, Uint8Array>("block and max wasm bytes", 256);
function cached(key: string, make: () => Uint8Array): Uint8Array {
  let bytes = modules.get(key);
  if (!bytes) modules.set(key, (bytes = make()));
  return bytes;
}
export const blocksWasm = (spec: BlockSpec) => cached(`blocks:${JSON.stringify(spec)}`, () => emitBlocks(spec));
export const maxWasm = (outer: number, n: number, inner: number, mask: boolean) => cached(`max:${outer},${n},${inner},${mask}`, () => emitMax(outer, n, inner, mask));
export const broadcastWasm = (d: readonly number[], s: readonly number[]) =>
  cached(`broadcast:${d};${s}`, () => emitBroadcast(d, s));
export const oneHotWasm = (rows: number, classes: number) => cached(`oneHot:${rows},${classes}`, () => emitOneHot(rows, classes));
export const trilWasm = (outer: number, m: number, n: number, diagonal: number, upper: boolean) =>
  cached(`tril:${outer},${m},${n},${diagonal},${upper}`, () => emitTril(outer, m, n, diagonal, upper));
