/**
 * A dataset is two flat typed arrays — no object per sample — so a batch is a memcpy and the
 * compiled program reads the same Float32Array layout it was planned for.
 *
 *   images[i·features + f]  feature f of sample i (pixels row-major, in [0, 1] for the loaders here)
 *   labels[i]               its class, in [0, classes)
 *
 * Datasets returned by the loaders may be shared (cached per process): treat them as read-only.
 */
import { InputError } from "../../runtime/errors.js";
import { typeName } from "../validate.js";

export interface Dataset {
  /** e.g. "mnist-digits/train"; appears in error messages and logs. */
  readonly name: string;
  /** count × features, row-major. */
  readonly images: Float32Array;
  /** count class indices. */
  readonly labels: Int32Array;
  readonly count: number;
  /** Values per sample: 784 for 28×28 images. */
  readonly features: number;
  /** Number of classes: 10 for the MNIST family. */
  readonly classes: number;
}

/** A fixed train/test split. */
export interface DatasetSplit {
  readonly train: Dataset;
  readonly test: Dataset;
}

/**
 * Build a Dataset from flat arrays, checking that they agree: images.length = count·features,
 * every label an integer in [0, classes), every feature finite.
 * @throws InputError naming the dataset and what was expected.
 * @example
 * const ds = makeDataset("toy", new Float32Array(2 * 784), Int32Array.of(3, 7), 784, 10);
 */
export function makeDataset(
  name: string, images: Float32Array, labels: Int32Array, features: number, classes: number,
): Dataset {
  // The types are checked, not only the values: a Float64Array's 1e39 is finite but ∞ once a batch
  // copies it to float32, and an Array's label 0.5 would become class 0 in a batch's Int32Array.
  if (typeof name !== "string") throw new InputError(`makeDataset: expected a name (string), got ${typeof name}`);
  if (!(images instanceof Float32Array)) {
    throw new InputError(`dataset ${name}: expected images as a Float32Array, got ${typeName(images)}`);
  }
  if (!(labels instanceof Int32Array)) {
    throw new InputError(`dataset ${name}: expected labels as an Int32Array, got ${typeName(labels)}`);
  }
  if (!Number.isInteger(features) || features < 1) {
    throw new InputError(`dataset ${name}: expected features to be a positive integer, got ${features}`);
  }
  if (!Number.isInteger(classes) || classes < 1) {
    throw new InputError(`dataset ${name}: expected classes to be a positive integer, got ${classes}`);
  }
  const count = labels.length;
  if (images.length !== count * features) {
    throw new InputError(`dataset ${name}: expected ${count * features} image values ` +
      `(${count} labels × ${features} features), got ${images.length}`);
  }
  for (let i = 0; i < count; i++) {
    const y = labels[i]!;
    if (y < 0 || y >= classes) {
      throw new InputError(`dataset ${name}: expected labels in [0, ${classes}), got ${y} at sample ${i}`);
    }
  }
  for (let i = 0; i < images.length; i++) {
    if (!Number.isFinite(images[i]!)) {
      throw new InputError(`dataset ${name}: expected finite features, got ${images[i]} at sample ` +
        `${Math.floor(i / features)}, feature ${i % features}`);
    }
  }
  return { name, images, labels, count, features, classes };
}

/**
 * The O(1) checks of a Dataset a function is given (one made by hand rather than by makeDataset
 * would otherwise make batches of NaN from reads past its arrays' ends).
 * @throws InputError naming `where` and what does not fit.
 */
export function checkDataset(ds: unknown, where: string): asserts ds is Dataset {
  if (ds === null || typeof ds !== "object") throw new InputError(`${where}: expected a Dataset (makeDataset), got ${typeName(ds)}`);
  const { name, images, labels, count, features, classes } = ds as Dataset;
  const bad = !(images instanceof Float32Array) ? `images: expected a Float32Array, got ${typeName(images)}`
    : !(labels instanceof Int32Array) ? `labels: expected an Int32Array, got ${typeName(labels)}`
    : count !== labels.length ? `count: expected ${labels.length} (the labels' length), got ${String(count)}`
    : !Number.isInteger(features) || features < 1 ? `features: expected a positive integer, got ${String(features)}`
    : images.length !== count * features ? `images: expected ${count * features} values (${count} × ${features}), got ${images.length}`
    : !Number.isInteger(classes) || classes < 1 ? `classes: expected a positive integer, got ${String(classes)}`
    : null;
  if (bad !== null) throw new InputError(`${where}: dataset ${String(name)}: ${bad} (make datasets with makeDataset)`);
}

/**
 * How many samples of each class: `classCounts(ds)[c]`.
 * @example
 * classCounts(train); // Int32Array [ 801, 902, … ]
 */
export function classCounts(ds: Dataset): Int32Array {
  const counts = new Int32Array(ds.classes);
  for (let i = 0; i < ds.count; i++) counts[ds.labels[i]!]!++;
  return counts;
}

/**
 * One-line summary for logs.
 * @example
 * describeDataset(train); // "mnist-digits/train: 8000 × 784, 10 classes"
 */
export function describeDataset(ds: Dataset): string {
  return `${ds.name}: ${ds.count} × ${ds.features}, ${ds.classes} classes`;
}
