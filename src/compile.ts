/**
 * `compile()`: one model expression → the train, gradient and eval programs and the parameters
 * they share. Nothing is allocated before this call; parameters are drawn from the seeded
 * counter-based stream of each parameter, so the same seed gives the same network.
 */
import { Arena } from "../runtime/arena.js";
import { defaultThreads } from "../runtime/pool.js";
import { ModelError } from "../runtime/errors.js";
import { optimize } from "../compiler/pipeline.js";
import type { Graph } from "../compiler/ir/graph.js";
import { MAX_ELEMENTS } from "../compiler/ir/graph.js";
import { flowOut, type LayerNode } from "./layers/node.js";
import { softmaxCrossEntropy, type Loss } from "./loss.js";
import { Net } from "./net.js";
import type { Optimizer } from "./optim/optimizer.js";
import { sgd } from "./optim/sgd.js";
import { backwardGraph, evalGraph, forwardGraph, gradientGraph, trainGraph } from "./programs.js";
import { checkProbes, type ProbeOptions } from "./probes.js";
import { checkNumericsFromEnv } from "./numerics.js";
import { describeValue } from "./validate.js";
import { knownOptions } from "./options.js";

export interface CompileOptions {
  /** Input features per sample. */
  readonly inputs: number;
  /** Training batch size (the eval program takes any batch). */
  readonly batch: number;
  /** Seed of parameter initialization and dropout masks (default 0). */
  readonly seed?: number;
  /** Default softmaxCrossEntropy(). */
  readonly loss?: Loss;
  /** Default sgd({ lr: 0.01 }). */
  readonly optimizer?: Optimizer;
  /**
   * Run the optimizing compiler (passes, fused kernels, one memory arena) — the default. With
   * false, the graphs run as traced on the reference interpreter, the baseline the optimized
   * programs are tested against.
   */
  readonly optimize?: boolean;
  /**
   * The lecture's measurements as program outputs, read with `net.probes()` after a step:
   * per-layer activation norm, weight-gradient norm, weight variance.
   */
  readonly probes?: ProbeOptions;
  /**
   * Threads the optimized programs' large kernels may use (default: the machine's cores, at
   * most 8). Results are bit-identical whatever the count.
   */
  readonly threads?: number;
  /**
   * Check every value the train, gradient and eval programs make: the first NaN or ±∞ raises a
   * NumericsError naming the step, the op and the layer, and a failed train step changes nothing.
   * Default: KILN_CHECK_NUMERICS=1 in the environment, else off (off costs nothing).
   */
  readonly checkNumerics?: boolean;
}

/** Key of the initialization stream of parameter i: (seed, 0x80000000 + i), see runtime/rng.ts. */
const INIT_STREAM = 0x80000000;

function positiveInt(what: string, n: unknown, max: number): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > max) {
    throw new ModelError(`compile: ${what} must be an integer in [1, ${max}], got ${describeValue(n)}`);
  }
  return n;
}

const isLayer = (m: unknown): m is LayerNode =>
  (typeof m === "object" || typeof m === "function") && m !== null && typeof (m as { kind?: unknown }).kind === "string";

/**
 * Compile a model expression into a trainable network.
 * @example
 * const net = compile(seq(linear(784, 256), relu, linear(256, 10)), {
 *   inputs: 784, batch: 128, seed: 0, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: 0.01, momentum: 0.9 }),
 * });
 * const loss = net.trainStep(x, labels);
 */
export function compile(model: LayerNode, opts: CompileOptions): Net {
  if (!isLayer(model)) throw new ModelError(`compile: expected a model expression (seq(...), linear(...), …), got ${describeValue(model)}`);
  if (typeof opts !== "object" || opts === null) throw new ModelError(`compile: expected options { inputs, batch, … }, got ${describeValue(opts)}`);
  knownOptions("compile", opts, ["inputs", "batch", "seed", "loss", "optimizer", "optimize", "probes", "threads", "checkNumerics"]);
  const inputs = positiveInt("inputs", opts.inputs, 2 ** 24);
  const batch = positiveInt("batch", opts.batch, 2 ** 24);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ModelError(`compile: seed must be an integer in [0, 2³²), got ${describeValue(seed)}`);
  const widest = Math.max(inputs, ...widths(model));
  if (batch * widest > MAX_ELEMENTS) {
    throw new ModelError(`compile: batch ${batch} × ${widest} features is ${batch * widest} elements; the limit per tensor is ${MAX_ELEMENTS}`);
  }
  const loss = opts.loss ?? softmaxCrossEntropy();
  const optimizer = opts.optimizer ?? sgd({ lr: 0.01 });
  // An object of another shape failed later as a TypeError ("loss.labelType is not a function").
  const has = (o: unknown, fns: readonly string[]) => typeof o === "object" && o !== null && fns.every((f) => typeof (o as Record<string, unknown>)[f] === "function");
  if (!has(loss, ["labelType", "emit", "check"])) throw new ModelError(`compile: loss must be a loss (softmaxCrossEntropy(), mse(), binaryCrossEntropy(), l1(), huber(), lossFn(…)), got ${describeValue(loss)}`);
  if (!has(optimizer, ["emit"]) || !Array.isArray(optimizer.slots) || !Array.isArray(optimizer.scalars)) throw new ModelError(`compile: optimizer must be an optimizer (sgd(…), adam(…), adamw(…)), got ${describeValue(optimizer)}`);
  const probes = checkProbes(opts.probes);
  const trace = { inputs, batch, seed, probes };

  const { graph: forward, ctx } = forwardGraph(model, loss, trace);
  const names = ctx.params.map((p) => p.name);
  const full = gradientGraph(forward, names);
  const useOpt = opts.optimize ?? true;
  if (typeof useOpt !== "boolean") throw new ModelError(`compile: optimize must be true or false, got ${describeValue(useOpt)}`);
  const stage = (g: Graph, label: string) => (useOpt ? optimize(g, label) : g);
  const ir = {
    forward,
    backward: stage(backwardGraph(full, probes), "backward"),
    train: stage(trainGraph(full, names, optimizer, probes), "train"),
    eval: stage(evalGraph(model, trace), "eval"),
  };

  // Parameters, state and optimizer buffers: persistent arrays (views of the arena when optimized).
  const threads = positiveInt("threads", opts.threads ?? defaultThreads(), 64);
  const arena = useOpt ? new Arena(threads) : null;
  const array = (n: number) => (arena ? arena.f32(arena.allocPersistent(n * 4), n) : new Float32Array(n));
  const sizeOf = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);
  const params: Record<string, Float32Array> = {};
  ctx.params.forEach((p, i) => {
    const a = array(sizeOf(p.shape));
    p.init.sample(a, p.fanIn, p.fanOut, seed, INIT_STREAM + i);
    params[p.name] = a;
  });
  const state: Record<string, Float32Array> = {};
  for (const s of ctx.state) state[s.name] = array(sizeOf(s.shape)).fill(s.initial);
  const optimizerState: Record<string, Float32Array> = {};
  for (const i of ir.train.inputs) if (i.kind === "optim") optimizerState[i.name] = array(sizeOf(ir.train.values[i.value]!.shape));
  const logits = forward.outputs.find((o) => o.name === "logits")!;
  const outputs = forward.values[logits.value]!.shape[1]!;
  const checkNumerics = opts.checkNumerics ?? checkNumericsFromEnv();
  if (typeof checkNumerics !== "boolean") throw new ModelError(`compile: checkNumerics must be true or false, got ${describeValue(checkNumerics)}`);
  return new Net({ model, trace, outputs, loss, optimizer, ir, params, state, optimizerState, arena, batchNorms: ctx.batchNorms, checkNumerics });
}

/** Every feature size in the model, to bound activation tensors before tracing. */
function widths(node: LayerNode): number[] {
  switch (node.kind) {
    case "layerNorm": case "batchNorm": return [node.n];
    case "linear": case "layer": return [node.in, node.out];
    case "residual": return widths(node.fn);
    case "seq": return node.layers.flatMap(widths);
    case "concat": return [...node.branches.flatMap(widths), flowOut(node, null) ?? 0];
    default: return [];
  }
}
