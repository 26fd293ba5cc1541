/**
 * The kernel table. `KernelName` is the set of keys, so an op that lowers to a kernel that does
 * not exist is a type error in compiler/, and a kernel named here but missing is one here.
 */
import * as ew from "./elementwise.js";
import { concat, maxMask, pad, reduceMax, slice, tril } from "./layout.js";
import { linear, matmul } from "./matmul.js";
import { normBackward, normForward } from "./norm.js";
import { dropoutMask, oneHot } from "./random.js";
import { logSoftmax, normalize, reduceSum } from "./reduce.js";
import type { Kernel } from "./types.js";
import { softmaxXent } from "./xent.js";

export const kernels = {
  slice, pad, concat, reduceMax, maxMask, tril,
  broadcast: ew.broadcast, transpose: ew.transpose, copy: ew.copy, fill: ew.fill,
  reduceSum, normalize, logSoftmax, matmul, dropoutMask, oneHot,
  linear,
  normForward, normBackward, softmaxXent,
} satisfies Record<string, Kernel>;

export type KernelName = keyof typeof kernels;
export type { Kernel, AnyArray, FloatArray } from "./types.js";
