/**
 * The open DSL's types (issue 10): `fn` and the activations pass sizes through like relu,
 * `layer` carries its in/out, `concat` the summed width of its branches. Type-checked by the
 * project's `tsc --noEmit`; never run.
 */
import { gelu, leakyRelu, sigmoid, silu, tanh } from "../../src/layers/activations.js";
import { concat, type Add, type Concat } from "../../src/layers/concat.js";
import { fn } from "../../src/layers/fn.js";
import { layer, type UserLayer } from "../../src/layers/layer.js";
import { linear } from "../../src/layers/linear.js";
import { relu } from "../../src/layers/relu.js";
import { residual } from "../../src/layers/residual.js";
import { seq } from "../../src/layers/seq.js";
import type { Residual, Seq, SizesOf } from "../../src/layers/shapes.js";
import { glu } from "../../examples/models/dsl.js";
import type { Equal, Expect } from "./assert.js";

const swish = fn("swish", (x) => x.mul(x.sigmoid()));
export type D1 = Expect<Equal<SizesOf<typeof swish>, "pass">>;
export type D2 = Expect<Equal<SizesOf<typeof gelu>, "pass">>;
export type D3 = Expect<Equal<SizesOf<ReturnType<typeof leakyRelu>>, "pass">>;

export type D4 = Expect<Equal<ReturnType<typeof glu>, UserLayer<number, number>>>;

// A layer with literal sizes is typed by them, and apply sees its parameters by name.
const wide = layer({
  name: "wide", in: 10, out: 20,
  params: { w: { shape: [20, 10] } },
  apply: (p, x) => x.matmul(p.w, { transposeB: true }),
});
export type D5 = Expect<Equal<typeof wide, UserLayer<10, 20>>>;

// concat: the summed width, also past a pass-through branch (its width is the input's).
const two = concat(seq(linear(64, 32), tanh), seq(linear(64, 16), swish));
export type D6 = Expect<Equal<typeof two, Concat<64, 48>>>;
const withPass = concat(linear(8, 3), relu, seq(sigmoid, linear(8, 5)));
export type D7 = Expect<Equal<typeof withPass, Concat<8, 16>>>;
// Widths add as decimal numbers, carries and all.
export type D8 = Expect<Equal<Add<999, 1>, 1000>>;
export type D9 = Expect<Equal<Add<4096, 12288>, 16384>>;
export type D10 = Expect<Equal<Add<number, 3>, number>>;

// The model: 20 → 1, with every new kind of layer checked by seq.
export const model = seq(
  linear(20, 64), gelu, concat(seq(linear(64, 32), tanh), seq(linear(64, 16), swish)),
  glu(48), leakyRelu(0.1), linear(48, 1),
);
export type D11 = Expect<Equal<typeof model, Seq<20, 1>>>;
export const literal = seq(linear(5, 10), wide, silu, linear(20, 2), residual(seq(linear(2, 2), gelu({ approximate: "tanh" }))));
export type D12 = Expect<Equal<typeof literal, Seq<5, 2>>>;
export type D13 = Expect<Equal<typeof literal.layers, readonly import("../../src/layers/node.js").LayerNode[]>>;
export const res = residual(seq(linear(7, 7), swish));
export type D14 = Expect<Equal<typeof res, Residual<7>>>;
