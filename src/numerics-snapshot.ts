/**
 * checkNumerics' undo of a train step. A step updates the caller's arrays (parameters, state,
 * optimizer buffers) in place as it goes, so each is saved just before the kernel that first
 * overwrites it, and put back if a later check fails.
 *
 * Saved by the kernel itself where it can: an in-place update is a fused elementwise kernel that
 * reads the array it overwrites (w ← w − lr·…), so a variant of it that also stores that input to
 * the snapshot saves the array while the kernel reads it anyway — one extra store per element,
 * where a copy beforehand reads and writes the whole array once more (W2's 401,408-float weight and
 * its momentum: ~110 µs of copying against ~20 µs of extra stores, measured). The variant stores
 * the same values to the same outputs, so the step's results keep their bits. Elsewhere (a kernel
 * of another kind, an unplanned program) the array is copied before the step.
 *
 * The snapshot lives in the arena's scratch, after the program's buffers (it is needed only
 * during a run), or in arrays of its own outside an arena.
 */
import type { Graph } from "../compiler/ir/graph.js";
import { ops } from "../compiler/ops/index.js";

/** Steps to call `save` before (nonzero in `steps`): those that overwrite a caller's array in place. */
export interface BeforeStep {
  readonly steps: Uint8Array;
  save(step: number): void;
}

/** What the snapshot needs of an executor (runtime/executor.ts), structurally. */
export interface SnapshotExecutor {
  buffer(i: number): Float32Array | Float64Array | Int32Array;
  /** Float32 views of these lengths in scratch no kernel of the program uses; null outside an arena. */
  scratchViews(lengths: readonly number[]): Float32Array[] | null;
  /** Run module `bytes` over step's buffers then `extra` in checked runs; false where the step is no WebAssembly module. */
  useInCheckedRun(step: number, bytes: Uint8Array, extra: readonly Float32Array[]): boolean;
}

export class Snapshot implements BeforeStep {
  readonly steps: Uint8Array;
  /** Per step: the arrays to copy before it (those its kernel does not save), and all it saves. */
  private readonly copyAt: number[][];
  private readonly savedAt: number[][];
  private readonly copies: Float32Array[];
  /** Which arrays this run has saved so far (indices into `arrays`), in order. */
  private readonly saved: Int32Array;
  private count = 0;

  /**
   * `arrays`: the caller's arrays the program writes in place; `g`'s node i is the executor's
   * step i, which writes the arrays `writes[i]` (indices into `arrays`).
   */
  constructor(g: Graph, exec: SnapshotExecutor, private readonly arrays: readonly Float32Array[], writes: readonly (readonly number[])[]) {
    this.copies = exec.scratchViews(arrays.map((a) => a.length)) ?? arrays.map((a) => new Float32Array(a.length));
    this.saved = new Int32Array(arrays.length);
    // Only an array's first writer saves it: a later one would save a value of this same step.
    const first = new Set<number>();
    this.savedAt = writes.map((w) => w.filter((k) => !first.has(k) && first.add(k)));
    this.copyAt = this.savedAt.map((ks, i) => (ks.length && this.savedByKernel(g, exec, i, ks) ? [] : ks));
    this.steps = Uint8Array.from(this.savedAt, (ks) => (ks.length ? 1 : 0));
  }

  /** Make step i's kernel save arrays `ks` itself (see the file comment); false if it cannot. */
  private savedByKernel(g: Graph, exec: SnapshotExecutor, i: number, ks: readonly number[]): boolean {
    const n = g.nodes[i]!;
    if (n.op !== "fused_elementwise") return false;
    // The input slot reading each array: the same view, so the same elements in the same order.
    const slots = ks.map((k) => n.inputs.findIndex((v) => exec.buffer(v) === this.arrays[k]));
    if (slots.some((s) => s < 0)) return false;
    const attrs = { ...n.attrs, outputs: [...n.attrs.outputs, ...slots] };
    const wasm = ops.fused_elementwise.lower(attrs, n.inputs.map((v) => g.values[v]!), []).wasm;
    return wasm !== undefined && exec.useInCheckedRun(i, wasm, ks.map((k) => this.copies[k]!));
  }

  /** A new run: nothing saved yet. */
  reset(): void {
    this.count = 0;
  }

  /** Step i is about to run: copy what its kernel does not save, and count all it saves. */
  save(i: number): void {
    for (const k of this.copyAt[i]!) this.copies[k]!.set(this.arrays[k]!);
    for (const k of this.savedAt[i]!) this.saved[this.count++] = k;
  }

  restore(): void {
    for (let i = 0; i < this.count; i++) { const k = this.saved[i]!; this.arrays[k]!.set(this.copies[k]!); }
    this.count = 0;
  }
}
