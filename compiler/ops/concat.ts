import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { blockAxis, blockView, blocksWasm } from "./axis_block.js";
import { defineMultiOp, shapeError, type OpDef } from "./def.js";

/**
 * The most inputs one concat node takes: its kernel is a WebAssembly function of one parameter per
 * buffer, and engines refuse more than 1,000 (V8). GraphBuilder.concat writes a longer list as a
 * concat of concats, which simplify leaves so.
 */
export const MAX_CONCAT_INPUTS = 256;

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
    const [outer, , inner] = blockView(ins[0]!, a.axis), ns = ins.map((v) => v.shape.at(a.axis)!);
    const m = ns.reduce((s, n) => s + n, 0) * inner;
    let at = 0;
    const pieces = ns.map((n, j) => ({ src: j, srcOffset: 0, srcStride: n * inner, dstOffset: (at += n * inner) - n * inner, width: n * inner }));
    return { kernel: "concat", params: [outer, inner, ins.length, ...ns], wasm: blocksWasm({ inputs: ins.length, outer, dstStride: m, pieces }) };
  },
  printAttrs: (a) => `axis=${a.axis}`,
});
