import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { blockAxis, blockView, isInt } from "./axis_block.js";
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
  lower: (a, [x]) => ({ kernel: "pad", params: [...blockView(x!, a.axis), a.before, a.after] }),
  printAttrs: (a) => `axis=${a.axis} (${a.before}, ${a.after})`,
});
