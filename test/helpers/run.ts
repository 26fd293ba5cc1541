/** Test helpers: run a graph directly (float64 or float32) and compare arrays. */
import type { Graph } from "../../compiler/ir/graph.js";
import { lower } from "../../compiler/lower.js";
import { size } from "../../compiler/ir/types.js";
import { prepare } from "../../compiler/pipeline.js";
import { Arena } from "../../runtime/arena.js";
import { Executor, type Precision } from "../../runtime/executor.js";
import type { AnyArray } from "../../runtime/kernels/index.js";
import { rng as rand } from "../../bench/workloads.js";
import type { Net } from "../../src/index.js";

/** Run `g` once with the given inputs (copied in); returns copies of every output. */
export function runGraph(g: Graph, inputs: Record<string, ArrayLike<number>>, precision: Precision = "f64"): Record<string, Float64Array> {
  const exec = new Executor(lower(g), precision);
  for (const i of g.inputs) {
    const v = inputs[i.name];
    if (v === undefined) throw new Error(`runGraph: missing input ${i.name}`);
    (exec.input(i.name) as AnyArray & { set(a: ArrayLike<number>): void }).set(v);
  }
  exec.run();
  return Object.fromEntries(g.outputs.map((o) => [o.name, Float64Array.from(exec.output(o.name) as ArrayLike<number>)]));
}

/**
 * Run an optimized graph in an arena, as compileGraph does (parameters, state and optimizer
 * buffers bound to arena arrays, one thread); copies of its outputs.
 */
export function runInArena(g: Graph, values: Record<string, ArrayLike<number>>): Record<string, Float32Array> {
  const arena = new Arena(1);
  const bound = new Map<string, Float32Array>();
  for (const i of g.inputs) {
    if (i.kind !== "param" && i.kind !== "state" && i.kind !== "optim") continue;
    const n = size(g.values[i.value]!.shape);
    bound.set(i.name, arena.f32(arena.allocPersistent(4 * n), n));
  }
  const { executor } = prepare(g, arena, "test");
  executor.bindAll(bound);
  for (const i of g.inputs) (executor.input(i.name) as Float32Array).set(values[i.name]!);
  executor.run();
  const out = Object.fromEntries(g.outputs.map((o) => [o.name, Float32Array.from(executor.output(o.name) as Float32Array)]));
  arena.release();
  return out;
}

/** Deterministic pseudo-random numbers for tests: the bench's seeded generator (mulberry32). */
export { rng as rand } from "../../bench/workloads.js";

/** The same generator, uniform on [-1, 1) (2·rand − 1, exact in doubles). */
export function signedRand(seed: number): () => number {
  const r = rand(seed);
  return () => 2 * r() - 1;
}

export function randomArray(n: number, r: () => number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/**
 * max |a − b| / max(|b|, floor) over all elements; identical values (also ±Infinity, NaN where
 * both diverged the same way) agree.
 */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  if (a.length !== b.length) return Infinity;
  let scale = floor;
  for (let i = 0; i < b.length; i++) if (Number.isFinite(b[i]!)) scale = Math.max(scale, Math.abs(b[i]!));
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i] || (Number.isNaN(a[i]!) && Number.isNaN(b[i]!))) continue;
    const d = Math.abs(a[i]! - b[i]!) / scale;
    worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
  }
  return worst;
}

/** Every step of every program the net has made that runs JavaScript, as "program: #i kernel". */
export function javascriptSteps(net: Pick<Net, "programs">): string[] {
  return [...net.programs()].flatMap(([name, e]) => e.steps.flatMap((s, i) => (s.wasm ? [] : [`${name}: #${i} ${s.kernel}`])));
}
