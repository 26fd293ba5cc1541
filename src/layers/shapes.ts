/**
 * Shape checking of model expressions, twice: in the type checker (while the user types) and at
 * run time (when `seq()` / `residual()` build the model), with the same wording both times.
 *
 * Type level. Every layer type is classified by `SizesOf`:
 *   - it carries `Sized<In, Out>` (./sized.ts)          → [In, Out]
 *   - it is a marker (relu, dropout, a pass-through seq) → `Pass`: the size walks through
 *   - anything else (a plain `LayerNode`)               → [number, number]: unknown, run-time only
 * `number` (a size that widened, e.g. `{ hidden: 256 }.hidden`) always fits, so the check falls
 * back to run time instead of failing.
 *
 * The walk over `seq`'s arguments is tail recursive (the recursive call is the whole branch and
 * state is carried in accumulators), so tsc evaluates it as a loop (up to 1000 steps) instead of
 * nesting instantiations, which dies with TS2589 near 50 layers.
 *
 * Errors land on the offending argument through an F-bounded rest parameter,
 * `seq<L extends SeqArgs<L>>(...layers: L)`: `SeqArgs<L>` is L itself with every misfit replaced
 * by a string-literal message. When L does not satisfy its bound, tsc uses the bound as L, so the
 * parameter list becomes a fixed tuple and each argument is compared with its own element: the
 * offending one is "not assignable to parameter of type '"seq argument 3 expects 128 …"'".
 */
import { ModelError } from "../../runtime/errors.js";
import type { LayerNode, ResidualNode, SeqNode } from "./node.js";
import type { Sized, sizes } from "./sized.js";

// ───────────────────────────── type level ─────────────────────────────

/** Phantom mark of a combinator that passes its input size through (a seq of relu/dropout only). */
export declare const passes: unique symbol;
export interface PassThrough {
  /** Never present at run time. */
  readonly [passes]?: true;
}

/** The classification of a layer that has no feature sizes of its own. */
export type Pass = "pass";

/** [In, Out] of a layer type, `Pass` for shape-preserving markers; see the header. */
export type SizesOf<L> =
  typeof sizes extends keyof L ? (L[typeof sizes] extends { readonly in: infer A; readonly out: infer B } | undefined ? [A, B] : never)
  : [L] extends [{ readonly kind: "relu" | "dropout" }] ? Pass
  : typeof passes extends keyof L ? Pass
  : [number, number];

/** Does an output of size P feed an input of size A? `unknown` = nothing known yet. */
export type Fits<P, A> = unknown extends P ? true : number extends P ? true : number extends A ? true : [P] extends [A] ? true : false;

/** The message shared by tsc and the run-time check (argument numbers are 0-based, as `seq[3]`). */
export type SeqMismatch<I extends number, Expects, Got> =
  `seq argument ${I} expects ${Expects & number} features, but previous layer outputs ${Got & number}`;
export type ResidualMismatch<In, Out> =
  `residual expects its function to map N features to N, but it maps ${In & number} to ${Out & number}`;

/**
 * `seq`'s arguments with every misfit replaced by its message (non-layers by `LayerNode`).
 * `Prev` is the size flowing out of the layers so far; `Acc["length"]` is the current index.
 * After a misfit the walk continues from the misfit's own output, so one error is reported once.
 */
export type SeqArgs<L extends readonly unknown[]> =
  number extends L["length"] ? L : L extends readonly [] ? [layer: LayerNode] : WalkArgs<L, unknown, []>;
type WalkArgs<L extends readonly unknown[], Prev, Acc extends unknown[]> =
  Acc["length"] extends L["length"] ? Acc
  : L[Acc["length"]] extends infer H
    ? [H] extends [LayerNode]
      ? SizesOf<H> extends [infer A, infer B]
        ? WalkArgs<L, B, [...Acc, Fits<Prev, A> extends true ? H : SeqMismatch<Acc["length"], A, Prev>]>
        : WalkArgs<L, Prev, [...Acc, H]>
      : WalkArgs<L, Prev, [...Acc, LayerNode]>
    : never;

/** First known input size and last known output size of the arguments, or `Pass` if none. */
type Ends<L extends readonly unknown[], First, Last, I extends 0[] = []> =
  I["length"] extends L["length"] ? (unknown extends First ? Pass : [First, Last])
  : SizesOf<L[I["length"]]> extends [infer A, infer B] ? Ends<L, unknown extends First ? A : First, B, [...I, 0]>
  : Ends<L, First, Last, [...I, 0]>;

/** A seq with known sizes; `seq(...)` returns one, so a seq can be nested and checked again. */
export type Seq<In extends number, Out extends number> = SeqNode & Sized<In, Out>;
/** A residual block y = x + f(x) over N features. */
export type Residual<N extends number> = ResidualNode & Sized<N, N>;

/** The type `seq(...layers)` returns. A spread of an untyped array has unknown sizes. */
export type SeqOf<L extends readonly unknown[]> =
  number extends L["length"] ? Seq<number, number>
  : Ends<L, unknown, unknown> extends [infer A extends number, infer B extends number] ? Seq<A, B>
  : SeqNode & PassThrough;

/** `residual`'s argument if f maps N → N (or sizes are not literal), else the message. */
export type ResidualArg<F> =
  [F] extends [LayerNode]
    ? SizesOf<F> extends [infer A, infer B] ? Fits<A, B> extends true ? Fits<B, A> extends true ? F : ResidualMismatch<A, B> : ResidualMismatch<A, B> : F
    : LayerNode;

/** The type `residual(f)` returns: N → N with the literal N when one side knows it. */
export type ResidualOf<F> =
  SizesOf<F> extends [infer A extends number, infer B extends number]
    ? Residual<number extends A ? B : A>
    : ResidualNode & PassThrough;

// ───────────────────────────── run time ─────────────────────────────

const KINDS: ReadonlySet<string> = new Set<LayerNode["kind"]>(["linear", "relu", "dropout", "layerNorm", "batchNorm", "residual", "seq"]);

/** What came instead of a layer, for messages: `number 5`, `function linear (call it: …)`. */
export function describeArgument(x: unknown): string {
  if (typeof x === "function") return `function ${x.name || "(anonymous)"} (a layer is a value: call it, e.g. linear(784, 256))`;
  if (Array.isArray(x)) return `an array of ${x.length} items (spread it: seq(...layers))`;
  if (typeof x === "object" && x !== null) {
    const kind = (x as { kind?: unknown }).kind;
    return kind === undefined ? "an object without a kind" : `an object of unknown kind ${JSON.stringify(kind) ?? String(kind)}`;
  }
  return typeof x === "string" ? `string ${JSON.stringify(x)}` : `${typeof x} ${String(x)}`;
}

/**
 * `x` as a layer, or a ModelError naming `what` and what came. The fields that `features()` and
 * `describe()` read are checked too, so a hand-made object from JS cannot give a wrong size.
 */
export function asLayer(what: string, x: unknown): LayerNode {
  const problem = layerProblem(x);
  if (problem !== null) throw new ModelError(`${what} must be a layer (linear, relu, dropout, layerNorm, batchNorm, residual or seq), got ${problem}`);
  return x as LayerNode;
}

function layerProblem(x: unknown): string | null {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return describeArgument(x);
  const node = x as Record<string, unknown>;
  if (typeof node.kind !== "string" || !KINDS.has(node.kind)) return describeArgument(x);
  const size = (key: string) => (Number.isInteger(node[key]) && (node[key] as number) >= 1 ? null : `a ${String(node.kind)} whose ${key} is ${String(node[key])}`);
  switch (node.kind as LayerNode["kind"]) {
    case "linear": return size("in") ?? size("out");
    case "layerNorm": case "batchNorm": return size("n");
    case "relu": case "dropout": return null;
    case "residual": {
      const inner = layerProblem(node.fn);
      return inner === null ? null : `a residual whose fn is ${inner}`;
    }
    case "seq": {
      if (!Array.isArray(node.layers) || node.layers.length === 0) return "a seq without layers";
      const bad = node.layers.findIndex((l) => layerProblem(l) !== null);
      return bad < 0 ? null : `a seq whose layers[${bad}] is ${layerProblem(node.layers[bad])}`;
    }
  }
}
