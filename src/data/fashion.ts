/**
 * Folders of MNIST-format IDX files — the original MNIST, Fashion-MNIST, or anything saved under
 * the four standard names (each either gzipped with `.gz` or plain):
 *
 *   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
 *
 * Fashion-MNIST comes from the Debian package `dataset-fashion-mnist`
 * (files in /usr/share/datasets/fashion-mnist).
 */
import { access } from "node:fs/promises";
import { join } from "node:path";
import { DecodeError, InputError } from "../../runtime/errors.js";
import { type Dataset, type DatasetSplit, makeDataset } from "./dataset.js";
import { type IdxImages, type IdxLabels, readIdx } from "./idx.js";

export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Class names of Fashion-MNIST, by label. */
export const FASHION_CLASSES = [
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
] as const;

/** The MNIST family has ten classes; a label ≥ 10 means a corrupt or foreign file. */
const CLASSES = 10;

const FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/**
 * Load a folder of the four standard MNIST-format files as a train/test split.
 * @param name prefix of the dataset names ("fashion-mnist" → "fashion-mnist/train", "…/test").
 * @param hint appended to the missing-file error, e.g. how to install the files.
 * @throws InputError when a file is missing, DecodeError when one is corrupt or the files disagree.
 * @example
 * const { train, test } = await loadIdxDir("/data/mnist", "mnist"); // train.count = 60000
 */
export async function loadIdxDir(dir: string, name: string, hint = ""): Promise<DatasetSplit> {
  if (typeof dir !== "string") throw new InputError(`loadIdxDir: expected a folder (string), got ${typeof dir}`);
  const found = await Promise.all(Object.values(FILES).map((base) => locate(dir, base)));
  const missing = Object.values(FILES).filter((_, i) => found[i] === undefined);
  if (missing.length > 0) {
    const what = (await exists(dir)) ? `found no ${missing.map((b) => `${b}(.gz)`).join(", ")}` : "the folder does not exist";
    throw new InputError(`${dir}: expected the four MNIST-format IDX files ` +
      `${Object.values(FILES).join(", ")} (each plain or .gz), but ${what}${hint}`);
  }
  const [trainImages, trainLabels, testImages, testLabels] = found as [string, string, string, string];
  // Sequential on purpose: each decode holds a full copy of its file; one at a time bounds the peak.
  const trainImg = await readIdx(trainImages, "images");
  const train = pair(`${name}/train`, trainImg, trainImages, await readIdx(trainLabels, "labels"), trainLabels);
  const testImg = await readIdx(testImages, "images");
  const test = pair(`${name}/test`, testImg, testImages, await readIdx(testLabels, "labels"), testLabels);
  // Rows and columns, not only their product: 1×4 images are not 2×2 ones.
  if (trainImg.rows !== testImg.rows || trainImg.cols !== testImg.cols) {
    throw new DecodeError(`${testImages}: expected images of ${trainImg.rows}×${trainImg.cols} pixels like ${trainImages}, ` +
      `found ${testImg.rows}×${testImg.cols}`);
  }
  return { train, test };
}

/**
 * Fashion-MNIST (60,000 train / 10,000 test 28×28 grey images of clothes, 10 classes).
 * @param dir folder with the four IDX files; the Debian package's location by default.
 * @throws InputError saying how to install the files when they are missing.
 * @example
 * const { train, test } = await loadFashionMnist();
 * FASHION_CLASSES[train.labels[0]]; // "Ankle boot"
 */
export function loadFashionMnist(dir: string = FASHION_MNIST_DIR): Promise<DatasetSplit> {
  const hint = `; install them with \`apt-get install dataset-fashion-mnist\` (files in ${FASHION_MNIST_DIR}) ` +
    "or pass `--data DIR` with a folder holding the four MNIST-format files";
  return loadIdxDir(dir, "fashion-mnist", hint);
}

/** The path of `base.gz` or `base` in dir (gzip preferred: it is what the distributions ship). */
async function locate(dir: string, base: string): Promise<string | undefined> {
  for (const file of [`${base}.gz`, base]) {
    if (await exists(join(dir, file))) return join(dir, file);
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** Join an images file and its labels file, checking that they describe the same samples. */
function pair(name: string, images: IdxImages, imagesPath: string, labels: IdxLabels, labelsPath: string): Dataset {
  if (images.count !== labels.count) {
    throw new DecodeError(`${labelsPath}: expected ${images.count} labels, one per image of ${imagesPath}, ` +
      `found ${labels.count}`);
  }
  const bad = labels.labels.findIndex((y) => y >= CLASSES);
  if (bad >= 0) {
    throw new DecodeError(`${labelsPath}: expected labels 0–${CLASSES - 1}, found ${labels.labels[bad]} ` +
      `at sample ${bad}`);
  }
  return makeDataset(name, images.pixels, labels.labels, images.rows * images.cols, CLASSES);
}
