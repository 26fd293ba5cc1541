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
export { fn, type Fn } from "./layers/fn.js";
export { layer, type UserLayer, type LayerOptions, type ParamOptions, type StateOptions } from "./layers/layer.js";
export { concat, type Concat } from "./layers/concat.js";
export { tanh, sigmoid, gelu, leakyRelu, silu, type Gelu, type LeakyRelu } from "./layers/activations.js";
export { T, type MatmulOptions, type ReduceOptions } from "./dsl/tensor.js";
export type { Phase } from "./dsl/scope.js";
export { cat, where } from "./dsl/functions.js";
export { describe, features, type LayerNode } from "./layers/node.js";
export { softmaxCrossEntropy, mse, binaryCrossEntropy, l1, huber, lossFn, type Loss } from "./loss.js";
export { sgd, type SgdOptions } from "./optim/sgd.js";
export { adam, adamw, type AdamOptions } from "./optim/adam.js";
export { constant, cosine, stepDecay, warmup, type Schedule } from "./optim/schedules.js";
export { accuracy, argmax, evaluate } from "./metrics.js";
export type { Optimizer, LearningRate } from "./optim/optimizer.js";
export { compile, type CompileOptions } from "./compile.js";
export { Net, type GradientsOut, type IR } from "./net.js";
export { printIR } from "../compiler/ir/print.js";
export { compileGraph, GraphBuilder, type CompiledGraph } from "./graph.js";
export { differentiate } from "../compiler/autodiff.js";
export { summarize, formatSummary, type ProgramSummary } from "../compiler/summary.js";
export { encodeGraph, decodeGraph, type Graph } from "../compiler/ir/graph.js";
export { toSpec, fromSpec, MAX_SPEC_DEPTH, type LayerSpec, type InitSpec } from "./spec.js";
export { encodeSafetensors, decodeSafetensors, type SafeTensor, type SafetensorsFile, type TensorArray } from "./io/safetensors.js";
export {
  saveCheckpoint, loadCheckpoint, saveOptimizerState, loadOptimizerState,
  checkpointBytes, loadCheckpointBytes, optimizerStateBytes, loadOptimizerStateBytes,
} from "./io/checkpoint.js";
export type { InitParams } from "./init.js";
export type { Seq, Residual } from "./layers/shapes.js";
export type { ProbeOptions, Probes } from "./probes.js";
export { fromOnnx, type Imported } from "./onnx/import.js";
export type { OnnxExportOptions } from "./onnx/export.js";
export { KilnError, ModelError, InputError, DecodeError, GraphError } from "../runtime/errors.js";
export { makeDataset, type Dataset, type DatasetSplit } from "./data/dataset.js";
export { Batcher, chunks, subset, take, type Batch, type BatchOptions } from "./data/batches.js";
export { lineChart, multiPanel, toCsv, panelsCsv, type LineChartSpec, type Series } from "./plot/index.js";
export { threadJobs } from "./threads.js";
export { NumericsError } from "./numerics.js";
