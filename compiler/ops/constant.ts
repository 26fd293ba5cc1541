import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { defineOp, type OpDef } from "./def.js";

/** A constant tensor filled with one value (scalars have shape []); broadcasting does the rest. */
export const constant: OpDef<{ value: number; shape: number[] }> = defineOp({
  attrs: closed({ value: t.number, shape: t.array(t.number) }),
  arity: 0,
  shape: (_ins, a) => ({ shape: a.shape, dtype: "f32" }),
  vjp: () => [],
  lower: (a) => ({ kernel: "fill", params: [a.value] }),
});
