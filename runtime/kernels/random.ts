/**
 * Dropout mask from the counter-based stream (see ../rng.ts): element i keeps with probability
 * 1 − p and then holds fround(1/(1−p)); dropped elements hold 0. The step comes from a runtime
 * int32 scalar so the mask changes every training step without recompiling.
 * p = [seed, stream, p].
 */
import { philox, toUniform } from "../rng.js";
import type { FloatArray, Kernel } from "./types.js";

const block = new Uint32Array(4);

export const dropoutMask: Kernel = (bufs, p) => {
  const step = (bufs[0] as Int32Array)[0]!, y = bufs[1] as FloatArray;
  const seed = p[0]!, stream = p[1]!, prob = p[2]!;
  const keep = Math.fround(1 / (1 - prob));
  for (let i = 0; i < y.length; i += 4) {
    philox(i >>> 2, step >>> 0, 0, 0, seed >>> 0, stream >>> 0, block);
    const n = Math.min(4, y.length - i);
    for (let j = 0; j < n; j++) y[i + j] = toUniform(block[j]!) >= prob ? keep : 0;
  }
};

/** y[b, c] = 1 if labels[b] = c else 0. p = [classes]. Labels are validated before the run. */
export const oneHot: Kernel = (bufs, p) => {
  const labels = bufs[0] as Int32Array, y = bufs[1] as FloatArray;
  const classes = p[0]!;
  y.fill(0);
  for (let b = 0; b < labels.length; b++) {
    const c = labels[b]!;
    if (c >= 0 && c < classes) y[b * classes + c] = 1;
  }
};
