/**
 * Net.predict: the eval program over any number of samples, in chunks of EVAL_CHUNK (or all at
 * once for a model whose user code mixes the samples), validated on the way in.
 */
import { InputError } from "../runtime/errors.js";
import { writeSamples } from "./batch-input.js";
import type { NetParts } from "./net-parts.js";
import type { NetPrograms } from "./net-programs.js";
import { batchOf, describeValue, floatsOnce, overlaps } from "./validate.js";

/** Largest eval chunk: bigger inputs to `predict` are processed in pieces of this many samples. */
const EVAL_CHUNK = 1024;

/** The outputs of n = x.length / inputs samples, into `out` when given; `step` names a checked run's failure. */
export function predictSamples(parts: NetParts, programs: NetPrograms, isOwnMemory: (a: ArrayBufferView) => boolean, step: number,
  x: ArrayLike<number>, out?: Float32Array): Float32Array {
  const { inputs } = parts.trace, width = parts.outputs;
  const n = batchOf(x, inputs);
  if (out !== undefined && (!(out instanceof Float32Array) || out.length !== n * width)) {
    throw new InputError(`predict: out must be a Float32Array of ${n * width} values (${n} samples × ${width} outputs), got ${describeValue(out)}`);
  }
  if (out !== undefined && isOwnMemory(out)) throw new InputError("predict: out is a view of the network's own memory (net.params, net.state, net.optimizerState); pass an array of your own");
  // A Float32Array is checked after the copy, in the program's buffer (allFinite); anything else
  // first, read once (floatsOnce). Either way a non-finite value is named by its index.
  // Messages are built only on failure.
  const f32 = x instanceof Float32Array;
  let xs = f32 ? x : floatsOnce(x, n * inputs, "x", `${n}×${inputs}`);
  // An out over x's own bytes (predict(x, x)) would overwrite the samples of later chunks
  // before they are read: x is read into a copy first.
  if (out !== undefined && ArrayBuffer.isView(xs) && overlaps(xs, out)) xs = (xs as unknown as Float32Array).slice();
  const result = out ?? new Float32Array(n * width);
  // A model whose user code mixes the samples (compiler/ir/samples.ts) sees all of them at once.
  const chunk = n > EVAL_CHUNK && programs.mixesSamples(EVAL_CHUNK) ? n : EVAL_CHUNK;
  // Several chunks of a Float32Array: each copied and checked before any is run, so a bad value
  // in a later chunk leaves `out` untouched (one more copy: a JavaScript pass over all of x
  // cost 11 of 62 ms for 10,000 MNIST-sized samples).
  if (f32 && n > chunk) for (let start = 0; start < n; start += chunk) writeSamples(programs.eval(Math.min(chunk, n - start)), xs, start, Math.min(chunk, n - start), n, inputs);
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    const exec = programs.eval(count);
    writeSamples(exec, xs, start, count, n, inputs);
    programs.run(exec, step, start, count);
    result.set(exec.output("logits") as Float32Array, start * width);
  }
  return result;
}
