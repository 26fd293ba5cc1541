/**
 * Losses: how a batch's outputs and labels become one scalar, emitted into the train graph.
 */
import type { GraphBuilder } from "../compiler/ir/builder.js";
import type { V, ValueType } from "../compiler/ir/types.js";
import { InputError, ModelError } from "../runtime/errors.js";
import { badFloat, describeValue, notFinite, valueText } from "./validate.js";
import { callUser, returnedTensor, type ScopeRange } from "./dsl/call.js";
import type { T } from "./dsl/tensor.js";
import { checkName } from "./layers/fn.js";
import { isFloat32, knownOptions, numberText } from "./options.js";

export type Labels = Int32Array | Float32Array | ArrayLike<number>;

export interface Loss {
  readonly kind: "softmaxCrossEntropy" | "mse" | "binaryCrossEntropy" | "l1" | "huber" | "lossFn";
  /** The name a user gave (lossFn), or the loss's own. */
  readonly name?: string;
  /** Type of the labels input for a batch and an output width. */
  readonly labelType: (batch: number, outputs: number) => ValueType;
  /** Emit the scalar loss of `logits` against the labels input; user code records its nodes in `scopes`. */
  readonly emit: (b: GraphBuilder, logits: V, labels: V, scopes?: ScopeRange[]) => V;
  /** Reject labels that do not fit; called before anything is written. */
  readonly check: (labels: unknown, batch: number, outputs: number) => void;
  /**
   * Float targets shaped like the output that `check` only needs finite ("finite") or in [0, 1]
   * ("unit"): a Float32Array of them is copied and checked in WebAssembly (src/batch-input.ts),
   * `check` then runs only to name what is wrong.
   */
  readonly targets?: "finite" | "unit";
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
          throw new InputError(`labels[${i}]: expected an integer class index in [0, ${classes - 1}], got ${valueText(y)}`);
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
    check: checkFinite,
    targets: "finite" as const,
  });
}

/** Float targets shaped like the output, every one finite. */
function checkFinite(labels: unknown, batch: number, outputs: number): void {
  checkLength(labels, batch * outputs, targets, batch, outputs);
  for (let i = 0; i < batch * outputs; i++) {
    if (badFloat(labels[i]) !== null) throw notFinite(`targets[${i}]`, labels[i]); // stored as float32: 1e39 would be ∞
  }
}

/** Probabilities: every target a number in [0, 1] (NaN fails both compares; a string "0.5" is not a number). */
function checkUnit(labels: unknown, batch: number, outputs: number): void {
  checkLength(labels, batch * outputs, targets, batch, outputs);
  const n = batch * outputs;
  for (let i = 0; i < n; i++) {
    const v = labels[i]!;
    if (!(typeof v === "number" && v >= 0 && v <= 1)) throw new InputError(`targets[${i}]: expected a probability in [0, 1], got ${valueText(v)}`);
  }
}

/** A loss written with tensor expressions over (out, target); the result must be a scalar. */
function expressionLoss(kind: Loss["kind"], name: string, f: (out: T, target: T) => unknown,
  check: (labels: unknown, batch: number, outputs: number) => void): Loss {
  const where = `${kind === "lossFn" ? "lossFn" : "loss"} ${JSON.stringify(name)}`;
  return Object.freeze({
    kind, name,
    labelType: (batch: number, outputs: number) => ({ shape: [batch, outputs], dtype: "f32" as const }),
    emit: (b: GraphBuilder, out: V, target: V, scopes: ScopeRange[] = []) =>
      callUser(b, where, scopes, (wrap) => f(wrap(out), wrap(target)), (r, scope) => {
        const v = returnedTensor(r, scope, "a scalar tensor expression (shape [])");
        const shape = b.type(v).shape;
        if (shape.length !== 0) scope.fail(`the loss must be a scalar (shape []), got shape [${shape.join(",")}]; reduce it with .mean() or .sum()`);
        return v;
      }),
    check,
    targets: check === checkUnit ? "unit" as const : "finite" as const,
  });
}

/**
 * Binary cross-entropy, mean over all elements, targets in [0, 1] shaped like the output.
 * `logits: true` is PyTorch's BCEWithLogitsLoss on raw scores, computed stably as
 * z·(½ − t) + ½|z| + log(1 + e^−|z|) (= max(z, 0) − z·t + log(1 + e^−|z|); the halves make the
 * gradient at z = 0 exactly σ(0) − t, as PyTorch's); `logits: false` is BCELoss on
 * probabilities, each log clamped at −100 as PyTorch does.
 * @example compile(seq(linear(20, 1)), { inputs: 20, batch: 32, loss: binaryCrossEntropy({ logits: true }) })
 */
export function binaryCrossEntropy(opts: { logits?: boolean } = {}): Loss {
  knownOptions("binaryCrossEntropy", opts, ["logits"]);
  const logits = opts?.logits ?? false;
  if (typeof logits !== "boolean") throw new ModelError(`binaryCrossEntropy logits must be true or false, got ${String(logits)}`);
  return logits
    ? expressionLoss("binaryCrossEntropy", "binaryCrossEntropy(logits)", (z, t) => {
      const a = z.abs();
      return z.mul(t.neg().add(0.5)).add(a.mul(0.5)).add(a.neg().exp().add(1).log()).mean();
    }, checkUnit)
    : expressionLoss("binaryCrossEntropy", "binaryCrossEntropy", (p, t) => {
      // The value: −(t·max(ln p, −100) + (1 − t)·max(ln(1 − p), −100)). Its own derivative is
      // −t/p + (1 − t)/(1 − p) masked by the clamps, which is 0·∞ = NaN where p rounds to 0 or 1 (a
      // sigmoid of |z| > 17 does): so the gradient is PyTorch's formula instead,
      // (p − t)/max(p(1 − p), 10⁻¹²), carried by (p − detach p)·detach(g): 0 in value, g in gradient.
      const lp = p.log().maximum(-100), lq = p.neg().add(1).log().maximum(-100);
      const value = t.mul(lp).add(t.neg().add(1).mul(lq)).neg();
      const g = p.sub(t).div(p.neg().add(1).mul(p).maximum(1e-12));
      return value.detach().add(p.sub(p.detach()).mul(g.detach())).mean();
    }, checkUnit);
}

/**
 * Mean absolute error (PyTorch's L1Loss): mean |out − target|.
 * @example compile(model, { inputs: 3, batch: 16, loss: l1() })
 */
export function l1(): Loss {
  return expressionLoss("l1", "l1", (o, t) => o.sub(t).abs().mean(), checkFinite);
}

/**
 * Huber loss (PyTorch's HuberLoss, mean): ½d² where |d| < δ, δ(|d| − ½δ) beyond, d = out − target.
 * Written without a branch: with a = |d| and q = min(a, δ), it is ½q² + δ(a − q).
 * @example compile(model, { inputs: 3, batch: 16, loss: huber({ delta: 0.5 }) })
 */
export function huber(opts: { delta?: number } = {}): Loss {
  knownOptions("huber", opts, ["delta"]);
  const delta = opts?.delta ?? 1;
  if (!isFloat32(delta) || delta <= 0) throw new ModelError(`huber delta must be a finite number > 0, got ${numberText(delta)}`);
  return expressionLoss("huber", `huber(${delta})`, (o, t) => {
    const a = o.sub(t).abs();
    const q = a.minimum(delta);
    return q.square().mul(0.5).add(a.sub(q).mul(delta)).mean();
  }, checkFinite);
}

/**
 * A user's loss over float targets shaped like the output: `f(out, target)` returns a scalar
 * tensor expression. The name shows in errors and in the traced IR.
 * @example lossFn("logcosh", (out, t) => out.sub(t).exp().add(out.sub(t).neg().exp()).mul(0.5).log().mean())
 */
export function lossFn(name: string, f: (out: T, target: T) => T): Loss {
  const n = checkName("lossFn", name);
  if (typeof f !== "function") throw new ModelError(`lossFn ${JSON.stringify(n)}: expected a function (out, target) => scalar tensor expression, got ${typeof f}`);
  return expressionLoss("lossFn", n, f, checkFinite);
}
