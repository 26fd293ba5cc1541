import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { blockAxis, blockView, blocksWasm, isInt } from "./axis_block.js";
import { defineOp, shapeError, type OpDef } from "./def.js";

export interface SliceAttrs { axis: number; start: number; end: number }

/** y = x[…, start:end, …] on `axis` (0 ≤ start < end ≤ size);  dx = g zero-padded back to x's shape */
export const slice: OpDef<SliceAttrs> = defineOp({
  attrs: closed({ axis: t.number, start: t.number, end: t.number }),
  arity: 1,
  shape: (ins, a) => {
    const ax = blockAxis("slice", ins, a.axis), n = ins[0]!.shape[ax]!;
    if (!isInt(a.start) || !isInt(a.end) || a.start < 0 || a.end > n || a.start >= a.end) {
      shapeError("slice", ins, `range [${a.start}, ${a.end}) is not a non-empty part of [0, ${n}) on axis ${a.axis}`);
    }
    return { shape: ins[0]!.shape.map((d, i) => (i === ax ? a.end - a.start : d)), dtype: "f32" };
  },
  vjp: (b, g, [x], _y, a) => {
    const n = b.type(x!).shape.at(a.axis)!;
    return [b.pad(g, a.axis, a.start, n - a.end)];
  },
  lower: (a, [x]) => {
    const [outer, n, inner] = blockView(x!, a.axis), w = (a.end - a.start) * inner;
    const wasm = blocksWasm({ inputs: 1, outer, dstStride: w, pieces: [{ src: 0, srcOffset: a.start * inner, srcStride: n * inner, dstOffset: 0, width: w }] });
    return { kernel: "slice", params: [outer, n, inner, a.start, a.end], wasm };
  },
  printAttrs: (a) => `axis=${a.axis} [${a.start}:${a.end}]`,
});
