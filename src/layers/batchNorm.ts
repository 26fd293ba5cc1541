import { checkFeatures, checkPositive, checkRange } from "./check.js";
import type { BatchNormNode } from "./node.js";
import type { Sized } from "./sized.js";
import { knownOptions } from "../options.js";

export type BatchNorm<N extends number> = BatchNormNode & Sized<N, N>;

/**
 * Batch normalization of each feature over the batch. Training: batch mean and biased variance,
 * and the running statistics move by `momentum` toward the batch mean and the UNBIASED batch
 * variance (as PyTorch). Evaluation: the running statistics, so a prediction does not depend on
 * the rest of the batch. Parameters `weight`, `bias`; state `running_mean`, `running_var`,
 * `num_batches_tracked`.
 * @example seq(linear(784, 256), batchNorm(256), relu)
 */
export function batchNorm<N extends number>(n: N, opts: { eps?: number; momentum?: number } = {}): BatchNorm<N> {
  knownOptions("batchNorm", opts, ["eps", "momentum"]);
  return Object.freeze({
    kind: "batchNorm" as const,
    n: checkFeatures("batchNorm features", n),
    eps: checkPositive("batchNorm eps", opts.eps ?? 1e-5),
    momentum: checkRange("batchNorm momentum", opts.momentum ?? 0.1, 0, 1, false),
  }) as BatchNorm<N>;
}
