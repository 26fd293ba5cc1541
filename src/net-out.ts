/** Checks on the arrays a user hands a Net to fill (`out`), made before anything runs: a refused call changes nothing. */
import { InputError } from "../runtime/errors.js";
import { describeValue, overlaps } from "./validate.js";

/** Arrays `net.gradients` fills instead of allocating: one per parameter (keyed like params), and x's with `{ input: true }`. */
export interface GradientsOut {
  readonly grads: Record<string, Float32Array>;
  readonly inputGrad?: Float32Array;
}

/**
 * Whether an array shares its buffer with the network's own arrays (parameters, state, optimizer
 * buffers: its arena, when it has one): filling it would overwrite the model. The buffers are
 * collected on first use.
 */
export function ownMemory(arrays: () => readonly ArrayBufferView[]): (a: ArrayBufferView) => boolean {
  let own: Set<ArrayBufferLike> | undefined;
  return (a) => (own ??= new Set(arrays().map((v) => v.buffer))).has(a.buffer);
}

/**
 * gradients' `out`: an array of the right length for every parameter (and the input with
 * `input`), each its own, none of the network's memory, and nothing else.
 */
export function checkGradientsOut(out: GradientsOut, input: boolean, params: Readonly<Record<string, Float32Array>>, inputLength: number, isOwn: (a: ArrayBufferView) => boolean): void {
  const grads = (out as { grads?: unknown } | null)?.grads;
  if (typeof grads !== "object" || grads === null) throw new InputError(`gradients: out must be { grads: { <parameter>: Float32Array, … }${input ? ", inputGrad: Float32Array" : ""} }, got ${describeValue(out)}`);
  // A name that is no parameter first: a misspelt one ("0.weigth") is then named, not only the one it left missing.
  const extra = Object.keys(grads).filter((k) => !Object.hasOwn(params, k));
  if (extra.length) throw new InputError(`gradients: out.grads has no parameter ${extra.map((k) => `"${k}"`).join(", ")} (parameters: ${Object.keys(params).join(", ")})`);
  for (const [name, p] of Object.entries(params)) {
    const g = (grads as Record<string, unknown>)[name];
    if (!(g instanceof Float32Array) || g.length !== p.length) throw new InputError(`gradients: out.grads["${name}"] must be a Float32Array of ${p.length} values (the parameter's), got ${describeValue(g)}`);
  }
  if (input && (!(out.inputGrad instanceof Float32Array) || out.inputGrad.length !== inputLength)) throw new InputError(`gradients: out.inputGrad must be a Float32Array of ${inputLength} values (x's), got ${describeValue(out.inputGrad)}`);
  if (!input && out.inputGrad !== undefined) throw new InputError("gradients: out.inputGrad is filled only with { input: true }");
  // [parameter name (null: the input), array]; names are quoted only in a message.
  const all: (readonly [string | null, Float32Array])[] = Object.entries(grads as Record<string, Float32Array>);
  if (input) all.push([null, out.inputGrad!]);
  const label = (k: string | null) => (k === null ? "out.inputGrad" : `out.grads["${k}"]`);
  // Arrays sharing bytes (one array for two parameters, or overlapping views of one buffer: views
  // side by side, a flat gradient vector, are fine) would end up holding the last one written.
  const seen = new Map<Float32Array, string | null>(), byBuffer = new Map<ArrayBufferLike, (readonly [string | null, Float32Array])[]>();
  for (const e of all) {
    const first = seen.get(e[1]);
    if (first !== undefined) throw new InputError(`gradients: ${label(first)} and ${label(e[0])} are the same array; each needs its own`);
    seen.set(e[1], e[0]);
    const views = byBuffer.get(e[1].buffer);
    if (views) views.push(e); else byBuffer.set(e[1].buffer, [e]);
  }
  // Views of one buffer sorted by where they start: if any two overlap, two neighbours do.
  for (const views of byBuffer.values()) {
    if (views.length < 2) continue;
    views.sort((a, b) => a[1].byteOffset - b[1].byteOffset);
    for (let i = 1; i < views.length; i++) {
      const [a, ga] = views[i - 1]!, [b, gb] = views[i]!;
      if (overlaps(ga, gb)) throw new InputError(`gradients: ${label(a)} and ${label(b)} share memory (overlapping views of one buffer); each needs its own`);
    }
  }
  const own = all.find(([, g]) => isOwn(g));
  if (own) throw new InputError(`gradients: ${label(own[0])} is a view of the network's own memory (net.params, net.state, net.optimizerState); pass arrays of your own`);
}
