/**
 * A compiled model: parameters and state owned here, shared by the train, gradient and eval
 * programs (their executors read the arrays in place). Every call validates its input before
 * anything is written, so a rejected call changes nothing.
 */
import { summarize, type ProgramSummary } from "../compiler/summary.js";
import { InputError, KilnError, ModelError } from "../runtime/errors.js";
import { loadCheckpoint, loadOptimizerState, saveCheckpoint, saveOptimizerState } from "./io/checkpoint.js";
import type { Executor } from "../runtime/executor.js";
import type { ProgramInfo } from "../runtime/steps.js";
import type { AnyArray } from "../runtime/kernels/index.js";
import { NetPrograms } from "./net-programs.js";
import type { ProbeKind, Probes } from "./probes.js";
import { readOnlyRecord } from "./validate.js";
import { writeBatch } from "./batch-input.js";
import { predictSamples } from "./net-predict.js";
import { writeFileAtomic } from "./io/atomic.js";
import { toOnnx, type OnnxExportOptions } from "./onnx/export.js";
import { checkGradientsOut, ownMemory, type GradientsOut } from "./net-out.js";
import type { IR, NetParts } from "./net-parts.js";
import { isFloat32, knownOptions, numberText } from "./options.js";
export type { IR } from "./net-parts.js";
export type { GradientsOut } from "./net-out.js";

export class Net {
  readonly ir: IR;
  /** Parameters by PyTorch state-dict name, e.g. "0.weight" ([out, in], row-major). Writable in place. */
  readonly params: Readonly<Record<string, Float32Array>>;
  /** Running statistics ("1.running_mean", …) and BatchNorm's int64 `num_batches_tracked`. */
  readonly state: Readonly<Record<string, Float32Array | BigInt64Array>>;
  /** Optimizer buffers by "<param>.<slot>", e.g. "0.weight.momentum_buffer". */
  readonly optimizerState: Readonly<Record<string, Float32Array>>;
  private stepCount = 0;
  private runSteps: number | undefined;
  /** Probe values of the last trainStep/gradients call, copied out of the (shared) scratch arena. */
  private readonly probeNames: readonly string[];
  private readonly probeValues: Float64Array;
  private readonly programsMade: NetPrograms;
  /** num_batches_tracked as 32-bit words over the int64's bytes: counting allocates no BigInt. */
  private readonly counters: Uint32Array[];

  /** @internal Nets are made by compile(). */
  constructor(private readonly parts: NetParts) {
    this.ir = parts.ir;
    this.params = readOnlyRecord({ ...parts.params }, "net.params");
    const counters = parts.batchNorms.map((p) => [`${p}num_batches_tracked`, new BigInt64Array(1)] as const);
    this.counters = counters.map(([, c]) => new Uint32Array(c.buffer, c.byteOffset, 2));
    this.state = readOnlyRecord({ ...parts.state, ...Object.fromEntries(counters) }, "net.state");
    this.optimizerState = readOnlyRecord({ ...parts.optimizerState }, "net.optimizerState");
    this.probeNames = parts.ir.train.outputs.filter((o) => o.kind === "probe").map((o) => o.name);
    this.probeValues = new Float64Array(this.probeNames.length).fill(NaN);
    this.programsMade = new NetPrograms(parts, () => {
      const arrays: Record<string, AnyArray> = { ...this.params, ...this.optimizerState };
      for (const [k, v] of Object.entries(this.state)) if (v instanceof Float32Array) arrays[k] = v;
      return arrays;
    });
    parts.arena?.releaseWith(this);
  }

  private disposed = false;
  /** Whether an array is a view of the network's own memory (an `out` must not be). */
  private readonly isOwnMemory = ownMemory(() => [...Object.values(this.params), ...Object.values(this.state), ...Object.values(this.optimizerState)]);

  /**
   * Release the net's hold on shared resources now (its memory in the worker threads; the
   * workers themselves when no other net uses them) instead of when it is garbage-collected.
   * Parameters stay readable; any later train, gradient, predict, save or load call is a KilnError.
   * @example net.dispose()
   */
  dispose(): void {
    if (this.disposed) return;
    this.idle("dispose");
    this.disposed = true;
    this.programsMade.clear();
    this.parts.arena?.unregister();
    this.parts.arena?.release();
  }

  /** Refuse a call on a disposed net (its arena no longer runs kernels). */
  private live(what: string): void {
    if (this.disposed) throw new KilnError(`${what}: this net was disposed; compile the model again to use it`);
  }

  /**
   * The call running a program of this net, if any. A schedule, a getter or a Proxy the call reads
   * could call the net again before the program runs: every program shares the net's scratch
   * memory and the batch already written into it, so a nested run would silently change the
   * outer call's inputs and results. Such a call is refused instead.
   */
  private busy: string | undefined;

  /** Refuse `what` while another call on this net is running (see busy). */
  private idle(what: string): void {
    if (this.busy !== undefined) throw new KilnError(`${what}: called while this net's ${this.busy} is running (from a learning-rate schedule, or a getter or Proxy of the arrays it reads); call it after ${this.busy} returns`);
  }

  /** Start a call that runs a program: live and idle, then busy (the caller's finally clears it). */
  private begin(what: string): void {
    this.live(what);
    this.idle(what);
    this.busy = what;
  }

  /**
   * What each program costs: kernels by op, fused kernels, arena bytes and FLOPs per call.
   * @example console.log(net.summary().train.flops)
   */
  summary(): { train: ProgramSummary; backward: ProgramSummary; eval: ProgramSummary; parameters: number } {
    const parameters = Object.values(this.params).reduce((s, p) => s + p.length, 0);
    return { train: summarize(this.ir.train), backward: summarize(this.ir.backward), eval: summarize(this.ir.eval), parameters };
  }

  /**
   * The programs made so far — "train", "backward" (gradients), "backward+input" (gradients
   * with `input: true`, once used) and one "eval[batch]" per batch size predict was called with —
   * with how each step runs (`.steps`) and optional step timing.
   * @example net.programs().get("train")!.steps.filter((s) => !s.wasm)
   */
  programs(): ReadonlyMap<string, ProgramInfo> {
    return this.programsMade.all();
  }

  /** Number of train steps taken (the dropout stream's step counter). */
  get step(): number {
    return this.stepCount;
  }

  /**
   * Set the step counter (restoring a run: the schedule and the dropout masks follow it).
   * @example net.setStep(1260)
   */
  setStep(step: number): void {
    this.idle("setStep");
    if (!Number.isSafeInteger(step) || step < 0) throw new InputError(`setStep: expected a non-negative integer, got ${String(step)}`);
    this.stepCount = step;
  }

  /**
   * The run's length in steps (undefined: not told), which a schedule given without its own
   * length spans (`cosine({ from, to })`); trainLoop and `kiln train` set it.
   * @example net.setTotalSteps(10 * batchesPerEpoch)
   */
  setTotalSteps(total: number | undefined): void {
    if (total !== undefined && (!Number.isSafeInteger(total) || total < 1)) {
      throw new InputError(`setTotalSteps: expected a positive integer or undefined, got ${String(total)}`);
    }
    this.runSteps = total;
  }

  /** What setTotalSteps set. */
  get totalSteps(): number | undefined {
    return this.runSteps;
  }

  /**
   * Write parameters and state as a safetensors file PyTorch's `load_state_dict` accepts
   * (a temporary file renamed into place: a crash leaves the previous file intact).
   * @example await net.save("mnist.safetensors")
   */
  async save(path: string): Promise<void> {
    this.live("save");
    saveCheckpoint(this, path);
  }

  /**
   * Read parameters and state from a safetensors file (kiln's or PyTorch's state dict). A file
   * that does not fit is refused with every missing, unexpected and mis-shaped tensor listed,
   * and nothing is changed.
   * @example await net.load("mnist.safetensors")
   */
  async load(path: string): Promise<void> {
    this.live("load");
    loadCheckpoint(this, path);
  }

  /**
   * The eval program as an ONNX model (opset 17) with the current parameters, for ONNX Runtime:
   * input `x` [batch, inputs], output `logits`, initializers under their state-dict names.
   * @example const bytes = net.toOnnx({ program: "eval" });
   */
  toOnnx(options?: OnnxExportOptions): Uint8Array {
    const { model, trace } = this.parts;
    return toOnnx({ model, inputs: trace.inputs, seed: trace.seed, params: this.params, state: this.state }, options);
  }

  /** Write `toOnnx(options)` to a file, atomically. @example await net.exportOnnx("model.onnx") */
  async exportOnnx(path: string, options?: OnnxExportOptions): Promise<void> {
    writeFileAtomic(path, this.toOnnx(options));
  }

  /** Write optimizer buffers and the step counter, so training resumes bit for bit. @example await net.saveOptimizerState("opt.safetensors") */
  async saveOptimizerState(path: string): Promise<void> {
    this.live("saveOptimizerState");
    saveOptimizerState(this, path);
  }

  /** Restore what saveOptimizerState wrote. @example await net.loadOptimizerState("opt.safetensors") */
  async loadOptimizerState(path: string): Promise<void> {
    this.live("loadOptimizerState");
    loadOptimizerState(this, path);
  }

  /**
   * One training step on a batch: forward, backward, optimizer update, running statistics.
   * Returns the loss before the update. A step whose loss is NaN or ±∞ is not taken: a
   * NumericsError, and parameters, state, optimizer buffers and `step` stay as they were.
   * @example const loss = net.trainStep(x, labels);
   */
  trainStep(x: ArrayLike<number>, labels: ArrayLike<number>): number {
    this.begin("trainStep");
    try {
      return this.trainStepOnce(x, labels);
    } finally {
      this.busy = undefined;
    }
  }

  private trainStepOnce(x: ArrayLike<number>, labels: ArrayLike<number>): number {
    const train = this.programsMade.train;
    this.prepare(train, x, labels);
    this.writeLearningRate(train.input("lr") as Float32Array);
    for (const sc of this.parts.optimizer.scalars) (train.input(sc.name) as Float32Array)[0] = sc.value(this.stepCount + 1);
    this.run(train);
    this.keepProbes(train);
    this.stepCount++;
    // Little-endian int64 + 1: the low word, then the carry.
    for (let i = 0; i < this.counters.length; i++) {
      const w = this.counters[i]!;
      if (++w[0]! === 0) w[1]!++;
    }
    return train.output("loss")[0]!;
  }

  /**
   * Loss and gradients of the loss alone (no weight decay), same train-mode forward as the next
   * trainStep (same dropout masks). Changes nothing: parameters, state, optimizer and step stay.
   * With `{ input: true }` also `inputGrad`, ∂loss/∂x shaped like x (a saliency map, an
   * adversarial direction), from a second gradient program compiled on first use.
   * With `{ out }` the gradients go into your arrays (`out.grads` keyed like params, each its
   * parameter's length; `out.inputGrad` with `input: true`) and those are returned: nothing the
   * size of the model is allocated (new arrays take ~80 µs per MB to allocate and fill).
   * @example const { loss, grads } = net.gradients(x, labels); grads["0.weight"]
   * @example const { inputGrad } = net.gradients(x, labels, { input: true });
   * @example net.gradients(x, labels, { out: { grads: mine } }); // mine["0.weight"] filled in place
   */
  gradients(x: ArrayLike<number>, labels: ArrayLike<number>): { loss: number; grads: Record<string, Float32Array> };
  gradients(x: ArrayLike<number>, labels: ArrayLike<number>, opts: { input: true; out?: GradientsOut }): { loss: number; grads: Record<string, Float32Array>; inputGrad: Float32Array };
  gradients(x: ArrayLike<number>, labels: ArrayLike<number>, opts?: { input?: boolean; out?: GradientsOut }): { loss: number; grads: Record<string, Float32Array>; inputGrad?: Float32Array };
  gradients(x: ArrayLike<number>, labels: ArrayLike<number>, opts: { input?: boolean; out?: GradientsOut } = {}): { loss: number; grads: Record<string, Float32Array>; inputGrad?: Float32Array } {
    this.begin("gradients");
    try {
      return this.gradientsOnce(x, labels, opts);
    } finally {
      this.busy = undefined;
    }
  }

  private gradientsOnce(x: ArrayLike<number>, labels: ArrayLike<number>, opts: { input?: boolean; out?: GradientsOut }): { loss: number; grads: Record<string, Float32Array>; inputGrad?: Float32Array } {
    knownOptions("gradients", opts, ["input", "out"], InputError);
    const input = opts?.input ?? false;
    if (typeof input !== "boolean") throw new InputError(`gradients: options.input must be true or false, got ${String(input)}`);
    const out = opts?.out;
    if (out !== undefined) checkGradientsOut(out, input, this.params, this.parts.trace.batch * this.parts.trace.inputs, this.isOwnMemory);
    const exec = input ? this.programsMade.inputGrad() : this.programsMade.grad;
    this.prepare(exec, x, labels);
    this.run(exec);
    this.keepProbes(exec);
    const grads: Record<string, Float32Array> = out ? out.grads : {};
    for (const name of Object.keys(this.params)) {
      const g = exec.output(`${name}.grad`) as Float32Array;
      if (out) grads[name]!.set(g); else grads[name] = Float32Array.from(g);
    }
    const loss = exec.output("loss")[0]!;
    if (!input) return { loss, grads };
    const dx = exec.output("x.grad") as Float32Array;
    return { loss, grads, inputGrad: out ? (out.inputGrad!.set(dx), out.inputGrad!) : Float32Array.from(dx) };
  }

  /**
   * Eval program on any number of samples (x.length / inputs): no dropout, batchNorm on its
   * running statistics, so each sample's output is independent of the others — unless a user
   * `fn` or `layer` mixes them (x.mean(0), a product over the batch): then all samples go
   * through one program, as one batch, however many there are. The outputs go
   * to `out` when given (n × outputs floats; nothing is allocated), else to a new array.
   * @example const logits = net.predict(xTest); // Float32Array(n × outputs)
   */
  predict(x: ArrayLike<number>, out?: Float32Array): Float32Array {
    this.begin("predict");
    try {
      return predictSamples(this.parts, this.programsMade, this.isOwnMemory, this.stepCount, x, out);
    } finally {
      this.busy = undefined;
    }
  }

  /**
   * The probes of the last trainStep or gradients call (compile with `probes`), keyed by layer
   * path; NaN before the first call.
   * @example net.trainStep(x, y); net.probes().activationNorm["0"]
   */
  probes(): Probes {
    const out: Probes = { activationNorm: {}, gradNorm: {}, weightVariance: {} };
    this.probeNames.forEach((name, i) => {
      const [kind, path] = name.split(/:(.*)/s) as [ProbeKind, string];
      out[kind][path] = this.probeValues[i]!;
    });
    return out;
  }

  /** Run a program, checked when compiled with checkNumerics (predict: its chunk of samples). */
  private run(exec: Executor, start = 0, count = 0): void {
    this.programsMade.run(exec, this.stepCount, start, count);
  }

  private keepProbes(exec: Executor): void {
    for (let i = 0; i < this.probeNames.length; i++) this.probeValues[i] = exec.output(this.probeNames[i]!)[0]!;
  }

  /** For messages only, made once: the per-call checks allocate nothing. */
  private readonly batchText = () => `batch ${this.parts.trace.batch} × ${this.parts.trace.inputs} features; this program was compiled for batch ${this.parts.trace.batch}`;

  /** Validate, then write the batch (and the step) into a program's input buffers. */
  private prepare(exec: Executor, x: ArrayLike<number>, labels: ArrayLike<number>): void {
    writeBatch(exec, this.parts, x, labels, this.batchText);
    if (exec.hasInput("step")) (exec.input("step") as Int32Array)[0] = this.stepCount;
  }

  /** Checked, then stored straight into the program's lr scalar (no number crosses a call). */
  private writeLearningRate(target: Float32Array): void {
    const { lr } = this.parts.optimizer;
    const value = typeof lr === "function" ? lr(this.stepCount, this.runSteps) : lr;
    if (!isFloat32(value) || value < 0) {
      throw new ModelError(`learning-rate schedule gave ${numberText(value)} at step ${this.stepCount}; expected a finite number ≥ 0`);
    }
    target[0] = value;
  }
}
