/**
 * Programs from hand-built graphs: for users who write IR directly (a custom loss, a single
 * op, a benchmark) rather than a model expression. The same pipeline as `compile()` — passes,
 * memory plan, WebAssembly kernels, threads — with every input a live view to write into.
 */
import { GraphBuilder } from "../compiler/ir/builder.js";
import { checkGraph, type Graph } from "../compiler/ir/graph.js";
import { size } from "../compiler/ir/types.js";
import { optimize, prepare } from "../compiler/pipeline.js";
import { Arena } from "../runtime/arena.js";
import { InputError, KilnError } from "../runtime/errors.js";
import { defaultThreads } from "../runtime/pool.js";
import type { Executor } from "../runtime/executor.js";
import { CheckedProgram, checkNumericsFromEnv } from "./numerics.js";
import { describeValue } from "./validate.js";

export { GraphBuilder };

export interface CompiledGraph {
  /** The graph that runs (after the passes, unless optimize: false). */
  readonly graph: Graph;
  /** A named input's buffer: write into it before `run` (it keeps its contents between runs). */
  input(name: string): Float32Array | Int32Array;
  /** A named output's buffer after `run` (a live view: overwritten by the next run). */
  output(name: string): Float32Array | Int32Array;
  run(): void;
  /** Release the arena's hold on the worker threads now; later calls are a KilnError. */
  dispose(): void;
}

/**
 * Compile a graph built with `GraphBuilder`.
 * @example
 * const b = new GraphBuilder();
 * const x = b.input("a", "data", { shape: [64, 32], dtype: "f32" }), w = b.input("b", "data", { shape: [32, 16], dtype: "f32" });
 * b.output("y", "logits", b.matmul(x, w));
 * const p = compileGraph(b.build()); p.input("a").set(A); p.input("b").set(B); p.run(); p.output("y");
 */
export function compileGraph(g: Graph, opts: { optimize?: boolean; threads?: number; checkNumerics?: boolean } = {}): CompiledGraph {
  checkGraph(g);
  if (typeof opts !== "object" || opts === null) throw new InputError(`compileGraph: expected options { optimize?, threads?, checkNumerics? }, got ${describeValue(opts)}`);
  for (const k of ["optimize", "checkNumerics"] as const) {
    if (opts[k] !== undefined && typeof opts[k] !== "boolean") throw new InputError(`compileGraph: ${k} must be true or false, got ${describeValue(opts[k])}`);
  }
  const threads = opts.threads ?? defaultThreads();
  if (typeof threads !== "number" || !Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new InputError(`compileGraph: threads must be an integer in [1, 64], got ${describeValue(threads)}`);
  }
  const useOpt = opts.optimize ?? true;
  const graph = useOpt ? optimize(g, "graph") : g;
  const arena = useOpt ? new Arena(threads) : null;
  // Parameters, state and optimizer buffers live outside the scratch plan: give them arena arrays.
  const bound = new Map<string, Float32Array | Int32Array>();
  for (const i of graph.inputs) {
    if (i.kind !== "param" && i.kind !== "state" && i.kind !== "optim") continue;
    const n = size(graph.values[i.value]!.shape);
    bound.set(i.name, arena ? arena.f32(arena.allocPersistent(4 * n), n) : new Float32Array(n));
  }
  const exec: Executor = prepare(graph, arena, "graph").executor;
  exec.bindAll(bound);
  // checkNumerics (default KILN_CHECK_NUMERICS=1): `run` throws a NumericsError at the first NaN or ±∞ an op makes.
  const checked = opts.checkNumerics ?? checkNumericsFromEnv() ? new CheckedProgram(graph, exec, "graph", []) : null;
  const names = (kind: "inputs" | "outputs") => graph[kind].map((v) => v.name).join(", ");
  let disposed = false;
  const live = () => { if (disposed) throw new KilnError("compiled graph: used after dispose()"); };
  const compiled: CompiledGraph = {
    graph,
    input: (name) => {
      live();
      if (!exec.hasInput(name)) throw new InputError(`no input named ${JSON.stringify(name)}; the graph's inputs are ${names("inputs")}`);
      return exec.input(name) as Float32Array | Int32Array;
    },
    output: (name) => {
      live();
      if (!graph.outputs.some((o) => o.name === name)) throw new InputError(`no output named ${JSON.stringify(name)}; the graph's outputs are ${names("outputs")}`);
      return exec.output(name) as Float32Array | Int32Array;
    },
    run: () => { live(); if (checked) checked.run(null, 0, 0, 0); else exec.run(); },
    dispose: () => {
      if (disposed) return;
      disposed = true;
      arena?.unregister();
      arena?.release();
    },
  };
  arena?.releaseWith(compiled);
  return compiled;
}
