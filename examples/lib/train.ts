/**
 * The training loop the experiments share: a fixed number of steps over a seeded stream of
 * batches, a checkpoint every `every` steps (mean loss since the last one, plus whatever
 * `evaluate` measures), a progress line, and an early stop when the loss turns non-finite
 * (a diverged run: every later step would be NaN too). The net is told the run's length, so a
 * schedule given without one (cosine({ from, to })) spans exactly these steps.
 */
import { Batcher } from "../../src/data/batches.js";
import type { Dataset } from "../../src/data/dataset.js";
import type { Net } from "../../src/index.js";
import { lossOfStep } from "../../src/numerics.js";
import { Progress } from "./progress.js";

/** Endless batches: epoch 0, 1, 2, … of a seeded Batcher (the buffers are reused, see Batcher). */
export function* batchStream(ds: Dataset, batch: number, seed: number): Generator<{ x: Float32Array; labels: Int32Array }> {
  const batcher = new Batcher(ds, { batch, seed });
  for (let epoch = 0; ; epoch++) yield* batcher.epoch(epoch);
}

/** One epoch of train steps with a progress line; returns the epoch's mean training loss. */
export function trainEpoch(net: Net, batcher: Batcher, epoch: number, progress: Progress): number {
  let sum = 0, n = 0;
  for (const { x, labels } of batcher.epoch(epoch)) {
    sum += net.trainStep(x, labels);
    n++;
    progress.update(net.step, `loss ${(sum / n).toFixed(4)}`);
  }
  return sum / n;
}

export interface Checkpoint {
  /** Steps taken when measured. */
  readonly step: number;
  /** Mean training loss over the steps since the previous checkpoint (NaN once diverged). */
  readonly loss: number;
  /** What `evaluate` returned at this point. */
  readonly metrics: Readonly<Record<string, number>>;
}

export interface TrainOptions {
  readonly net: Net;
  readonly train: Dataset;
  /** Must equal the batch the net was compiled for. */
  readonly batch: number;
  readonly steps: number;
  /** Shuffle seed of the batch stream. */
  readonly seed: number;
  /** Checkpoint every this many steps (and at step 0 and at the end). */
  readonly every: number;
  /** Measurements at each checkpoint, e.g. { trainError: evaluate(net, train).error }. */
  readonly evaluate?: (net: Net) => Record<string, number>;
  /** Called at every checkpoint; return true to stop early (e.g. a target error reached). */
  readonly onCheckpoint?: (c: Checkpoint, net: Net) => boolean | void;
  /** Progress-bar label on stderr; omit for silence. */
  readonly label?: string;
}

export interface TrainResult {
  readonly checkpoints: Checkpoint[];
  /** Loss of every step taken (before its update). */
  readonly losses: number[];
  /** True when the loss became NaN or ±∞ and training stopped there. */
  readonly diverged: boolean;
  /** When diverged: one line naming the step (net.step before it) and what to do next. */
  readonly message?: string;
  readonly seconds: number;
}

/**
 * Train `net` for `steps` steps with checkpoints.
 * @example
 * const r = trainLoop({ net, train, batch: 64, steps: 1000, seed: 0, every: 100,
 *                       evaluate: (n) => ({ trainError: evaluate(n, train).error }) });
 */
export function trainLoop(o: TrainOptions): TrainResult {
  const { net, steps, every } = o;
  net.setTotalSteps(net.step + steps); // schedules without their own length span this run
  const started = performance.now();
  const progress = o.label === undefined ? undefined : new Progress(steps, o.label);
  const checkpoints: Checkpoint[] = [];
  const losses: number[] = [];
  let sum = 0, n = 0, diverged = false, message: string | undefined;
  const checkpoint = (): boolean => {
    const c: Checkpoint = { step: losses.length, loss: n > 0 ? sum / n : NaN, metrics: o.evaluate?.(net) ?? {} };
    checkpoints.push(c);
    sum = 0;
    n = 0;
    return o.onCheckpoint?.(c, net) === true;
  };
  let stop = checkpoint();
  const stream = batchStream(o.train, o.batch, o.seed);
  while (!stop && losses.length < steps) {
    const { x, labels } = stream.next().value!;
    const step = net.step;
    const loss = lossOfStep(net, x, labels); // NaN or ±∞: the step was refused, and the run stops
    losses.push(loss);
    sum += loss;
    n++;
    if (!Number.isFinite(loss)) {
      diverged = true;
      message = divergedMessage(loss, step);
      checkpoint();
      break;
    }
    if (losses.length % every === 0 || losses.length === steps) stop = checkpoint();
    progress?.update(losses.length, `loss ${loss.toFixed(4)}`);
  }
  if (progress && losses.length < steps) process.stderr.write(`${o.label}: ${message ?? `stopped at step ${losses.length}`}\n`);
  return { checkpoints, losses, diverged, ...(message ? { message } : {}), seconds: (performance.now() - started) / 1000 };
}

/** The one line a diverged run ends with; `step` is net.step before the step that gave `loss`. */
export const divergedMessage = (loss: number, step: number): string =>
  `the loss is ${loss} at step ${step}; stopped (run again with --check-numerics to find the layer and op that made the first non-finite value)`;
