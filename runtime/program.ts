/**
 * A planned program: what the executor runs. It knows nothing of layers or IR — only buffers,
 * kernel calls with numeric parameters, and which buffers are the named inputs and outputs.
 */
import type { KernelName } from "./kernels/index.js";

export type BufferDType = "f32" | "i32";

export interface BufferSpec {
  readonly length: number;
  readonly dtype: BufferDType;
  /** Byte offset in the arena's scratch region (planned programs); absent: a buffer of its own. */
  readonly offset?: number;
  /** The buffer is the caller's array bound to this input name (in-place parameter updates). */
  readonly external?: string;
}

/** One kernel call: `args` are buffer indices (inputs first, output last), `params` numbers only. */
export interface Instr {
  /** A kernel of the table, or "generated" with its `source` (see kernels/generated.ts). */
  readonly kernel: KernelName | "generated";
  readonly source?: string;
  /**
   * The same generated kernel as a WebAssembly module exporting `fused(...byte offsets of args)`
   * (runtime/wasm/fused.ts), run instead of `source` when the program runs in an arena.
   */
  readonly wasm?: Uint8Array;
  readonly args: readonly number[];
  readonly params: readonly number[];
}

export interface Program {
  readonly buffers: readonly BufferSpec[];
  readonly steps: readonly Instr[];
  readonly inputs: readonly { readonly name: string; readonly buffer: number }[];
  readonly outputs: readonly { readonly name: string; readonly buffer: number }[];
  /** After the steps run, buffer `from` is copied into buffer `to` (parameter and state updates). */
  readonly updates: readonly { readonly from: number; readonly to: number }[];
  /** Bytes of arena scratch the planned buffers need (absent for unplanned programs). */
  readonly scratchBytes?: number;
}
