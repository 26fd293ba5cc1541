/**
 * Tracing: a model expression becomes forward IR. Each layer kind has one tracer below, and the
 * mode is explicit — train and eval are two traces of the same expression, never a flag flipped
 * at run time:
 *   dropout    train: x · mask(seed, step, stream)     eval: absent
 *   batchNorm  train: batch statistics, running-stat updates as outputs    eval: running statistics
 * Parameters are declared as graph inputs named like PyTorch's state dict ("3.weight").
 */
import type { GraphBuilder } from "../compiler/ir/builder.js";
import type { V } from "../compiler/ir/types.js";
import { ModelError } from "../runtime/errors.js";
import { ones, zeros, type Initializer } from "./init.js";
import { describe, type LayerKind, type LayerNode } from "./layers/node.js";
import { callUser, checkShape, returnedTensor, type ScopeRange } from "./dsl/call.js";
import { fans } from "./layers/layer.js";
import type { Phase, Scope, Tracing } from "./dsl/scope.js";
import { isTensor, type T } from "./dsl/tensor.js";
import { MAX_ELEMENTS } from "../compiler/ir/graph.js";

export type Mode = "train" | "eval";

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Initializer;
  readonly fanIn: number;
  readonly fanOut: number;
}

export interface StateSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly initial: number;
}

/** What tracing needs and records: the builder, the mode, and the parameters it declares. */
export class TraceContext implements Tracing {
  readonly params: ParamSpec[] = [];
  readonly state: StateSpec[] = [];
  /** Output of every layer but the root, by path ("0", "4.fn.1"), for the probes. */
  readonly activations: [string, V][] = [];
  /** Node ranges emitted by user code (fn, layer), named for printIR. */
  readonly scopes: ScopeRange[] = [];
  /** Paths of the batchNorm layers, for their host-side `num_batches_tracked` counters. */
  readonly batchNorms: string[] = [];
  private dropouts = 0;
  private stepValue: V | undefined;

  constructor(readonly b: GraphBuilder, readonly mode: Mode, readonly seed: number, readonly batch: number) {}

  param(name: string, shape: readonly number[], init: Initializer, fanIn: number, fanOut: number): V {
    this.params.push({ name, shape, init, fanIn, fanOut });
    return this.b.input(name, "param", { shape, dtype: "f32" });
  }

  stateInput(name: string, shape: readonly number[], initial: number): V {
    this.state.push({ name, shape, initial });
    return this.b.input(name, "state", { shape, dtype: "f32" });
  }

  /** The int32 training-step scalar, declared on first use (only dropout needs it). */
  step(): V {
    this.stepValue ??= this.b.input("step", "scalar", { shape: [], dtype: "i32" });
    return this.stepValue;
  }

  get training(): boolean {
    return this.mode === "train";
  }

  /**
   * Dropout (a layer, or T.dropout in a body): x·mask in training. Every call takes the next
   * stream number in both modes, in trace order, and the number keys the call's random stream.
   */
  dropout(x: V, p: number): V {
    const stream = this.dropouts++;
    if (this.mode === "eval" || p === 0) return x;
    return this.b.mul(x, this.b.dropoutMask(this.step(), this.b.type(x).shape, p, this.seed, stream));
  }
}

/**
 * Batch normalization in training over every axis but 1 ([batch, channels, …], as PyTorch's
 * BatchNorm1d): x̂ from the batch's mean and biased variance, and the running statistics'
 * next values (1 − m)·running + m·batch, with the UNBIASED variance (count/(count − 1)).
 */
export function batchNormTrain(b: GraphBuilder, x: V, running: readonly [V, V], eps: number, momentum: number, where: string): { xhat: V; mean: V; variance: V } {
  const shape = b.type(x).shape, channels = shape[1]!;
  const count = shape[0]! * shape.slice(2).reduce((p, q) => p * q, 1);
  // A variance needs 2 values per channel (count/(count − 1) below).
  if (count < 2) throw new ModelError(`${where} needs a training batch of at least 2, got ${shape[0]}`);
  const axes = shape.map((_d, i) => i).filter((i) => i !== 1);
  // Rank 2 keeps the statistics [channels]; above, [1, channels, 1, …] broadcasts against x.
  const keep = shape.length > 2;
  const flat = (v: V) => (keep ? b.reshape(v, [channels]) : v);
  const mean = b.mean(x, axes, keep);
  const centered = b.sub(x, mean);
  const biased = b.mean(b.mul(centered, centered), axes, keep);
  const unbiased = b.mul(flat(biased), b.scalar(count / (count - 1)));
  const blend = (old: V, now: V) => b.add(b.mul(old, b.scalar(1 - momentum)), b.mul(now, b.scalar(momentum)));
  const next = { mean: blend(running[0], flat(mean)), variance: blend(running[1], unbiased) };
  // Rank 2: the fused normalization kernel (the statistics above fold into its pass).
  const xhat = keep ? b.mul(centered, b.rsqrt(b.add(biased, b.scalar(eps)))) : b.normalize(x, 0, eps);
  return { xhat, ...next };
}

type Tracer<K extends LayerKind> = (node: Extract<LayerNode, { kind: K }>, x: V, path: string, ctx: TraceContext) => V;

const tracers: { readonly [K in LayerKind]: Tracer<K> } = {
  linear: (n, x, path, ctx) => {
    const w = ctx.param(`${path}weight`, [n.out, n.in], n.init, n.in, n.out);
    const y = ctx.b.matmul(x, w, false, true); // x·Wᵀ with W stored [out, in]
    return n.bias ? ctx.b.add(y, ctx.param(`${path}bias`, [n.out], n.biasInit, n.in, n.out)) : y;
  },
  relu: (_n, x, _path, { b }) => b.relu(x),
  dropout: (n, x, _path, ctx) => ctx.dropout(x, n.p),
  layerNorm: (n, x, path, ctx) => {
    const gb = n.affine ? affineParams(n.n, path, ctx) : null;
    const y = ctx.b.normalize(x, 1, n.eps);
    return gb ? affine(y, gb, ctx) : y;
  },
  batchNorm: (n, x, path, ctx) => {
    const { b } = ctx;
    const gb = affineParams(n.n, path, ctx); // declared first: PyTorch's state-dict order
    const rm = ctx.stateInput(`${path}running_mean`, [n.n], 0);
    const rv = ctx.stateInput(`${path}running_var`, [n.n], 1);
    ctx.batchNorms.push(path);
    if (ctx.mode === "eval") {
      const y = b.mul(b.sub(x, rm), b.rsqrt(b.add(rv, b.scalar(n.eps))));
      return affine(y, gb, ctx);
    }
    const { xhat, mean, variance } = batchNormTrain(b, x, [rm, rv], n.eps, n.momentum, `${path || "model "}batchNorm(${n.n})`);
    b.output(`${path}running_mean`, "state", mean);
    b.output(`${path}running_var`, "state", variance);
    return affine(xhat, gb, ctx);
  },
  residual: (n, x, path, ctx) => {
    const y = traceLayer(n.fn, x, `${path}fn.`, ctx);
    checkShape(ctx.b, `${pathLabel(path)}residual`, y, ctx.b.type(x).shape, "the output of its function (x + f(x))");
    return ctx.b.add(x, y);
  },
  fn: (n, x, path, ctx) => {
    const where = userLabel(n, path);
    return callUser(ctx.b, where, ctx.scopes, (wrap) => n.f(wrap(x), phaseOf(ctx)), (r, scope) =>
      checkShape(ctx.b, where, returnedTensor(r, scope), ctx.b.type(x).shape, "an fn's result (it keeps its input's shape)"), ctx);
  },
  layer: (n, x, path, ctx) => {
    const where = userLabel(n, path);
    const declare = (decls: typeof n.params, make: (name: string, shape: readonly number[], d: (typeof n.params)[string]) => V) =>
      Object.fromEntries(Object.entries(decls).map(([k, d]) => [k, make(`${path}${k}`, d.shape, d)]));
    const params = declare(n.params, (name, shape, d) => ctx.param(name, shape, d.init, ...fans(shape)));
    const state = declare(n.state, (name, shape, d) => ctx.stateInput(name, shape, d.init.params!.value!));
    const batch = ctx.b.type(x).shape[0]!;
    return callUser(ctx.b, where, ctx.scopes, (wrap) => {
      const wrapAll = (vs: Record<string, V>) => Object.freeze(Object.fromEntries(Object.entries(vs).map(([k, v]) => [k, wrap(v)]))) as Record<string, T>;
      return n.apply(wrapAll(params), wrap(x), wrapAll(state), phaseOf(ctx));
    }, (r, scope) => {
      const isPair = r !== null && typeof r === "object" && !isTensor(r) && "out" in r;
      const out = returnedTensor(isPair ? (r as { out: unknown }).out : r, scope, "a tensor expression (or { out, state })");
      checkShape(ctx.b, where, out, [batch, n.out], "apply's result");
      if (isPair) updateState(n, (r as { state?: unknown }).state, state, path, where, scope, ctx);
      return out;
    }, ctx);
  },
  concat: (n, x, path, ctx) => {
    const ys = n.branches.map((branch, i) => traceLayer(branch, x, `${path}${i}.`, ctx));
    if (ys.length === 1) return ys[0]!;
    const [batch] = ctx.b.type(x).shape as [number];
    const width = ys.reduce((w, y) => w + ctx.b.type(y).shape[1]!, 0);
    if (batch * width > MAX_ELEMENTS) throw new ModelError(`${pathLabel(path)}${describe(n)}: batch ${batch} × ${width} features is more than ${MAX_ELEMENTS} elements`);
    return ctx.b.concat(ys, 1);
  },
  seq: (n, x, path, ctx) => n.layers.reduce((h, layer, i) => traceLayer(layer, h, `${path}${i}.`, ctx), x),
};

/** The phase a body is given: a fresh frozen object, so a body keeping or editing it changes no trace. */
const phaseOf = (ctx: TraceContext): Phase => Object.freeze({ training: ctx.training });

/** γ and β of a normalization layer (`weight`, `bias`), initialized to 1 and 0. */
function affineParams(n: number, path: string, ctx: TraceContext): readonly [V, V] {
  return [ctx.param(`${path}weight`, [n], ones(), n, n), ctx.param(`${path}bias`, [n], zeros(), n, n)];
}

/** γ·x̂ + β, the learnable affine after a normalization. */
const affine = (y: V, [gamma, beta]: readonly [V, V], ctx: TraceContext): V => ctx.b.add(ctx.b.mul(y, gamma), beta);

/** `fn "swish" at 2.1.1`: how errors and the IR name user code (the name is quoted data). */
const userLabel = (n: { kind: string; name: string }, path: string): string =>
  `${n.kind} ${JSON.stringify(n.name)} at ${path === "" ? "the root" : path.slice(0, -1)}`;

/** New values of a user layer's state buffers, kept as state outputs in training (like batchNorm's running statistics). */
function updateState(n: Extract<LayerNode, { kind: "layer" }>, given: unknown, state: Record<string, V>, path: string, where: string,
  scope: Scope, ctx: TraceContext): void {
  if (given === undefined) return;
  if (typeof given !== "object" || given === null) scope.fail(`apply's state must be an object { name: tensor }, got ${String(given)}`);
  for (const [k, t] of Object.entries(given)) {
    if (!Object.hasOwn(state, k)) scope.fail(`apply returned state ${JSON.stringify(k)}, which the layer does not declare (declared: ${Object.keys(state).join(", ") || "none"})`);
    const v = checkShape(ctx.b, where, returnedTensor(t, scope, `a tensor expression for state ${JSON.stringify(k)}`), n.state[k]!.shape, `state ${JSON.stringify(k)}`);
    if (ctx.mode === "train") ctx.b.output(`${path}${k}`, "state", v);
  }
}

/** Trace one layer on input x; `path` is its parameter-name prefix ("4.fn.0."). */
export function traceLayer(node: LayerNode, x: V, path: string, ctx: TraceContext): V {
  const width = ctx.b.type(x).shape[1]!;
  // Leaves check their own input; a seq or concat leaves it to its children (errors name the child).
  const expects = node.kind === "linear" || node.kind === "layer" ? node.in : node.kind === "layerNorm" || node.kind === "batchNorm" ? node.n : width;
  if (expects !== width) {
    throw new ModelError(`${pathLabel(path)}${describe(node)} expects ${expects} features, but its input has ${width}`);
  }
  // Every node the layer emits records its path (Node.at), for checkNumerics' messages.
  const y = ctx.b.withOrigin([`forward@${path.slice(0, -1)}`], () => (tracers[node.kind] as Tracer<LayerKind>)(node as never, x, path, ctx));
  if (path !== "") ctx.activations.push([path.slice(0, -1), y]);
  return y;
}

/** "4.fn.0." → "seq[4].fn[0] " for messages ("fn.0." → "residual.fn[0] "); the root is unnamed. */
export function pathLabel(path: string): string {
  if (path === "") return "";
  const parts = path.slice(0, -1).split(".");
  const root = /^\d+$/.test(parts[0]!) ? "seq" : "residual";
  return root + parts.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join("") + " ";
}
