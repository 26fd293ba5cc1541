/**
 * Models that must type-check, and the types they get. Type-checked by the project's
 * `tsc --noEmit`; never run (the values are built at module level only for their types).
 */
import { batchNorm } from "../../src/layers/batchNorm.js";
import { dropout } from "../../src/layers/dropout.js";
import { layerNorm } from "../../src/layers/layerNorm.js";
import { linear } from "../../src/layers/linear.js";
import type { LayerNode } from "../../src/layers/node.js";
import { relu } from "../../src/layers/relu.js";
import { residual } from "../../src/layers/residual.js";
import { seq } from "../../src/layers/seq.js";
import type { PassThrough, Residual, Seq, SeqArgs, SizesOf } from "../../src/layers/shapes.js";
import type { ResidualNode, SeqNode } from "../../src/layers/node.js";
import type { Linear } from "../../src/layers/linear.js";
import type { Equal, Expect } from "./assert.js";

// The model: the result is itself sized, so it can be nested and checked again.
const mlp = seq(
  linear(784, 256), layerNorm(256), relu, dropout(0.1),
  residual(seq(linear(256, 256), batchNorm(256), relu)),
  linear(256, 10),
);
export type T1 = Expect<Equal<typeof mlp, Seq<784, 10>>>;
export const nested = seq(mlp, relu, linear(10, 2));
export type T2 = Expect<Equal<typeof nested, Seq<784, 2>>>;

// A seq may start (or end) with pass-through layers; its sizes are the first/last known ones.
export const startsWithRelu = seq(relu, linear(784, 256));
export const startsWithDropout = seq(dropout(0.2), linear(784, 256), relu, dropout(0.5));
export type T3 = Expect<Equal<typeof startsWithRelu, Seq<784, 256>>>;
export type T4 = Expect<Equal<typeof startsWithDropout, Seq<784, 256>>>;

// Only pass-through layers: the seq is pass-through, and the size walks through it when nested.
const act = seq(relu, dropout(0.1));
export type T5 = Expect<Equal<typeof act, SeqNode & PassThrough>>;
export type T6 = Expect<Equal<SizesOf<typeof act>, "pass">>;
export const throughAct = seq(linear(784, 256), act, seq(act, relu), linear(256, 10));
export type T7 = Expect<Equal<typeof throughAct, Seq<784, 10>>>;

// residual: N → N keeps N; a pass-through function stays pass-through.
export const block = residual(seq(linear(256, 128), relu, linear(128, 256)));
export type T8 = Expect<Equal<typeof block, Residual<256>>>;
export const resAct = residual(relu);
export type T9 = Expect<Equal<typeof resAct, ResidualNode & PassThrough>>;
export const inSeq = seq(resAct, linear(3, 4), residual(act), residual(layerNorm(4)), linear(4, 1));
export type T10 = Expect<Equal<typeof inSeq, Seq<3, 1>>>;

// Sizes that widened to `number` fall back to the run-time check instead of failing.
const cfg = { hidden: 256, classes: 10 };
export const widened = seq(linear(784, cfg.hidden), layerNorm(cfg.hidden), relu, linear(256, cfg.classes), linear(10, 2));
export type T11 = Expect<Equal<typeof widened, Seq<784, 2>>>;
export const widenedFirst = seq(layerNorm(cfg.hidden), linear(256, 10));
export type T12 = Expect<Equal<typeof widenedFirst, Seq<number, 10>>>;
export const widenedResidual = residual(seq(linear(cfg.hidden, 256), relu));
export type T13 = Expect<Equal<typeof widenedResidual, Residual<256>>>;
function sized(n: number) {
  return seq(linear(n, 2 * n), relu, linear(2 * n, n));
}
export const fromFunction = seq(linear(8, 16), sized(16), residual(sized(16)));

// Helpers generic over sizes: a size that is the same type parameter on both sides fits.
function genericBlock<N extends number>(n: N) {
  return residual(seq(layerNorm(n), linear(n, 4 * n), relu, linear(4 * n, n)));
}
function widen<N extends number, M extends number>(n: N, m: M) {
  return seq(linear(n, m), relu, dropout(0.1), linear(m, n));
}
export const fromGenerics = seq(linear(784, 256), genericBlock(256), widen(256, 1024), linear(256, 10));
export type T18 = Expect<Equal<ReturnType<typeof genericBlock<256>>, Residual<256>>>;
export type T19 = Expect<Equal<typeof fromGenerics, Seq<784, 10>>>;

// Plain LayerNode values (e.g. built from JSON) have unknown sizes: run-time check only.
declare const anyLayer: LayerNode;
export const unknownSizes = seq(linear(3, 4), anyLayer, linear(5, 6));
declare const untyped: any;
export const withAny = seq(untyped, linear(3, 4));
export type T20 = Expect<Equal<typeof withAny, Seq<number, 4>>>;
declare const many: LayerNode[];
export const spread = seq(...many);
export type T14 = Expect<Equal<typeof spread, Seq<number, number>>>;
export const spreadTuple = seq(...([linear(3, 4), relu, linear(4, 5)] as const));
export type T15 = Expect<Equal<typeof spreadTuple, Seq<3, 5>>>;

// The parameter type SeqArgs is the arguments themselves when they fit, the message where not.
export type T16 = Expect<Equal<SeqArgs<[Linear<1, 2>, typeof relu, Linear<2, 3>]>, [Linear<1, 2>, typeof relu, Linear<2, 3>]>>;
export type T17 = Expect<Equal<
  SeqArgs<[Linear<1, 2>, typeof relu, Linear<3, 4>, Linear<5, 6>]>,
  [Linear<1, 2>, typeof relu, "seq argument 2 expects 3 features, but previous layer outputs 2", "seq argument 3 expects 5 features, but previous layer outputs 4"]
>>;
