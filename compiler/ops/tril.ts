import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { isInt, trilWasm } from "./axis_block.js";
import { defineOp, requireF32, shapeError, type OpDef } from "./def.js";

/**
 * torch.tril (upper false) / torch.triu (upper true) over the last two axes: y[…, i, j] = x[…, i, j]
 * where j − i ≤ diagonal (tril) or j − i ≥ diagonal (triu), else 0 — a causal mask's triangle.
 * dx = the same triangle of g.
 */
export const tril: OpDef<{ diagonal: number; upper: boolean }> = defineOp({
  attrs: closed({ diagonal: t.number, upper: t.boolean }),
  arity: 1,
  shape: (ins, a) => {
    requireF32("tril", ins);
    const x = ins[0]!.shape;
    if (x.length < 2) shapeError("tril", ins, "expected a tensor of rank 2 or more (a matrix, or a batch of them)");
    if (!isInt(a.diagonal) || Math.abs(a.diagonal) >= 2 ** 30) shapeError("tril", ins, `diagonal must be an integer, got ${a.diagonal}`);
    return { shape: x, dtype: "f32" };
  },
  vjp: (b, g, _ins, _out, a) => [b.tril(g!, a.diagonal, a.upper)],
  lower: (a, [x]) => {
    const s = x!.shape, r = s.length, m = s[r - 2]!, n = s[r - 1]!, outer = s.slice(0, r - 2).reduce((p, d) => p * d, 1);
    return { kernel: "tril", params: [outer, m, n, a.diagonal, a.upper ? 1 : 0], wasm: trilWasm(outer, m, n, a.diagonal, a.upper) };
  },
  printAttrs: (a) => `${a.upper ? "upper" : "lower"} diagonal=${a.diagonal}`,
});
