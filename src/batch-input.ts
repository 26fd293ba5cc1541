/** The batch a train step or a gradients call reads, validated on its way into the program. */
import type { Executor } from "../runtime/executor.js";
import type { NetParts } from "./net-parts.js";
import { changedWhileRead, checkFloats, floatsOnce, stableArray } from "./validate.js";

/**
 * Validate, then write a batch into a program's input buffers (`x`, `labels`). The fast path for
 * the common case — a Float32Array of the right length — copies first and checks the program's
 * own copy in one WebAssembly pass; anything else is read once (floatsOnce, stableArray), checked,
 * then copied, so what is checked is what the program reads. Either way a refused batch is a KilnError
 * before the program runs, so it changes no parameter or state.
 */
export function writeBatch(exec: Executor, parts: Pick<NetParts, "trace" | "loss" | "outputs">, x: ArrayLike<number>, labels: ArrayLike<number>, batchText: () => string): void {
  const { batch, inputs } = parts.trace;
  const buf = exec.input("x") as Float32Array;
  // A Float32Array of the right length is copied, then checked in place (as Net.predict does).
  if (x instanceof Float32Array && x.length === batch * inputs) {
    buf.set(x);
    if (!exec.allFinite("x")) {
      checkFloats(x, batch * inputs, "x", batchText);
      changedWhileRead("x");
    }
  } else {
    buf.set(floatsOnce(x, batch * inputs, "x", batchText));
  }
  const lab = exec.input("labels") as Float32Array | Int32Array;
  // Float targets whose check is length and finiteness (mse, l1, huber, lossFn) or range [0, 1]
  // (binaryCrossEntropy), a Float32Array of the right length: copied, then checked in place like
  // x, in WebAssembly; the loss's own check runs only to name what is wrong. (A JavaScript pass
  // over 256×1000 targets took ~1 ms, more than the step's fused loss kernels.) Class indices get
  // their loss's check first.
  const targets = parts.loss.targets;
  if (targets !== undefined && labels instanceof Float32Array && lab instanceof Float32Array && labels.length === lab.length) {
    lab.set(labels);
    if (!(targets === "unit" ? exec.allUnit("labels") : exec.allFinite("labels"))) {
      parts.loss.check(labels, batch, parts.outputs);
      changedWhileRead("labels");
    }
  } else {
    const ls = stableArray(labels, lab.length) as ArrayLike<number>;
    parts.loss.check(ls, batch, parts.outputs);
    lab.set(ls);
  }
}

/**
 * Write samples [start, start + count) of predict's n into an eval program's `x`. A Float32Array
 * is checked after the copy, in the program's buffer (allFinite), and named by the JavaScript
 * check only when that fails; anything else was read once and checked (floatsOnce) by the caller
 * before the first chunk.
 */
export function writeSamples(exec: Executor, x: ArrayLike<number>, start: number, count: number, n: number, inputs: number): void {
  const buf = exec.input("x") as Float32Array;
  const f32 = x instanceof Float32Array;
  if (f32 && count === n) buf.set(x);
  else buf.set(ArrayBuffer.isView(x) ? (x as unknown as Float32Array).subarray(start * inputs, (start + count) * inputs)
    : Array.prototype.slice.call(x, start * inputs, (start + count) * inputs));
  if (f32 && !exec.allFinite("x")) {
    checkFloats(x, n * inputs, "x", `${n}×${inputs}`);
    changedWhileRead("x");
  }
}
