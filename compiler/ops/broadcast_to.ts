import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { broadcastStrides, defineOp, requireF32, shapeError, type OpDef } from "./def.js";

/** Repeat x along dimensions of size 1 (or missing leading ones);  dx = g summed back to x's shape */
export const broadcast_to: OpDef<{ shape: number[] }> = defineOp({
  attrs: closed({ shape: t.array(t.number) }),
  arity: 1,
  shape: (ins, a) => {
    requireF32("broadcast_to", ins);
    const x = ins[0]!.shape, off = a.shape.length - x.length;
    if (off < 0 || x.some((d, i) => d !== 1 && d !== a.shape[off + i])) {
      shapeError("broadcast_to", ins, `cannot broadcast to [${a.shape.join(",")}]`);
    }
    return { shape: a.shape, dtype: "f32" };
  },
  vjp: (b, g, [x]) => [b.sumTo(g, b.type(x!).shape)],
  lower: (_a, [x], out) => ({
    kernel: "broadcast",
    params: [out.shape.length, ...out.shape, ...broadcastStrides(x!.shape, out.shape), ...new Array<number>(out.shape.length).fill(0)],
  }),
});
