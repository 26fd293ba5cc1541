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
import { CheckedProgram } from "./numerics.js";
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

  /** Run a program, checked when compiled with checkNumerics (predict: its chunk of samples). */
  run(exec: Executor, step: number, start = 0, count = 0): void {
    const checked = this.checks.get(exec);
    if (checked) checked.run(this.parts.model, step, start, count);
    else exec.run();
  }

  /** Lower a graph and bind its parameter, state and optimizer inputs to the net's arrays. */
  private executor(g: Graph, label: string): Executor {
    const exec = prepare(g, this.parts.arena, label).executor;
    const arrays = this.arrays();
    exec.bindAll(g.inputs.filter((i) => i.kind === "param" || i.kind === "state" || i.kind === "optim").map((i) => [i.name, arrays[i.name]!] as const));
    if (this.parts.checkNumerics) {
      const inputKeys = new Set(g.inputs.map((i) => `${i.kind}:${i.name}`));
      const written = g.outputs.filter((o) => UPDATABLE.has(o.kind) && inputKeys.has(`${o.kind}:${o.name}`));
      const program = label.startsWith("eval") ? "eval" : label.startsWith("backward") ? "backward" : label;
      this.checks.set(exec, new CheckedProgram(g, exec, program, written.map((o) => arrays[o.name] as Float32Array)));
    }
    return exec;
  }
}
