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
