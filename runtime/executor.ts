/**
 * Runs a planned program. Buffers are allocated once, when the executor is made; a run only
 * executes kernels and copies updates, so repeated runs allocate nothing.
 *
 * Inputs may be bound to caller-owned arrays (parameters live outside any one program and are
 * shared by the train, gradient and eval programs): the kernels then read them directly.
 */
import { alignUp, type Arena } from "./arena.js";
import { GraphError } from "./errors.js";
import { debugLevel } from "./host.js";
import { compileKernel } from "./kernels/generated.js";
import { kernels, type AnyArray, type Kernel } from "./kernels/index.js";
import type { KernelContext, SplitCall } from "./kernels/types.js";
import type { Program } from "./program.js";
import type { ProgramInfo, StepInfo } from "./steps.js";
import { bindFused, fusedInstance } from "./wasm/fused-run.js";
import { fusedSplit } from "./kernels/chunks.js";
import { CheckedRun } from "./checked-run.js";

export type Precision = "f32" | "f64";

export type { StepInfo, ProgramInfo } from "./steps.js";

/** KILN_DEBUG=4: every program times its steps; at exit each prints its slowest kernels. */
const timed: Executor[] = [];
function debugTiming(e: Executor): void {
  // KILN_DEBUG is read only under Node (host.ts), so its process is there to hook.
  const proc = (globalThis as { process?: { once(event: "exit", f: () => void): void } }).process;
  if (timed.length === 0) proc?.once("exit", () => { for (const x of timed) printTimes(x); });
  timed.push(e);
  e.startTiming();
}

function printTimes(e: Executor): void {
  const { ms, runs } = e.stepTimes();
  if (runs === 0) return;
  const total = ms.reduce((a, b) => a + b, 0);
  const rows = e.steps.map((s, i) => [`#${i} ${s.kernel === "generated" ? "fused" : s.kernel}${s.wasm ? "" : " (JavaScript)"}${s.threads > 1 ? ` ×${s.threads} threads` : ""}`, ms[i]!] as const)
    .sort((a, b) => b[1] - a[1]).slice(0, 12);
  console.error(`[kiln] ${e.label}: ${total.toFixed(3)} ms per run, mean of ${runs} runs (the first included); slowest kernels (ms):\n`
    + rows.map(([k, t]) => `  ${t.toFixed(3).padStart(9)}  ${k}`).join("\n"));
}

export class Executor implements ProgramInfo {
  private readonly bufs: AnyArray[];
  private readonly calls: (() => void)[] = [];
  private readonly ctx: KernelContext | undefined;
  private readonly inputs = new Map<string, number>();
  private readonly outputs = new Map<string, number>();
  private readonly checked: CheckedRun;

  /**
   * Unplanned programs get one array per buffer (float64 ones when `precision` is "f64", for
   * gradient checks). Planned programs place their buffers in the arena's scratch region.
   */
  constructor(readonly program: Program, readonly precision: Precision = "f32", private readonly arena?: Arena) {
    const planned = program.scratchBytes !== undefined;
    if (planned && (!arena || precision !== "f32")) throw new GraphError("a planned program runs in float32 inside an arena");
    const base = planned ? arena!.scratch(program.scratchBytes!) : 0;
    this.ctx = planned ? arena!.context : undefined;
    this.bufs = program.buffers.map((b) => {
      if (b.offset !== undefined) return b.dtype === "i32" ? arena!.i32(base + b.offset, b.length) : arena!.f32(base + b.offset, b.length);
      return b.dtype === "i32" ? new Int32Array(b.length) : precision === "f64" ? new Float64Array(b.length) : new Float32Array(b.length);
    });
    for (const i of program.inputs) this.inputs.set(i.name, i.buffer);
    for (const o of program.outputs) this.outputs.set(o.name, o.buffer);
    this.checked = new CheckedRun({
      program, ctx: this.ctx, bufs: this.bufs, calls: this.calls,
      timing: () => this.timing, finish: (timed) => this.finish(timed),
      finite: (b) => this.finite(b), inArena: (b) => this.inArena(b),
    });
    this.relink();
    if (debugLevel() >= 4) debugTiming(this);
  }

  /** The buffer of a named input: a live view to write into before `run`. */
  input(name: string): AnyArray {
    const i = this.inputs.get(name);
    if (i === undefined) throw new GraphError(`program has no input named ${JSON.stringify(name)}`);
    return this.bufs[i]!;
  }

  /**
   * Are all values of a float input finite (no NaN, no ±∞)? One WebAssembly SIMD pass when the
   * program runs in an arena (input validation at memory speed), a JavaScript loop otherwise.
   */
  allFinite(name: string): boolean {
    return this.inputAll(name, "allFinite", Number.isFinite);
  }

  /** Are all values of a float input in [0, 1] (NaN is not)? As allFinite. */
  allUnit(name: string): boolean {
    return this.inputAll(name, "allUnit", (v) => v >= 0 && v <= 1);
  }

  private inputAll(name: string, kernel: "allFinite" | "allUnit", ok: (v: number) => boolean): boolean {
    const buf = this.input(name) as Float32Array;
    // The program's own input buffers live in the arena; a bound array may not.
    if (this.ctx && !this.rebound.has(this.inputs.get(name)!)) return this.ctx.wasm[kernel](buf.byteOffset, buf.length) === 1;
    for (let i = 0; i < buf.length; i++) if (!ok(buf[i]!)) return false;
    return true;
  }

  /** The buffer of a named output: a live view, valid until the next `run`. */
  output(name: string): AnyArray {
    const i = this.outputs.get(name);
    if (i === undefined) throw new GraphError(`program has no output named ${JSON.stringify(name)}`);
    return this.bufs[i]!;
  }

  hasInput(name: string): boolean {
    return this.inputs.has(name);
  }

  /** Make the named input read from `array` (same length and element type) instead of its own buffer. */
  bind(name: string, array: AnyArray): void {
    this.bindAll([[name, array]]);
  }

  /**
   * `bind` for many inputs at once: every pair is checked before any is bound (a bad one changes
   * nothing), then the calls are relinked once — one relink per bind made compile() quadratic in
   * depth (each of a deep net's parameters relinked every step of the program).
   */
  bindAll(pairs: Iterable<readonly [string, AnyArray]>): void {
    const todo: [number, string, AnyArray][] = [];
    for (const [name, array] of pairs) {
      const i = this.inputs.get(name);
      if (i === undefined) throw new GraphError(`program has no input named ${JSON.stringify(name)}`);
      const own = this.bufs[i]!;
      if (own.length !== array.length || own.constructor !== array.constructor) {
        throw new GraphError(`cannot bind ${JSON.stringify(name)}: expected ${own.constructor.name}(${own.length}), got ${array.constructor.name}(${array.length})`);
      }
      todo.push([i, name, array]);
    }
    if (todo.length === 0) return;
    const byName = new Map<string, AnyArray>();
    for (const [i, name, array] of todo) {
      this.bufs[i] = array;
      this.rebound.add(i);
      byName.set(name, array);
    }
    // Outputs planned into a bound input's storage (in-place updates) share the array.
    this.program.buffers.forEach((b, k) => {
      const array = b.external === undefined ? undefined : byName.get(b.external);
      if (array) this.bufs[k] = array;
    });
    this.relink();
  }

  run(): void {
    this.runFrom(0);
  }

  /**
   * A run in two parts, `runUntil(stop)` then `runFrom(stop)` (the rest and the copy-backs),
   * for a caller that looks at an output in between: a train step whose steps before `stop`
   * write none of the caller's arrays is refused there (its loss not finite) having changed
   * nothing, by not calling runFrom.
   */
  runUntil(stop: number): void {
    this.runSteps(0, stop);
  }

  runFrom(stop: number): void {
    this.runSteps(stop);
    this.finish(this.timing !== null);
  }

  /** Steps [from, to), timed when timing. */
  private runSteps(from: number, to = this.calls.length): void {
    const calls = this.calls, times = this.timing;
    if (times === null) {
      for (let i = from; i < to; i++) calls[i]!();
      return;
    }
    for (let i = from; i < to; i++) {
      const t0 = performance.now();
      calls[i]!();
      times[i]! += performance.now() - t0;
    }
  }

  /** After a run's kernels: the copy-backs of updated inputs, and a timed run counted. */
  private finish(timed: boolean): void {
    for (const u of this.program.updates) (this.bufs[u.to] as Float32Array).set(this.bufs[u.from] as Float32Array);
    if (timed) this.timedRuns++;
  }

  /** The checked run (checkNumerics): see checked-run.ts. */
  runChecked(outputsOf: readonly (readonly number[])[], before?: { readonly steps: Uint8Array; save(step: number): void }): { step: number; buffer: number } | null {
    return this.checked.run(outputsOf, before);
  }

  /** In checked runs, step i runs another module (checked-run.ts); false where it cannot. */
  useInCheckedRun(step: number, bytes: Uint8Array, extra: readonly Float32Array[], checks: boolean): boolean {
    return this.checked.use(step, bytes, extra, checks);
  }

  /**
   * Float32 views of these lengths in the arena's scratch after this program's buffers: no
   * kernel of the program touches them, and every program of the arena runs alone, so they keep
   * their values through a run (not from one run to the next). Null outside an arena.
   */
  scratchViews(lengths: readonly number[]): Float32Array[] | null {
    const arena = this.arena, own = this.program.scratchBytes;
    if (!arena || own === undefined) return null;
    const offsets: number[] = [];
    let end = alignUp(own);
    for (const n of lengths) { offsets.push(end); end = alignUp(end + 4 * n); }
    const base = arena.scratch(end);
    return lengths.map((n, i) => arena.f32(base + offsets[i]!, n));
  }

  // In an arena every buffer is a view of its shared memory (bound ones too: compile() and
  // compileGraph allocate them there); views made before the memory grew hold an older
  // SharedArrayBuffer object of the same memory, so compare by kind and bounds, not identity.
  private inArena(buf: AnyArray): boolean {
    return this.ctx !== undefined && buf.buffer instanceof SharedArrayBuffer && buf.byteOffset + buf.byteLength <= this.ctx.memory.buffer.byteLength;
  }

  /** Buffer `i` of the program (a value of the graph it was lowered from), for messages. */
  buffer(i: number): AnyArray {
    const b = this.bufs[i];
    if (b === undefined) throw new GraphError(`program has no buffer ${i}`);
    return b;
  }

  private finite(buf: AnyArray): boolean {
    if (buf instanceof Int32Array) return true;
    if (this.inArena(buf)) return this.ctx!.wasm.allFinite(buf.byteOffset, buf.length) === 1;
    for (let i = 0; i < buf.length; i++) if (!Number.isFinite(buf[i]!)) return false;
    return true;
  }

  /** Inputs made to read from a caller's array (bind). */
  private readonly rebound = new Set<number>();

  /**
   * How each step runs once prepared: its kernel, whether in WebAssembly (false: a JavaScript
   * loop — always so in an unplanned program), and on how many threads.
   */
  readonly steps: StepInfo[] = [];

  /** What KILN_DEBUG=4 and `kiln profile` print beside the table (the program's name). */
  label = "program";

  get scratchBytes(): number {
    return this.program.scratchBytes ?? 0;
  }

  /** Per-step milliseconds summed over the timed runs (null: not timing). */
  private timing: Float64Array | null = null;
  private timedRuns = 0;

  /**
   * Time every step of the following runs (from zero). KILN_DEBUG=4 turns it on for every
   * program and prints the means at exit; `kiln profile` turns it on after warm-up runs.
   */
  startTiming(): void {
    this.timing = new Float64Array(this.calls.length);
    this.timedRuns = 0;
  }

  /** Mean milliseconds per step over the timed runs, and how many runs that is. */
  stepTimes(): { readonly ms: readonly number[]; readonly runs: number } {
    const runs = this.timedRuns;
    return { ms: Array.from(this.timing ?? [], (t) => (runs ? t / runs : 0)), runs };
  }

  /** Resolve each call's buffer indices to arrays once, so `run` is a flat loop. */
  private relink(): void {
    this.checked.invalidate();
    this.calls.length = 0;
    this.steps.length = 0;
    for (const s of this.program.steps) {
      const args = s.args.map((a) => this.bufs[a]!), params = s.params, ctx = this.ctx;
      // In an arena every buffer is a view of its memory: a generated kernel's module runs there.
      if (ctx && s.wasm) {
        const loop = fusedInstance(s.wasm, ctx.memory), whole = bindFused(loop, args), split = fusedSplit(ctx, loop, args, whole);
        this.calls.push(split ?? whole);
        this.steps.push({ kernel: s.kernel, wasm: true, threads: split?.threads ?? 1 });
        continue;
      }
      const kernel: Kernel = s.kernel === "generated" ? compileKernel(s.source ?? "") : kernels[s.kernel];
      const prepared: SplitCall | null = ctx && kernel.prepare ? kernel.prepare(args, params, ctx) : null;
      this.calls.push(prepared ?? (() => kernel(args, params, ctx)));
      this.steps.push({ kernel: s.kernel, wasm: prepared !== null, threads: prepared?.threads ?? 1 });
    }
    if (this.timing) this.startTiming();
  }
}
