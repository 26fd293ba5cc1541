/**
 * An executor's checked run (checkNumerics): its kernels with a check after each, the first
 * non-finite output stopping the run before the copy-backs. The checks run in WebAssembly: in
 * the kernel itself where it can check its own outputs (fused modules given by useInCheckedRun,
 * products through Kernel.prepareChecked: each thread checks the chunks it computed), else one
 * pass over each output after the kernel.
 */
import { GraphError } from "./errors.js";
import { kernels, type AnyArray } from "./kernels/index.js";
import type { KernelContext } from "./kernels/types.js";
import type { Program } from "./program.js";
import { prepareFused } from "./wasm/fused-run.js";

/** What a checked run reads of its executor (the same arrays: relinks refill them in place). */
export interface CheckedHost {
  readonly program: Program;
  readonly ctx: KernelContext | undefined;
  readonly bufs: readonly AnyArray[];
  readonly calls: readonly (() => void)[];
  /** Per-step milliseconds of `kiln profile` (null: not timing). */
  timing(): Float64Array | null;
  /** The copy-backs of updated inputs, and a timed run counted. */
  finish(timed: boolean): void;
  finite(buf: AnyArray): boolean;
  inArena(buf: AnyArray): boolean;
}

interface Plan {
  readonly outputsOf: readonly (readonly number[])[];
  readonly starts: Int32Array;
  readonly checks: Int32Array;
  readonly calls: readonly (() => unknown)[];
  readonly inKernel: Uint8Array;
}

export class CheckedRun {
  private plan: Plan | null = null;
  /** Steps that run another module in checked runs (use). */
  private readonly substitutes = new Map<number, { bytes: Uint8Array; extra: readonly Float32Array[]; checks: boolean }>();

  constructor(private readonly e: CheckedHost) {}

  /** The executor's buffers were bound anew: plan again on the next run. */
  invalidate(): void {
    this.plan = null;
  }

  /**
   * The kernels with a check after every one: the first step whose outputs (buffer indices,
   * `outputsOf[step]`) hold a NaN or ±∞ stops the run before the copy-backs, and is returned
   * with that buffer; null when every output was finite. `before.save(i)` runs before each step
   * i marked in `before.steps` (the caller saves what that step overwrites). Timed (kiln
   * profile) like a plain run, checks included.
   */
  run(outputsOf: readonly (readonly number[])[], before?: { readonly steps: Uint8Array; save(step: number): void }): { step: number; buffer: number } | null {
    const plan = this.plan?.outputsOf === outputsOf ? this.plan : this.makePlan(outputsOf);
    const { starts, checks, calls, inKernel } = plan, wasm = this.e.ctx?.wasm, times = this.e.timing();
    for (let i = 0; i < calls.length; i++) {
      if (before?.steps[i]) before.save(i);
      const t0 = times ? performance.now() : 0; // kiln profile: a step's time includes its checks
      if (inKernel[i]) {
        const ok = calls[i]!();
        if (times) times[i]! += performance.now() - t0;
        if (ok !== 1) return this.firstNonFinite(i, outputsOf[i]!);
        continue;
      }
      calls[i]!();
      for (let j = starts[i]!; j < starts[i + 1]!; j += 3) {
        const b = checks[j]!, off = checks[j + 1]!;
        if (off >= 0 ? wasm!.allFinite(off, checks[j + 2]!) !== 1 : !this.e.finite(this.e.bufs[b]!)) return { step: i, buffer: b };
      }
      if (times) times[i]! += performance.now() - t0;
    }
    this.e.finish(times !== null);
    return null;
  }

  /**
   * In checked runs, step i runs the fused module `bytes` over its buffers then `extra` (views
   * of this arena) instead of its own — one that computes the same outputs and more
   * (src/numerics-kernels.ts); with `checks` it returns 1 if the step's checked outputs were all
   * finite, else 0. False, and nothing changes, where step i is no WebAssembly module.
   */
  use(step: number, bytes: Uint8Array, extra: readonly Float32Array[], checks: boolean): boolean {
    if (!this.e.ctx || !this.e.program.steps[step]?.wasm || !extra.every((a) => this.e.inArena(a))) return false;
    this.substitutes.set(step, { bytes, extra, checks });
    this.plan = null;
    return true;
  }

  /** Which of step i's outputs its checking kernel found not finite: the first in `outputs`' order. */
  private firstNonFinite(step: number, outputs: readonly number[]): { step: number; buffer: number } {
    const buffer = outputs.find((b) => !this.e.finite(this.e.bufs[b]!));
    if (buffer === undefined) throw new GraphError(`step ${step}: its checking kernel found a non-finite value that none of its outputs holds`);
    return { step, buffer };
  }

  /**
   * run's flat table, made once per outputsOf (and again after a bind): per step, triples
   * (buffer, byte offset, floats) — the offset −1 for a buffer the WebAssembly pass cannot read
   * (outside an arena), int32 buffers left out. A check is then one call, no lookups. And the
   * calls, with the substitute kernels (use) bound to this bind's buffers: those that check
   * their outputs themselves (inKernel) return 1 when all were finite.
   */
  private makePlan(outputsOf: readonly (readonly number[])[]): Plan {
    const { program, ctx, bufs, calls: plain } = this.e;
    const starts = new Int32Array(plain.length + 1), checks: number[] = [];
    // Products check their outputs as their threads make them (Kernel.prepareChecked).
    const own = plain.map((_c, i) => {
      const s = program.steps[i]!, kernel = s.wasm || s.kernel === "generated" ? undefined : kernels[s.kernel];
      return ctx && outputsOf[i]!.length > 0 ? kernel?.prepareChecked?.(s.args.map((a) => bufs[a]!), s.params, ctx) ?? null : null;
    });
    const inKernel = Uint8Array.from(plain, (_c, i) => (this.substitutes.get(i)?.checks || own[i] ? 1 : 0));
    for (let i = 0; i < plain.length; i++) {
      starts[i] = checks.length;
      if (inKernel[i]) continue;
      for (const b of outputsOf[i]!) {
        const buf = bufs[b]!;
        if (!(buf instanceof Int32Array)) checks.push(b, this.e.inArena(buf) ? buf.byteOffset : -1, buf.length);
      }
    }
    starts[plain.length] = checks.length;
    const calls = plain.map((call, i) => {
      const v = this.substitutes.get(i);
      return v ? prepareFused(v.bytes, [...program.steps[i]!.args.map((a) => bufs[a]!), ...v.extra], ctx!.memory) : own[i] ?? call;
    });
    return (this.plan = { outputsOf, starts, checks: Int32Array.from(checks), calls, inKernel });
  }
}
