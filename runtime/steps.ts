/**
 * What a prepared program tells about itself (Net.programs(), `kiln profile`): how each step runs
 * and, when asked, how long it takes. Plain data types only, so the public typings stay free of
 * WebAssembly and Node types.
 */

export interface StepInfo {
  /** The kernel of the table, or "generated" (a fused elementwise kernel). */
  readonly kernel: string;
  /** In WebAssembly; false: a JavaScript loop (always so in an unplanned, reference program). */
  readonly wasm: boolean;
  /** Threads the step splits across. */
  readonly threads: number;
}

export interface ProgramInfo {
  /** The program's name ("train", "backward", "eval[128]", …). */
  readonly label: string;
  readonly steps: readonly StepInfo[];
  /** Bytes of arena scratch the program's buffers take (0 for a reference program). */
  readonly scratchBytes: number;
  /** Time every step of the following runs (from zero). */
  startTiming(): void;
  /** Mean milliseconds per step over the timed runs, and how many runs that is. */
  stepTimes(): { readonly ms: readonly number[]; readonly runs: number };
}
