/**
 * kiln's public surface: model combinators, initializers, losses, optimizers, `compile`, and
 * the IR tools to look at what was compiled.
 */
import * as init from "./init.js";

export { init };
export type { Initializer, Distribution, FanMode } from "./init.js";
export { linear, type Linear, type LinearOptions } from "./layers/linear.js";
export { relu, type Relu } from "./layers/relu.js";
export { dropout, type Dropout } from "./layers/dropout.js";
export { layerNorm, type LayerNorm } from "./layers/layerNorm.js";
export { batchNorm, type BatchNorm } from "./layers/batchNorm.js";
export { residual } from "./layers/residual.js";
export { seq } from "./layers/seq.js";
export { describe, features, type LayerNode } from "./layers/node.js";
export { softmaxCrossEntropy, mse, type Loss } from "./loss.js";
export { sgd, type SgdOptions } from "./optim/sgd.js";
export { adam, adamw, type AdamOptions } from "./optim/adam.js";
export { constant, cosine, stepDecay, warmup, type Schedule } from "./optim/schedules.js";
export { accuracy, argmax } from "./metrics.js";
export type { Optimizer, LearningRate } from "./optim/optimizer.js";
export { compile, type CompileOptions } from "./compile.js";
export { Net, type IR } from "./net.js";
export { printIR } from "../compiler/ir/print.js";
export { summarize, formatSummary, type ProgramSummary } from "../compiler/summary.js";
export { encodeGraph, decodeGraph, type Graph } from "../compiler/ir/graph.js";
export { KilnError, ModelError, InputError, DecodeError, GraphError } from "../runtime/errors.js";
