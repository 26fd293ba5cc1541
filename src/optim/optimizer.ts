/**
 * An optimizer is part of the train graph: for each parameter it emits the update of the
 * parameter and of its slots (momentum buffers, moments) from the gradient and the runtime
 * learning-rate scalar. Hyper-parameters other than the learning rate are compile-time numbers.
 */
import type { GraphBuilder } from "../../compiler/ir/builder.js";
import type { V } from "../../compiler/ir/types.js";
import type { Clip } from "./clip.js";

/**
 * The learning rate: a constant, or a function of the step (0-based) evaluated before each step;
 * `total` is the run's length in steps when known (net.setTotalSteps: trainLoop and kiln train
 * set it), which a schedule given without its own length spans.
 */
export type LearningRate = number | ((step: number, total?: number) => number);

export interface ParamUpdate {
  readonly param: V;
  /** New values of the slots, in the order of `Optimizer.slots`. */
  readonly slots: readonly V[];
}

/** A runtime scalar besides lr that the host computes before each step (Adam's bias corrections). */
export interface StepScalar {
  readonly name: string;
  /** Its value at a 1-based step count t. */
  readonly value: (t: number) => number;
}

export interface Optimizer {
  readonly kind: string;
  readonly lr: LearningRate;
  /** Per-parameter buffers, named `<param>.<slot>` as in PyTorch's optimizer state ("momentum_buffer"). */
  readonly slots: readonly string[];
  /** Scalars fed to the train program each step, in the order `emit` receives them. */
  readonly scalars: readonly StepScalar[];
  /** Gradient clipping applied to the loss gradient before `emit` (see clip.ts); absent: none. */
  readonly clip?: Clip;
  /** Emit the update of one parameter `w` given its gradient, the lr scalar, its slots and the step scalars. */
  readonly emit: (b: GraphBuilder, w: V, g: V, lr: V, slots: readonly V[], scalars: readonly V[]) => ParamUpdate;
}
