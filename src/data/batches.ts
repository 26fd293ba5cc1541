/**
 * Mini-batches with seeded shuffling and no allocation per batch.
 *
 * A Batcher owns ONE x buffer (batch·features floats) and ONE labels buffer (batch ints) and
 * refills them for every batch, so a compiled train step can be planned against fixed inputs. A
 * batch is therefore only valid until the next one is requested: copy it if you keep it.
 *
 * Shuffling is Fisher–Yates driven by Philox (runtime/rng.ts), a pure function of (seed, epoch):
 *   key = (seed, 0xC0000000) — the shuffle stream; subset() uses (seed, 0xC0000001). Dropout keys
 *   use small stream numbers and init 0x80000000 + index, so no stream is shared.
 *   counter = (⌊k/2⌋, epoch, 0, 0) for the k-th swap; words 2(k mod 2), 2(k mod 2)+1 form a 53-bit
 *   uniform u, and the swap partner of position i is ⌊u·(i+1)⌋ (bias ≤ (i+1)/2⁵³: none measurable).
 * Same seed and epoch → same order on any machine; epochs differ from each other.
 */
import { InputError } from "../../runtime/errors.js";
import { philox } from "../../runtime/rng.js";
import { checkDataset, type Dataset, makeDataset } from "./dataset.js";
import { knownOptions } from "../options.js";

const SHUFFLE_STREAM = 0xc0000000;
const SUBSET_STREAM = 0xc0000001;

/** One mini-batch. `x` and `labels` are the Batcher's reused buffers (or views of them). */
export interface Batch {
  /** size × features, row-major. */
  readonly x: Float32Array;
  readonly labels: Int32Array;
  /** Samples in this batch: `batch`, or fewer for the last one when dropLast is false. */
  readonly size: number;
  /** 0-based index of the batch within its epoch. */
  readonly index: number;
}

export interface BatchOptions {
  /** Samples per batch. */
  readonly batch: number;
  /** Shuffle seed, an integer in [0, 2³²). Default 0. */
  readonly seed?: number;
  /** Visit samples in a new random order each epoch (default true); false = dataset order. */
  readonly shuffle?: boolean;
  /** Skip the final partial batch (default true), so every batch has exactly `batch` samples. */
  readonly dropLast?: boolean;
}

/**
 * Seeded mini-batch iterator over a dataset. `epoch(e)` returns an iterable over the batches of
 * epoch e; every batch reuses `batcher.x` / `batcher.labels` (the final partial batch, if kept, is a
 * pair of views of them made once in the constructor). One epoch iteration at a time per Batcher.
 * @example
 * const batcher = new Batcher(train, { batch: 128, seed: 0 });
 * for (let e = 0; e < 10; e++) for (const { x, labels } of batcher.epoch(e)) step(x, labels);
 */
export class Batcher implements IterableIterator<Batch> {
  /** The reused input buffer: batch × features. */
  readonly x: Float32Array;
  /** The reused label buffer: batch. */
  readonly labels: Int32Array;
  readonly batch: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  /** Batches per epoch. */
  readonly batchesPerEpoch: number;

  private readonly order: Int32Array;
  private readonly block = new Uint32Array(4);
  private readonly full: { x: Float32Array; labels: Int32Array; size: number; index: number };
  private readonly tail: { x: Float32Array; labels: Int32Array; size: number; index: number };
  private readonly result: { done: boolean; value: Batch };
  private cursor = 0;

  constructor(readonly ds: Dataset, options: BatchOptions) {
    checkDataset(ds, "Batcher");
    if (options === null || typeof options !== "object") {
      throw new InputError(`Batcher(${ds.name}): expected options { batch, seed?, shuffle?, dropLast? }, got ${String(options)}`);
    }
    knownOptions(`Batcher(${ds.name})`, options, ["batch", "seed", "shuffle", "dropLast"], InputError);
    const { batch, seed = 0, shuffle = true, dropLast = true } = options;
    if (!Number.isInteger(batch) || batch < 1) {
      throw new InputError(`Batcher(${ds.name}): expected batch to be a positive integer, got ${batch}`);
    }
    checkSeed(seed, `Batcher(${ds.name})`);
    if (dropLast && batch > ds.count) {
      throw new InputError(`Batcher(${ds.name}): expected batch ≤ ${ds.count} samples with dropLast, got ` +
        `${batch}; every epoch would be empty`);
    }
    this.batch = batch;
    this.seed = seed;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.batchesPerEpoch = dropLast ? Math.floor(ds.count / batch) : Math.ceil(ds.count / batch);
    this.x = new Float32Array(batch * ds.features);
    this.labels = new Int32Array(batch);
    this.order = new Int32Array(ds.count);
    const rest = ds.count % batch;
    this.full = { x: this.x, labels: this.labels, size: batch, index: 0 };
    this.tail = { x: this.x.subarray(0, rest * ds.features), labels: this.labels.subarray(0, rest), size: rest, index: 0 };
    this.result = { done: true, value: this.full };
  }

  /**
   * Start epoch e: compute its order and return the batches (this Batcher, reset).
   * @example
   * for (const b of batcher.epoch(3)) console.log(b.index, b.size);
   */
  epoch(e: number): IterableIterator<Batch> {
    this.permutation(e);
    this.cursor = 0;
    return this;
  }

  /**
   * The sample order of epoch e (identity when shuffle is false). Returns the Batcher's own
   * buffer, overwritten by the next call.
   * @example
   * batcher.permutation(0); // Int32Array [ 4821, 17, … ]
   */
  permutation(e: number): Int32Array {
    if (!Number.isInteger(e) || e < 0 || e >= 2 ** 32) {
      throw new InputError(`Batcher(${this.ds.name}): expected epoch to be an integer in [0, 2³²), got ${e}`);
    }
    for (let i = 0; i < this.order.length; i++) this.order[i] = i;
    if (this.shuffle) shuffleInPlace(this.order, this.seed, SHUFFLE_STREAM, e, this.block);
    return this.order;
  }

  /** Fill the buffers with the next batch of the current epoch. Reuses the result object. */
  next(): IteratorResult<Batch> {
    const r = this.result;
    if (this.cursor >= this.batchesPerEpoch) {
      r.done = true;
      return r as IteratorResult<Batch>;
    }
    const start = this.cursor * this.batch;
    const size = Math.min(this.batch, this.ds.count - start);
    const batch = size === this.batch ? this.full : this.tail;
    const { images, labels, features } = this.ds;
    const x = this.x;
    for (let k = 0; k < size; k++) {
      const i = this.order[start + k]!;
      this.labels[k] = labels[i]!;
      // An explicit loop: subarray()+set() would allocate a view per sample.
      for (let f = 0, src = i * features, dst = k * features; f < features; f++) x[dst + f] = images[src + f]!;
    }
    batch.index = this.cursor++;
    r.done = false;
    r.value = batch;
    return r as IteratorResult<Batch>;
  }

  [Symbol.iterator](): IterableIterator<Batch> {
    return this;
  }
}

/**
 * The dataset in order, in chunks of `size` samples, as zero-copy views of its arrays (one pair of
 * views per chunk; the last chunk may be smaller). For evaluation, where order does not matter.
 * @example
 * let correct = 0;
 * for (const { x, labels, size } of chunks(test, 1000)) correct += countCorrect(predict(x), labels, size);
 */
export function chunks(ds: Dataset, size: number): Generator<Batch & { start: number }> {
  checkDataset(ds, "chunks"); // checked at the call, not at the first next() of a generator
  if (!Number.isInteger(size) || size < 1) {
    throw new InputError(`chunks(${ds.name}): expected size to be a positive integer, got ${size}`);
  }
  return chunksOf(ds, size);
}

function* chunksOf(ds: Dataset, size: number): Generator<Batch & { start: number }> {
  for (let start = 0, index = 0; start < ds.count; start += size, index++) {
    const end = Math.min(ds.count, start + size);
    yield {
      x: ds.images.subarray(start * ds.features, end * ds.features),
      labels: ds.labels.subarray(start, end),
      size: end - start,
      index,
      start,
    };
  }
}

/**
 * A random subset of n samples chosen by seed, kept in dataset order (a new, copied Dataset).
 * Prefer it to take(): the npm digits are sorted by class, so their first 2,000 are only 0s and 1s.
 * @example
 * const small = subset(train, 2000, 0); // the lecture's regularization experiment
 */
export function subset(ds: Dataset, n: number, seed = 0): Dataset {
  checkCount(ds, n, "subset");
  checkSeed(seed, `subset(${ds.name})`);
  const order = new Int32Array(ds.count);
  for (let i = 0; i < ds.count; i++) order[i] = i;
  shuffleInPlace(order, seed, SUBSET_STREAM, 0, new Uint32Array(4));
  const chosen = order.subarray(0, n).sort();
  return gather(ds, chosen, `${ds.name}[${n} random, seed ${seed}]`);
}

/**
 * The first n samples (a new, copied Dataset).
 * @example
 * const quick = take(test, 500);
 */
export function take(ds: Dataset, n: number): Dataset {
  checkCount(ds, n, "take");
  const first = new Int32Array(n);
  for (let i = 0; i < n; i++) first[i] = i;
  return gather(ds, first, `${ds.name}[first ${n}]`);
}

/** Fisher–Yates under Philox key (seed, stream), counter c1 = epoch; see the header comment. */
function shuffleInPlace(order: Int32Array, seed: number, stream: number, epoch: number, block: Uint32Array): void {
  for (let i = order.length - 1, k = 0; i > 0; i--, k++) {
    if ((k & 1) === 0) philox(k >>> 1, epoch >>> 0, 0, 0, seed >>> 0, stream, block);
    const w = (k & 1) * 2;
    const u = (block[w]! * 2 ** 21 + (block[w + 1]! >>> 11)) / 2 ** 53; // 53-bit uniform in [0, 1)
    const j = Math.floor(u * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
}

function gather(ds: Dataset, indices: Int32Array, name: string): Dataset {
  const { features } = ds;
  const images = new Float32Array(indices.length * features);
  const labels = new Int32Array(indices.length);
  indices.forEach((i, k) => {
    images.set(ds.images.subarray(i * features, (i + 1) * features), k * features);
    labels[k] = ds.labels[i]!;
  });
  return makeDataset(name, images, labels, features, ds.classes);
}

function checkCount(ds: Dataset, n: number, what: string): void {
  checkDataset(ds, what);
  if (!Number.isInteger(n) || n < 1 || n > ds.count) {
    throw new InputError(`${what}(${ds.name}): expected n to be an integer in [1, ${ds.count}], got ${n}`);
  }
}

function checkSeed(seed: number, where: string): void {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new InputError(`${where}: expected seed to be an integer in [0, 2³²), got ${seed}`);
  }
}
