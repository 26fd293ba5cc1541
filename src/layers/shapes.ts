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
 * The walks over `seq`'s arguments are tail recursive (the recursive call is the whole branch,
 * state rides in accumulators), so tsc runs them as loops instead of nesting instantiations,
 * which dies with TS2589 near 50 layers; they count with a lookup table, so they are O(n).
 *
 * Errors land on the offending argument: `seq<L>(...layers: SeqArgs<L>)`. tsc infers L from the
 * arguments through the branch of `SeqArgs` that is L itself, then checks every argument against
 * its own element of the fixed tuple `SeqArgs<L>`, which is L with each misfit replaced by a
 * string-literal message. So the offending argument, and only it, "is not assignable to parameter
 * of type '"seq argument 3 expects 128 features, but previous layer outputs 256"'".
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
  0 extends 1 & L ? [number, number] // L is `any`
  : typeof sizes extends keyof L ? (L[typeof sizes] extends { readonly in: infer A; readonly out: infer B } | undefined ? [A, B] : never)
  : [L] extends [{ readonly kind: "relu" | "dropout" | "fn" }] ? Pass
  : typeof passes extends keyof L ? Pass
  : [number, number];

/**
 * Does an output of size P feed an input of size A? Yes if they are equal or either is `number`.
 * Sizes are compared inside a `Box`, never bare: a conditional type that tests a bare type
 * parameter (`N` in `function block<N extends number>(n: N)`) is deferred, and a deferred test
 * rejects every argument. Boxed, tsc decides by assignability, so N fits N. N against anything
 * else (a literal, `number`, another parameter) stays undecidable there and is an error: inside
 * such helpers, sizes that are not the same parameter should be typed `number` (run-time check).
 */
export type Fits<P, A> = Box<P> extends Box<A> ? true : Box<number> extends Box<P> ? true : false;
interface Box<T> { readonly v: T }

/** The message shared by tsc and the run-time check (argument numbers are 0-based, as `seq[3]`). */
export type SeqMismatch<I extends number, Expects, Got> =
  `seq argument ${I} expects ${Expects & number} features, but previous layer outputs ${Got & number}`;
export type ResidualMismatch<In, Out> =
  `residual expects its function to map N features to N, but it maps ${In & number} to ${Out & number}`;

/**
 * Successor table: `Succ[i]` is i + 1, for i < 767. The walks below count with it because
 * counting with a tuple (`[...I, 0]`) rebuilds an i-element tuple at step i, O(n²) for n layers
 * (0.5 s at 500); a lookup is O(1). Built once by doubling. A walk over n layers takes n + 1
 * steps and tsc allows a tail-recursive conditional type 1000, so longer seqs (767+ literal
 * arguments) are left to the run-time check.
 */
type Double<T extends unknown[]> = [...T, ...T];
type Zeros256 = Double<Double<Double<Double<Double<Double<Double<Double<[0]>>>>>>>>;
type IndicesOf<T> = { [K in keyof T]: K extends `${infer N extends number}` ? N : never };
type Succ = IndicesOf<[...Zeros256, ...Zeros256, ...Zeros256]> extends [unknown, ...infer R extends number[]] ? R : never;
/** Can the walks count through a tuple of length N? (No for `number`, the length of an array.) */
type Walkable<N extends number> = [N] extends [Succ[number]] ? true : false;

/**
 * The misfits among `seq`'s arguments, as a union of [index, message] pairs (`never` if none).
 * `Prev` is [the size flowing out of the layers so far], `[]` before the first sized one (a tuple,
 * so that testing it never depends on what the size is; see `Fits`).
 * After a misfit the walk continues from the misfit's own output, so each mistake is reported once.
 */
type Misfits<L extends readonly unknown[], I extends number, Prev, Errs> =
  I extends L["length"] ? Errs
  : [L[I]] extends [LayerNode]
    ? SizesOf<L[I]> extends [infer A, infer B]
      ? Misfits<L, Succ[I], [B], Prev extends [infer P] ? (Fits<P, A> extends true ? Errs : Errs | [`${I}`, SeqMismatch<I, A, P>])
        : Errs>
      : Misfits<L, Succ[I], Prev, Errs>
    : Misfits<L, Succ[I], Prev, Errs | [`${I}`, LayerNode]>;

/** L with the element at each misfit's index replaced by its message (a homomorphic map keeps L a tuple). */
type Marked<L extends readonly unknown[], Errs extends [string, unknown]> =
  { [K in keyof L]: K extends Errs[0] ? Extract<Errs, [K, unknown]>[1] : L[K] };

/**
 * The parameter list `seq` accepts for arguments L: L itself if every neighbour fits, else L with
 * messages at the misfits. An untyped array (`seq(...layers)`) is left to the run-time check.
 * Zero arguments become one missing parameter ("Expected 1 arguments, but got 0").
 */
export type SeqArgs<L extends readonly unknown[]> =
  L extends readonly [] ? [layer: LayerNode]
  : Walkable<L["length"]> extends false ? L
  : Misfits<L, 0, [], never> extends infer E extends [string, unknown] ? ([E] extends [never] ? L : Marked<L, E>) : L;

/** [first known input size, last known output size] of the arguments, or `Pass` if none. */
type Ends<L extends readonly unknown[], I extends number, Found> =
  I extends L["length"] ? (Found extends [unknown, unknown] ? Found : Pass)
  : SizesOf<L[I]> extends [infer A, infer B] ? Ends<L, Succ[I], Found extends [infer First, unknown] ? [First, B] : [A, B]>
  : Ends<L, Succ[I], Found>;

/** A seq with known sizes; `seq(...)` returns one, so a seq can be nested and checked again. */
export type Seq<In extends number, Out extends number> = SeqNode & Sized<In, Out>;
/** A residual block y = x + f(x) over N features. */
export type Residual<N extends number> = ResidualNode & Sized<N, N>;

/** The type `seq(...layers)` returns. A spread of an untyped array has unknown sizes. */
export type SeqOf<L extends readonly unknown[]> =
  Walkable<L["length"]> extends false ? Seq<number, number>
  : Ends<L, 0, []> extends [infer A extends number, infer B extends number] ? Seq<A, B>
  : SeqNode & PassThrough;

/** `residual`'s argument if f maps N → N (or sizes are not literal), else the message. */
export type ResidualArg<F> =
  [F] extends [LayerNode]
    ? SizesOf<F> extends [infer A, infer B] ? (Fits<A, B> extends true ? F : ResidualMismatch<A, B>) : F
    : LayerNode;

/** The type `residual(f)` returns: N → N, N the input size unless only the output size is literal
 * (x + f(x) has x's size, also when f is wrong and has been reported). */
export type ResidualOf<F> =
  SizesOf<F> extends [infer A extends number, infer B extends number]
    ? Residual<Box<A> extends Box<B> ? A : Box<number> extends Box<A> ? B : A>
    : ResidualNode & PassThrough;

// ───────────────────────────── run time ─────────────────────────────

const KINDS: ReadonlySet<string> = new Set<LayerNode["kind"]>(["linear", "relu", "dropout", "layerNorm", "batchNorm", "residual", "seq", "fn", "layer", "concat"]);

/** What came instead of a layer, for messages: `number 5`, `function linear (call it: …)`. */
function describeArgument(x: unknown): string {
  if (typeof x === "function") return `function ${x.name || "(anonymous)"} (a layer is a value: call it, e.g. linear(784, 256))`;
  if (Array.isArray(x)) return `an array of ${x.length} items (spread it: seq(...layers))`;
  if (typeof x === "object" && x !== null) {
    const kind = (x as { kind?: unknown }).kind;
    if (kind === undefined) return "an object without a kind";
    return `an object of unknown kind ${typeof kind === "string" ? JSON.stringify(kind) : `${typeof kind} ${String(kind)}`}`;
  }
  if (x === undefined || x === null) return String(x);
  return typeof x === "string" ? `string ${JSON.stringify(x)}` : `${typeof x} ${String(x)}`;
}

/**
 * `x` as a layer, or a ModelError naming `what` and what came. The fields that `features()` reads
 * are checked too, so a hand-made object from JS cannot give a wrong size here;
 * sizes between the layers of a hand-made `{ kind: "seq" }` are checked again when compile() traces.
 * @example asLayer("seq argument 0", 5) // throws ModelError "seq argument 0 must be a layer (…), got number 5"
 */
export function asLayer(what: string, x: unknown): LayerNode {
  const problem = layerProblem(x);
  if (problem !== null) throw new ModelError(`${what} must be a layer (linear, relu, dropout, layerNorm, batchNorm, residual, seq, fn, layer or concat), got ${problem}`);
  return x as LayerNode;
}

function layerProblem(x: unknown): string | null {
  // An activation that is also callable (gelu, leakyRelu) is a function with a kind.
  const callableFn = typeof x === "function" && (x as { kind?: unknown }).kind === "fn";
  if (!callableFn && (typeof x !== "object" || x === null || Array.isArray(x))) return describeArgument(x);
  const node = x as Record<string, unknown>;
  if (typeof node.kind !== "string" || !KINDS.has(node.kind)) return describeArgument(x);
  const size = (key: string) => (Number.isInteger(node[key]) && (node[key] as number) >= 1 ? null : `a ${String(node.kind)} whose ${key} is ${String(node[key])}`);
  switch (node.kind as LayerNode["kind"]) {
    case "linear": return size("in") ?? size("out");
    case "layerNorm": case "batchNorm": return size("n");
    case "relu": case "dropout": return null;
    case "fn": return typeof node.f === "function" && typeof node.name === "string" ? null : "an fn without a function or a name";
    case "layer": return size("in") ?? size("out") ?? (typeof node.apply === "function" ? null : "a layer without apply");
    case "concat": {
      if (!Array.isArray(node.branches) || node.branches.length === 0) return "a concat without branches";
      const bad = node.branches.findIndex((l) => layerProblem(l) !== null);
      return bad < 0 ? null : `a concat whose branches[${bad}] is ${layerProblem(node.branches[bad])}`;
    }
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
