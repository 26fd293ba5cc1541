import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { oneHotWasm } from "./axis_block.js";
import { defineOp, shapeError, type OpDef } from "./def.js";

/** y[b, c] = 1[labels[b] = c]: integer class labels [B] → f32 [B, classes]. Labels take no gradient. */
export const one_hot: OpDef<{ classes: number }> = defineOp({
  attrs: closed({ classes: t.number }),
  arity: 1,
  shape: (ins, a) => {
    const x = ins[0]!;
    if (x.dtype !== "i32" || x.shape.length !== 1) shapeError("one_hot", ins, "expected i32 labels of rank 1");
    if (!Number.isInteger(a.classes) || a.classes < 1) shapeError("one_hot", ins, `classes must be a positive integer, got ${a.classes}`);
    return { shape: [x.shape[0]!, a.classes], dtype: "f32" };
  },
  vjp: () => [null],
  lower: (a, [x]) => ({ kernel: "oneHot", params: [a.classes], wasm: oneHotWasm(x!.shape[0]!, a.classes) }),
});
