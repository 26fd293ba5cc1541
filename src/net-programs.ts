/**
 * The compiled programs of one Net: the train step and the gradients program made at compile
 * time, the input-gradient program and one eval program per batch size made on first use, each
 * bound to the net's parameter, state and optimizer arrays (read in place, never copied), and
 * run checked when the net was compiled with checkNumerics.
 */
import { UPDATABLE, type Graph } from "../compiler/ir/graph.js";
import { optimize, prepare } from "../compiler/pipeline.js";
import { mixesSamples } from "../compiler/ir/samples.js";
import type { Executor } from "../runtime/executor.js";
import type { ProgramInfo } from "../runtime/steps.js";
import type { AnyArray } from "../runtime/kernels/index.js";
import { CheckedProgram, lossNotFinite } from "./numerics.js";
import { backwardGraph, evalGraph, gradientGraph } from "./programs.js";
import type { NetParts } from "./net-parts.js";

/** Eval programs kept at once (one per batch size predict was called with; oldest dropped). */
const EVAL_PROGRAMS = 4;

export class NetPrograms {
  readonly train: Executor;
  readonly grad: Executor;
  /** The gradient program that also differentiates w.r.t. x, made on the first `{ input: true }` call. */
  private gradX: Executor | undefined;
  private readonly evals = new Map<number, Executor>();
  /** The checked runs of these executors (checkNumerics only). */
  private readonly checks = new WeakMap<Executor, CheckedProgram>();
  private mixing: boolean | undefined;

  constructor(private readonly parts: NetParts, private readonly arrays: () => Record<string, AnyArray>) {
    this.train = this.executor(parts.ir.train, "train");
    this.grad = this.executor(parts.ir.backward, "backward");
  }

  /** Drop the programs made on demand (dispose). */
  clear(): void {
    this.evals.clear();
  }

  /** Every program made so far, by label. */
  all(): ReadonlyMap<string, ProgramInfo> {
    const gradX = this.gradX ? [["backward+input", this.gradX] as const] : [];
    return new Map([["train", this.train], ["backward", this.grad], ...gradX, ...[...this.evals].map(([b, e]) => [`eval[${b}]`, e] as const)]);
  }

  inputGrad(): Executor {
    if (this.gradX === undefined) {
      const full = gradientGraph(this.parts.ir.forward, [...Object.keys(this.parts.params), "x"]);
      const g = backwardGraph(full, this.parts.trace.probes);
      this.gradX = this.executor(this.parts.arena ? optimize(g, "backward+input") : g, "backward+input");
    }
    return this.gradX;
  }

  eval(batch: number): Executor {
    let exec = this.evals.get(batch);
    if (!exec) {
      if (this.evals.size >= EVAL_PROGRAMS) this.evals.delete(this.evals.keys().next().value!);
      const g = evalGraph(this.parts.model, { ...this.parts.trace, batch });
      exec = this.executor(this.parts.arena ? optimize(g, `eval[${batch}]`) : g, `eval[${batch}]`);
      this.evals.set(batch, exec);
    }
    return exec;
  }

  /** Whether the eval program mixes samples (traced at `batch`; asked once): predict cannot split the input then. */
  mixesSamples(batch: number): boolean {
    return this.mixing ??= mixesSamples(evalGraph(this.parts.model, { ...this.parts.trace, batch }));
  }

  /**
   * Run a program, checked when compiled with checkNumerics (predict: its chunk of samples). A
   * train step stops after its loss when the loss is not finite, before anything is written
   * (see trainGuard): a NumericsError, and nothing changed.
   */
  run(exec: Executor, step: number, start = 0, count = 0): void {
    const checked = this.checks.get(exec);
    if (checked) checked.run(this.parts.model, step, start, count);
    else if (exec !== this.train || this.trainGuard === undefined) exec.run();
    else {
      exec.runUntil(this.trainGuard);
      const loss = exec.output("loss")[0]!;
      if (!Number.isFinite(loss)) throw lossNotFinite(loss, step, this.parts.loss.name ?? this.parts.loss.kind);
      exec.runFrom(this.trainGuard);
    }
  }

  /**
   * The train program's steps before this index write none of the net's arrays, and its loss is
   * made among them (compiler/passes/lossFirst.ts orders it so); undefined where it is not so.
   */
  private trainGuard: number | undefined;

  /** Lower a graph and bind its parameter, state and optimizer inputs to the net's arrays. */
  private executor(g: Graph, label: string): Executor {
    const exec = prepare(g, this.parts.arena, label).executor;
    const arrays = this.arrays();
    exec.bindAll(g.inputs.filter((i) => i.kind === "param" || i.kind === "state" || i.kind === "optim").map((i) => [i.name, arrays[i.name]!] as const));
    // The caller's arrays the program updates (in place, or copied back after its last step).
    const inputKeys = new Set(g.inputs.map((i) => `${i.kind}:${i.name}`));
    const written = g.outputs.filter((o) => UPDATABLE.has(o.kind) && inputKeys.has(`${o.kind}:${o.name}`)).map((o) => arrays[o.name] as Float32Array);
    if (this.parts.checkNumerics) {
      const program = label.startsWith("eval") ? "eval" : label.startsWith("backward") ? "backward" : label;
      this.checks.set(exec, new CheckedProgram(g, exec, program, written));
    }
    if (label === "train") this.trainGuard = guardStep(g, exec, written);
    return exec;
  }
}

/** The first step that writes one of `written` in place, when the loss is made before it (see trainGuard). */
function guardStep(g: Graph, exec: Executor, written: readonly Float32Array[]): number | undefined {
  const same = (a: ArrayBufferView, b: ArrayBufferView) => a.buffer === b.buffer && a.byteOffset === b.byteOffset;
  const first = g.nodes.findIndex((n) => n.outputs.some((v) => written.some((w) => same(exec.buffer(v), w))));
  const stop = first < 0 ? g.nodes.length : first;
  const loss = g.outputs.find((o) => o.name === "loss")?.value;
  const made = g.nodes.findIndex((n) => loss !== undefined && n.outputs.includes(loss));
  return made >= 0 && made < stop ? stop : undefined;
}
