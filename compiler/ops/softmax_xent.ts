/**
 * Fused softmax cross-entropy over the rows of logits z [rows, classes] with integer labels:
 * the loss and the gradient of the logits in one pass (stable: shifted by each row's maximum).
 *
 *   logp = z − logΣexp(z)   (per row),   onehot[r, c] = 1[labels[r] = c]
 *   loss = scale · Σ_r logp[r, labels[r]]                 (scale = −1/B for the mean)
 *   dz   = gradScale · (onehot − softmax(z)·Σ_c onehot)   (the cotangent reaching the logits)
 *
 * Σ_c onehot is 1 for a label in range, 0 otherwise, exactly as the unfused graph computes it.
 */
import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { defineMultiOp, shapeError } from "./def.js";

const Attrs = closed({ scale: t.number, gradScale: t.number });
export type SoftmaxXentAttrs = t.TypeOf<typeof Attrs>;

export const softmax_xent = defineMultiOp<SoftmaxXentAttrs>({
  attrs: Attrs,
  arity: 2,
  shapes: (ins) => {
    const z = ins[0]!, labels = ins[1]!;
    if (z.dtype !== "f32" || z.shape.length !== 2) shapeError("softmax_xent", ins, "expected f32 logits [rows, classes]");
    if (labels.dtype !== "i32" || labels.shape.length !== 1 || labels.shape[0] !== z.shape[0]) {
      shapeError("softmax_xent", ins, `expected i32 labels [${z.shape[0]}]`);
    }
    return [{ shape: [], dtype: "f32" }, z];
  },
  vjp: null,
  flops: (_a, [z]) => 6 * z!.shape[0]! * z!.shape[1]!,
  lower: (a, [z]) => ({ kernel: "softmaxXent", params: [z!.shape[0]!, z!.shape[1]!, a.scale, a.gradScale] }),
});
