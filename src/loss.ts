/**
 * Losses: how a batch's outputs and labels become one scalar, emitted into the train graph.
 */
import type { GraphBuilder } from "../compiler/ir/builder.js";
import type { V, ValueType } from "../compiler/ir/types.js";
import { InputError } from "../runtime/errors.js";
import { describeValue } from "./validate.js";

export type Labels = Int32Array | Float32Array | ArrayLike<number>;

export interface Loss {
  readonly kind: "softmaxCrossEntropy" | "mse";
  /** Type of the labels input for a batch and an output width. */
  readonly labelType: (batch: number, outputs: number) => ValueType;
  /** Emit the scalar loss of `logits` against the labels input. */
  readonly emit: (b: GraphBuilder, logits: V, labels: V) => V;
  /** Reject labels that do not fit; called before anything is written. */
  readonly check: (labels: unknown, batch: number, outputs: number) => void;
}

const classIndices = (batch: number) => `one class index per sample, an Int32Array(${batch})`;
const targets = (batch: number, outputs: number) => `targets shaped like the output, a Float32Array(${batch}×${outputs})`;

/** `what(batch, outputs)` describes the expected labels; it runs only to build a message. */
function checkLength(labels: unknown, want: number, what: (batch: number, outputs: number) => string, batch: number, outputs: number): asserts labels is ArrayLike<number> {
  if (labels === null || typeof labels !== "object" || typeof (labels as ArrayLike<number>).length !== "number") {
    throw new InputError(`labels: expected ${what(batch, outputs)}, got ${describeValue(labels)}`);
  }
  if ((labels as ArrayLike<number>).length !== want) {
    throw new InputError(`labels: expected ${want} values (${what(batch, outputs)}), got ${(labels as ArrayLike<number>).length}`);
  }
}

/**
 * Softmax cross-entropy on integer class labels, mean over the batch, through a stable
 * log-softmax: loss = −(1/B) Σ_b log softmax(z_b)[y_b].
 * @example compile(model, { inputs: 784, batch: 128, loss: softmaxCrossEntropy() })
 */
export function softmaxCrossEntropy(): Loss {
  return Object.freeze({
    kind: "softmaxCrossEntropy" as const,
    labelType: (batch: number) => ({ shape: [batch], dtype: "i32" as const }),
    emit: (b: GraphBuilder, logits: V, labels: V) => {
      const [batch, classes] = b.type(logits).shape as [number, number];
      const picked = b.sum(b.mul(b.logSoftmax(logits, 1), b.oneHot(labels, classes)), [0, 1]);
      return b.mul(picked, b.scalar(-1 / batch));
    },
    check: (labels: unknown, batch: number, classes: number) => {
      checkLength(labels, batch, classIndices, batch, classes);
      for (let i = 0; i < batch; i++) {
        const y = labels[i]!;
        if (!Number.isInteger(y) || y < 0 || y >= classes) {
          throw new InputError(`labels[${i}]: expected an integer class index in [0, ${classes - 1}], got ${y}`);
        }
      }
    },
  });
}

/**
 * Mean squared error over all elements, as PyTorch's MSELoss(): (1/(B·C)) Σ (z − t)².
 * Targets are a Float32Array shaped like the output.
 * @example compile(seq(linear(3, 1)), { inputs: 3, batch: 16, loss: mse() })
 */
export function mse(): Loss {
  return Object.freeze({
    kind: "mse" as const,
    labelType: (batch: number, outputs: number) => ({ shape: [batch, outputs], dtype: "f32" as const }),
    emit: (b: GraphBuilder, out: V, target: V) => {
      const d = b.sub(out, target);
      return b.mean(b.mul(d, d), [0, 1]);
    },
    check: (labels: unknown, batch: number, outputs: number) => {
      checkLength(labels, batch * outputs, targets, batch, outputs);
      for (let i = 0; i < batch * outputs; i++) {
        if (!Number.isFinite(labels[i])) throw new InputError(`targets[${i}]: expected a finite number, got ${labels[i]}`);
      }
    },
  });
}
