import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { blockAxis, blockView, blocksWasm, isInt } from "./axis_block.js";
import { defineOp, shapeError, type OpDef } from "./def.js";

export interface PadAttrs { axis: number; before: number; after: number }

/** y = x with `before` zeros in front and `after` behind on `axis` (the adjoint of slice);  dx = slice(g) */
export const pad: OpDef<PadAttrs> = defineOp({
  attrs: closed({ axis: t.number, before: t.number, after: t.number }),
  arity: 1,
  shape: (ins, a) => {
    const ax = blockAxis("pad", ins, a.axis);
    if (!isInt(a.before) || !isInt(a.after) || a.before < 0 || a.after < 0 || a.before + a.after > 2 ** 30) {
      shapeError("pad", ins, `padding (${a.before}, ${a.after}) must be non-negative integers`);
    }
    return { shape: ins[0]!.shape.map((d, i) => (i === ax ? d + a.before + a.after : d)), dtype: "f32" };
  },
  vjp: (b, g, [x], _y, a) => [b.slice(g, a.axis, a.before, a.before + b.type(x!).shape.at(a.axis)!)],
  lower: (a, [x]) => {
    const [outer, n, inner] = blockView(x!, a.axis), m = (n + a.before + a.after) * inner;
    const wasm = blocksWasm({
      inputs: 1, outer, dstStride: m, pieces: [
        { src: -1, srcOffset: 0, srcStride: 0, dstOffset: 0, width: a.before * inner },
        { src: 0, srcOffset: 0, srcStride: n * inner, dstOffset: a.before * inner, width: n * inner },
        { src: -1, srcOffset: 0, srcStride: 0, dstOffset: (a.before + n) * inner, width: a.after * inner },
      ],
    });
    return { kernel: "pad", params: [outer, n, inner, a.before, a.after], wasm };
  },
  printAttrs: (a) => `axis=${a.axis} (${a.before}, ${a.after})`,
});
