import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { blockAxis, blockView } from "./axis_block.js";
import { defineMultiOp, shapeError, type OpDef } from "./def.js";

/** y = the inputs side by side on `axis` (other dimensions equal);  dxᵢ = g sliced at xᵢ's place */
export const concat: OpDef<{ axis: number }> = defineMultiOp({
  attrs: closed({ axis: t.number }),
  arity: null,
  shapes: (ins, a) => {
    if (ins.length === 0) shapeError("concat", ins, "needs at least one input");
    const ax = blockAxis("concat", ins, a.axis), first = ins[0]!.shape;
    ins.forEach((v, j) => {
      if (v.shape.length !== first.length || v.shape.some((d, i) => i !== ax && d !== first[i])) {
        shapeError("concat", ins, `input ${j} differs from input 0 off axis ${a.axis}`);
      }
    });
    const n = ins.reduce((s, v) => s + v.shape[ax]!, 0);
    return [{ shape: first.map((d, i) => (i === ax ? n : d)), dtype: "f32" }];
  },
  vjp: (b, [g], ins, _outs, a) => {
    if (g === null || g === undefined) return ins.map(() => null);
    let at = 0;
    return ins.map((x) => {
      const n = b.type(x).shape.at(a.axis)!;
      at += n;
      return b.slice(g, a.axis, at - n, at);
    });
  },
  lower: (a, ins) => {
    const [outer, , inner] = blockView(ins[0]!, a.axis);
    return { kernel: "concat", params: [outer, inner, ins.length, ...ins.map((v) => v.shape.at(a.axis)!)] };
  },
  printAttrs: (a) => `axis=${a.axis}`,
});
