import { ModelError } from "../../runtime/errors.js";
import { describe, features, type ConcatNode, type LayerNode } from "./node.js";
import { asLayer, type Fits, type SizesOf } from "./shapes.js";
import type { Sized } from "./sized.js";

// ───────────── type level: the summed width, and branches whose inputs disagree ─────────────

/** Decimal addition of two literal sizes on their digit strings (any size, no tuple limits). */
type Rev<S extends string, Acc extends string = ""> = S extends `${infer H}${infer R}` ? Rev<R, `${H}${Acc}`> : Acc;
type Ones = [[], [0], [0, 0], [0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0]];
type DigitOf = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
type CarryOf = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
type Head<S extends string> = S extends `${infer D extends keyof Ones & `${number}`}${string}` ? D : "0";
type Tail<S extends string> = S extends `${string}${infer R}` ? R : "";
type DigitSum<A extends string, B extends string, C extends number> =
  [...Ones[Head<A> & keyof Ones], ...Ones[Head<B> & keyof Ones], ...Ones[C & keyof Ones]]["length"];
/** Digits least significant first; Acc is the result, most significant first. */
type AddRev<A extends string, B extends string, C extends number, Acc extends string> =
  A extends "" ? (B extends "" ? (C extends 1 ? `1${Acc}` : Acc) : AddStep<A, B, C, Acc>) : AddStep<A, B, C, Acc>;
type AddStep<A extends string, B extends string, C extends number, Acc extends string> =
  DigitSum<A, B, C> extends infer S extends number
    ? AddRev<Tail<A>, Tail<B>, CarryOf[S & keyof CarryOf], `${DigitOf[S & keyof DigitOf]}${Acc}`>
    : never;
/** A + B for literal sizes; `number` if either is not a literal. */
export type Add<A, B> =
  [A, B] extends [infer X extends number, infer Y extends number]
    ? number extends X | Y ? number
    : AddRev<Rev<`${X}`>, Rev<`${Y}`>, 0, ""> extends `${infer N extends number}` ? N : number
    : number;

/** The first literal input size among the branches (`number` if none). */
type InputOf<L extends readonly unknown[]> =
  L extends readonly [infer H, ...infer R] ? (SizesOf<H> extends [infer A, unknown] ? A : InputOf<R>) : number;

/** Σ of the branches' output widths; a pass-through branch outputs the input width. */
type Widths<L extends readonly unknown[], In, Acc> =
  L extends readonly [infer H, ...infer R]
    ? Widths<R, In, Add<Acc, SizesOf<H> extends [unknown, infer B] ? B : In>>
    : Acc;

export type ConcatMismatch<I extends number | string, Expects, Got> =
  `concat branch ${I} expects ${Expects & number} features, but the branches before it expect ${Got & number}`;

/** Indices of the branches whose input size disagrees with the first known one. */
type Misfits<L extends readonly unknown[]> = {
  [K in keyof L]: SizesOf<L[K]> extends [infer A, unknown] ? (Fits<InputOf<L>, A> extends true ? never : K) : never
}[number];

/**
 * The parameter list concat accepts: L itself when the branches agree (tsc infers L through this
 * branch, as for seq), else L with each misfit replaced by its message, so the error lands there.
 */
export type ConcatArgs<L extends readonly unknown[]> =
  [Misfits<L>] extends [never] ? L
  : { [K in keyof L]: K extends Misfits<L> ? ConcatMismatch<K & string, SizesOf<L[K]> extends [infer A, unknown] ? A : never, InputOf<L>> : L[K] };

/** concat's type: input the branches' common size, output the sum of their widths. */
export type Concat<In extends number, Out extends number> = ConcatNode & Sized<In, Out>;
export type ConcatOf<L extends readonly unknown[]> =
  Widths<L, InputOf<L>, 0> extends infer W extends number ? Concat<InputOf<L> & number, W> : Concat<number, number>;

/**
 * Branches fed the same input, their outputs concatenated on the feature axis (torch.cat(…, 1)).
 * With literal sizes the type carries the summed width (so `seq` checks what follows); every
 * branch's input size must agree. Parameters are named "<concat path>.<branch index>.<…>".
 * @example concat(seq(linear(64, 32), tanh), seq(linear(64, 16), swish))   // 64 → 48 features
 */
export function concat<L extends readonly unknown[]>(...branches: ConcatArgs<L>): ConcatOf<L>;
export function concat(...branches: readonly unknown[]): ConcatNode {
  if (branches.length === 0) throw new ModelError("concat needs at least one branch, got none");
  const nodes: LayerNode[] = branches.map((b, i) => asLayer(`concat argument ${i}`, b));
  let first: [number, number] | null = null;
  nodes.forEach((node, i) => {
    const want = features(node).in;
    if (want === null) return;
    if (first !== null && want !== first[1]) {
      throw new ModelError(`concat[${i}] ${describe(node)}: concat branch ${i} expects ${want} features, but the branches before it expect ${first[1]}`);
    }
    first ??= [i, want];
  });
  return Object.freeze({ kind: "concat" as const, branches: Object.freeze(nodes) });
}
