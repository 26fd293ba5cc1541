import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { defineOp, shapeError, type OpDef } from "./def.js";
import { matmul } from "./matmul.js";

/**
 * Fused affine map with an epilogue: Y = act(op(A)·op(B) + bias), bias broadcast over rows and
 * act = relu or identity. The matrix product's kernel adds the bias and applies the activation
 * while each output tile is still in registers, saving two passes over Y.
 */
export const linear: OpDef<{ transA: boolean; transB: boolean; relu: boolean }> = defineOp({
  attrs: closed({ transA: t.boolean, transB: t.boolean, relu: t.boolean }),
  arity: 3,
  shape: (ins, a) => {
    const [y] = matmul.shapes(ins.slice(0, 2), { transA: a.transA, transB: a.transB });
    const bias = ins[2]!;
    if (bias.dtype !== "f32" || bias.shape.length !== 1 || bias.shape[0] !== y!.shape[1]) {
      shapeError("linear", ins, `expected a bias of ${y!.shape[1]} values`);
    }
    return y!;
  },
  flops: (a, ins, out) => 2 * out.shape[0]! * out.shape[1]! * (a.transA ? ins[0]!.shape[0]! : ins[0]!.shape[1]!) + 2 * out.shape[0]! * out.shape[1]!,
  vjp: null,
  lower: (a, [x], out) => ({
    kernel: "linear",
    params: [out.shape[0]!, out.shape[1]!, a.transA ? x!.shape[0]! : x!.shape[1]!, a.transA ? 1 : 0, a.transB ? 1 : 0, a.relu ? 1 : 0],
  }),
});
