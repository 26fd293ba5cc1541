/**
 * checkNumerics' undo of a train step. A step updates the caller's arrays (parameters, state,
 * optimizer buffers) in place as it goes, so each is saved just before the kernel that first
 * overwrites it, and put back if a later check fails. An in-place update's fused kernel saves
 * the array itself as it reads it (numerics-kernels.ts); any other is copied before its step.
 *
 * The snapshot lives in the arena's scratch, after the program's buffers (it is needed only
 * during a run), or in arrays of its own outside an arena.
 */

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
}

export class Snapshot implements BeforeStep {
  readonly steps: Uint8Array;
  /** Per step: the arrays it saves (it writes them first), and those of them to copy before it. */
  private readonly saves: (readonly number[])[];
  private readonly copyAt: (readonly number[])[];
  private readonly copies: Float32Array[];
  /** Which arrays this run has saved so far (indices into `arrays`), in order. */
  private readonly saved: Int32Array;
  private count = 0;

  /**
   * `arrays`: the caller's arrays the program writes in place; step i of the executor writes
   * the arrays `writes[i]` (indices into `arrays`).
   */
  constructor(exec: SnapshotExecutor, private readonly arrays: readonly Float32Array[], writes: readonly (readonly number[])[]) {
    this.copies = exec.scratchViews(arrays.map((a) => a.length)) ?? arrays.map((a) => new Float32Array(a.length));
    this.saved = new Int32Array(arrays.length);
    // Only an array's first writer saves it: a later one would save a value of this same step.
    const first = new Set<number>();
    this.saves = writes.map((w) => w.filter((k) => !first.has(k) && first.add(k)));
    this.copyAt = [...this.saves];
    this.steps = Uint8Array.from(this.saves, (ks) => (ks.length ? 1 : 0));
  }

  /** The arrays step i saves. */
  savedAt(i: number): readonly number[] {
    return this.saves[i] ?? [];
  }

  array(k: number): Float32Array {
    return this.arrays[k]!;
  }

  /** Where array k is saved. */
  copy(k: number): Float32Array {
    return this.copies[k]!;
  }

  /** Step i's kernel stores the arrays it saves into their copies itself: nothing to copy before it. */
  savedByKernel(i: number): void {
    this.copyAt[i] = [];
  }

  /** A new run: nothing saved yet. */
  reset(): void {
    this.count = 0;
  }

  /** Step i is about to run: copy what its kernel does not save itself, and count all it saves. */
  save(i: number): void {
    for (const k of this.copyAt[i]!) this.copies[k]!.set(this.arrays[k]!);
    for (const k of this.saves[i]!) this.saved[this.count++] = k;
  }

  restore(): void {
    for (let i = 0; i < this.count; i++) { const k = this.saved[i]!; this.arrays[k]!.set(this.copies[k]!); }
    this.count = 0;
  }
}
