/** Metrics over model outputs. */
import { InputError } from "../runtime/errors.js";
import { chunks } from "./data/batches.js";
import type { Dataset } from "./data/dataset.js";
import type { Net } from "./net.js";

/** An array or typed array (anything with a safe-integer length): what the metrics read. */
const isArrayLike = (a: unknown): a is ArrayLike<number> =>
  typeof a === "object" && a !== null && Number.isSafeInteger((a as { length?: unknown }).length);

/**
 * Index of the largest logit of each row: predicted classes of a batch.
 * @example argmax(net.predict(x), 10) // Int32Array(batch)
 */
export function argmax(logits: ArrayLike<number>, classes: number): Int32Array {
  if (typeof classes !== "number" || !Number.isInteger(classes) || classes < 1) throw new InputError(`argmax: classes must be a positive integer, got ${String(classes)}`);
  if (!isArrayLike(logits)) throw new InputError(`argmax: expected an array of logits, got ${logits === null ? "null" : typeof logits}`);
  if (logits.length % classes !== 0) {
    throw new InputError(`argmax: expected a multiple of ${classes} logits, got ${logits.length}`);
  }
  const out = new Int32Array(logits.length / classes);
  for (let r = 0; r < out.length; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[r * classes + c]! > logits[r * classes + best]!) best = c;
    out[r] = best;
  }
  return out;
}

/**
 * Fraction of rows whose largest logit is at the label.
 * @example accuracy(net.predict(test.images), test.labels, 10) // 0.97
 */
export function accuracy(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  const predicted = argmax(logits, classes);
  if (!isArrayLike(labels)) throw new InputError(`accuracy: expected an array of labels, got ${labels === null ? "null" : typeof labels}`);
  if (predicted.length !== labels.length) {
    throw new InputError(`accuracy: expected ${predicted.length} labels (one per row of logits), got ${labels.length}`);
  }
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) hits++;
  return labels.length === 0 ? 0 : hits / labels.length;
}

/**
 * The eval program over a whole dataset, in chunks (no dropout, batchNorm on running
 * statistics): accuracy, error rate and mean cross-entropy (a stable log-sum-exp per row).
 * NaN for an empty dataset.
 * @example evaluate(net, test).error // 0.031
 */
export function evaluate(net: Net, ds: Dataset, chunk = 1024): { accuracy: number; error: number; loss: number } {
  const k = ds.classes;
  let hits = 0, loss = 0;
  for (const { x, labels, size } of chunks(ds, chunk)) {
    const z = net.predict(x);
    // A net of another width would have its rows read k at a time: numbers, all wrong.
    if (z.length !== size * k) throw new InputError(`evaluate: expected a net with one output per class of ${ds.name} (${k}), got ${z.length / size} outputs per sample`);
    const predicted = argmax(z, k);
    for (let r = 0; r < size; r++) {
      if (predicted[r] === labels[r]) hits++;
      let m = -Infinity, s = 0;
      for (let c = 0; c < k; c++) m = Math.max(m, z[r * k + c]!);
      for (let c = 0; c < k; c++) s += Math.exp(z[r * k + c]! - m);
      loss += m + Math.log(s) - z[r * k + labels[r]!]!;
    }
  }
  const accuracy = hits / ds.count;
  return { accuracy, error: 1 - accuracy, loss: loss / ds.count };
}
