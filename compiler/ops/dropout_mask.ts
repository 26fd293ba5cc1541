import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { defineOp, shapeError, type OpDef } from "./def.js";

/**
 * The dropout mask of one training step: element i is fround(1/(1−p)) with probability 1 − p,
 * else 0, drawn from the counter-based stream keyed (seed, stream) at counter (⌊i/4⌋, step)
 * — see runtime/rng.ts. Its only input is the int32 step scalar; it takes no gradient.
 */
export const dropout_mask: OpDef<{ p: number; seed: number; stream: number; shape: number[] }> = defineOp({
  attrs: closed({ p: t.number, seed: t.number, stream: t.number, shape: t.array(t.number) }),
  arity: 1,
  shape: (ins, a) => {
    const s = ins[0]!;
    if (s.dtype !== "i32" || s.shape.length !== 0) shapeError("dropout_mask", ins, "expected the i32 step scalar");
    if (!(a.p >= 0 && a.p < 1)) shapeError("dropout_mask", ins, `p must be in [0, 1), got ${a.p}`);
    return { shape: a.shape, dtype: "f32" };
  },
  vjp: () => [null],
  lower: (a) => ({ kernel: "dropoutMask", params: [a.seed, a.stream, a.p] }),
});
