import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { size } from "../ir/types.js";
import { defineOp, requireF32, shapeError, type OpDef } from "./def.js";

/** Same elements, new shape (row-major);  dx = reshape(g, shape of x) */
export const reshape: OpDef<{ shape: number[] }> = defineOp({
  attrs: closed({ shape: t.array(t.number) }),
  arity: 1,
  shape: (ins, a) => {
    requireF32("reshape", ins);
    if (size(a.shape) !== size(ins[0]!.shape)) shapeError("reshape", ins, `cannot reshape to [${a.shape.join(",")}]`);
    return { shape: a.shape, dtype: "f32" };
  },
  vjp: (b, g, [x]) => [b.reshape(g, b.type(x!).shape)],
  lower: () => ({ kernel: "copy", params: [] }),
});
