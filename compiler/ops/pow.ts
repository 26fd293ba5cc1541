import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { powF } from "../../runtime/wasm/fused-math.js";
import { shapeError } from "./def.js";
import { num } from "./elementwise_codegen.js";
import { unaryOp } from "./elementwise.js";

/** y = x^k for a number k;  dx = g·k·x^(k−1) (no gradient when k = 0) */
export const pow = unaryOp<{ k: number }>("pow", {
  attrs: closed({ k: t.number }),
  num: (a) => [a.k],
  check: (ins, a) => { if (!Number.isFinite(a.k)) shapeError("pow", ins, `exponent must be a finite number, got ${a.k}`); },
  vjp: (b, g, x, _y, { k }) => {
    if (k === 0) return null;
    const d = k === 1 ? g : b.mul(g, b.scalar(k));
    return k === 1 ? d : b.mul(d, k === 2 ? x : b.pow(x, k - 1));
  },
  js: (a, [k]) => `Math.pow(${a}, ${num(k!)})`,
  lower: (L, a, [k]) => powF(L, a(), k!),
});
