import { he, isInitializer, zeros, type Initializer } from "../init.js";
import { MAX_ELEMENTS } from "../../compiler/ir/graph.js";
import { ModelError } from "../../runtime/errors.js";
import type { Phase } from "../dsl/scope.js";
import type { T } from "../dsl/tensor.js";
import { checkFeatures } from "./check.js";
import { checkName } from "./fn.js";
import type { ParamDecl, UserLayerNode } from "./node.js";
import type { Sized } from "./sized.js";
import { knownOptions } from "../options.js";

export type UserLayer<In extends number, Out extends number> = UserLayerNode & Sized<In, Out>;

/** A parameter: its shape and initializer (default: he for a 2-D or larger shape, zeros below). */
export interface ParamOptions {
  readonly shape: readonly number[];
  readonly init?: Initializer;
}
/** A state buffer (saved and loaded with the parameters, not trained): shape and a constant initializer (default zeros). */
export interface StateOptions {
  readonly shape: readonly number[];
  readonly init?: Initializer;
}

/** What `apply` returns: the output, or the output and new values of some state buffers (kept in training only). */
export type ApplyResult<S extends string> = T | { readonly out: T; readonly state?: { readonly [K in S]?: T } };

export interface LayerOptions<In extends number, Out extends number, P extends string, S extends string> {
  /** Shown in errors and in the traced IR; any string (it is data, never code). */
  readonly name: string;
  readonly in: In;
  readonly out: Out;
  /** Parameters by name; each lands in `net.params` as "<layer path>.<name>". */
  readonly params?: { readonly [K in P]: ParamOptions };
  readonly state?: { readonly [K in S]: StateOptions };
  /**
   * [batch, in] → [batch, out], written with tensor expressions. compile traces it once per
   * program: `phase.training` is true for the train step and gradients, false for predict.
   */
  readonly apply: (p: { readonly [K in P]: T }, x: T, s: { readonly [K in S]: T }, phase: Phase) => ApplyResult<S>;
}

/**
 * A layer with its own parameters, written with tensor expressions. `in`/`out` take part in
 * `seq`'s shape check like linear's; `apply` must return [batch, out] (checked by compile).
 * Fans for the initializer are PyTorch's: fan_in = shape[1]·∏shape[2:], fan_out = shape[0]·∏shape[2:].
 * @example
 * const scale = (n: number) => layer({ name: "scale", in: n, out: n,
 *   params: { gain: { shape: [n], init: init.ones() } }, apply: (p, x) => x.mul(p.gain) });
 */
export function layer<In extends number, Out extends number, P extends string = never, S extends string = never>(
  opts: LayerOptions<In, Out, P, S>,
): UserLayer<In, Out> {
  if (typeof opts !== "object" || opts === null) throw new ModelError(`layer: expected options { name, in, out, params, apply }, got ${String(opts)}`);
  const name = checkName("layer", opts.name);
  const what = `layer ${JSON.stringify(name)}`;
  knownOptions(what, opts, ["name", "in", "out", "params", "state", "apply"]);
  const n = checkFeatures(`${what} in`, opts.in), m = checkFeatures(`${what} out`, opts.out);
  if (typeof opts.apply !== "function") throw new ModelError(`${what}: apply must be a function (params, x) => tensor expression, got ${typeof opts.apply}`);
  const params = decls(`${what} params`, opts.params, (shape) => (shape.length >= 2 ? he() : zeros()), false);
  const state = decls(`${what} state`, opts.state, () => zeros(), true);
  for (const k of Object.keys(state)) if (Object.hasOwn(params, k)) throw new ModelError(`${what}: ${JSON.stringify(k)} is both a parameter and a state buffer`);
  return Object.freeze({
    kind: "layer" as const, name, in: n, out: m, params, state,
    apply: opts.apply as UserLayerNode["apply"],
  }) as UserLayer<In, Out>;
}

function decls(what: string, given: unknown, dflt: (shape: readonly number[]) => Initializer, constantOnly: boolean): Readonly<Record<string, ParamDecl>> {
  if (given === undefined) return Object.freeze({});
  if (typeof given !== "object" || given === null || Array.isArray(given)) throw new ModelError(`${what} must be an object { name: { shape, init? } }, got ${String(given)}`);
  const out: Record<string, ParamDecl> = {};
  for (const [k, d] of Object.entries(given)) {
    // Any non-empty key: the layer's path in front keeps names unique (a layer has no children).
    if (k === "") throw new ModelError(`${what}: a name must be non-empty`);
    knownOptions(`${what}.${k}`, d, ["shape", "init"]);
    const shape = (d as { shape?: unknown } | null)?.shape;
    if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 1)) {
      throw new ModelError(`${what}.${k}: shape must be an array of positive integers, got ${JSON.stringify(shape)}`);
    }
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    if (count > MAX_ELEMENTS) throw new ModelError(`${what}.${k}: shape [${shape.join(",")}] has ${count} elements; one tensor holds at most ${MAX_ELEMENTS}`);
    const init = (d as { init?: unknown }).init ?? dflt(shape);
    if (!isInitializer(init)) {
      throw new ModelError(`${what}.${k}: init must be an initializer (init.he(), init.zeros(), …), got ${String(init)}`);
    }
    if (constantOnly && (init.kind !== "constant" || typeof init.params?.value !== "number")) {
      throw new ModelError(`${what}.${k}: a state buffer starts constant: init must be init.zeros() or init.ones(), got ${init.label}`);
    }
    out[k] = Object.freeze({ shape: Object.freeze([...shape] as number[]), init });
  }
  return Object.freeze(out);
}

/** PyTorch's fans of a parameter shape (torch.nn.init._calculate_fan_in_and_fan_out); 1-D: its length both ways. */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0]!, shape[0]!];
  const field = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1]! * field, shape[0]! * field];
}
