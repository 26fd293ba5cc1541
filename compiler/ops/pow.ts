import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { defineOp, requireF32, shapeError, type OpDef } from "./def.js";

/** y = x^k for a number k;  dx = g·k·x^(k−1) (no gradient when k = 0) */
export const pow: OpDef<{ k: number }> = defineOp({
  attrs: closed({ k: t.number }),
  arity: 1,
  shape: (ins, a) => {
    requireF32("pow", ins);
    if (!Number.isFinite(a.k)) shapeError("pow", ins, `exponent must be a finite number, got ${a.k}`);
    return ins[0]!;
  },
  vjp: (b, g, [x], _y, { k }) => {
    if (k === 0) return [null];
    const d = k === 1 ? g : b.mul(g, b.scalar(k));
    return [k === 1 ? d : b.mul(d, k === 2 ? x! : b.pow(x!, k - 1))];
  },
  lower: (a) => ({ kernel: "pow", params: [a.k] }),
  elementwise: true,
});
