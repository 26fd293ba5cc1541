/**
 * The op registry. `OpName` is its set of keys and every entry must be a complete `OpDef`
 * (attributes, shape rule, gradient rule, lowering), so a primitive with a missing rule does not
 * type-check. Adding a primitive: one file here and one entry below (an elementwise one in
 * `elementwise`, which derives its kernels and fusion); other primitives name a kernel of
 * runtime/kernels.
 */
import * as t from "io-ts";
import { abs } from "./abs.js";
import { add } from "./add.js";
import { broadcast_to } from "./broadcast_to.js";
import { concat } from "./concat.js";
import { constant } from "./constant.js";
import { detach } from "./detach.js";
import { div } from "./div.js";
import { dropout_mask } from "./dropout_mask.js";
import { erf } from "./erf.js";
import { exp } from "./exp.js";
import type { ElementwiseOpDef } from "./elementwise.js";
import type { ScalarDef } from "./elementwise_codegen.js";
import { fusedElementwiseOp } from "./fused_elementwise.js";
import { keep } from "./keep.js";
import { linear } from "./linear.js";
import { log } from "./log.js";
import { log_softmax } from "./log_softmax.js";
import { matmul } from "./matmul.js";
import { max } from "./max.js";
import { max_mask } from "./max_mask.js";
import { maximum } from "./maximum.js";
import { mean } from "./mean.js";
import { minimum } from "./minimum.js";
import { mul } from "./mul.js";
import { neg } from "./neg.js";
import { norm_backward } from "./norm_backward.js";
import { norm_forward } from "./norm_forward.js";
import { normalize } from "./normalize.js";
import { one_hot } from "./one_hot.js";
import { pad } from "./pad.js";
import { pow } from "./pow.js";
import { relu } from "./relu.js";
import { reshape } from "./reshape.js";
import { rsqrt } from "./rsqrt.js";
import { sigmoid } from "./sigmoid.js";
import { sign } from "./sign.js";
import { slice } from "./slice.js";
import { softmax_xent } from "./softmax_xent.js";
import { sqrt } from "./sqrt.js";
import { step } from "./step.js";
import { sub } from "./sub.js";
import { sum } from "./sum.js";
import { tanh } from "./tanh.js";
import { transpose } from "./transpose.js";
import { tril } from "./tril.js";
import type { OpDef } from "./def.js";

/**
 * The elementwise primitives (compiler/ops/elementwise.ts): each says how to compute one element,
 * so the fusion pass, the fused kernels and constant folding are derived from this table.
 */
const elementwise = {
  neg, exp, log, relu, step, sqrt, rsqrt, tanh, sigmoid, erf, abs, sign, pow, detach,
  add, sub, mul, div, maximum, minimum, keep,
} satisfies Record<string, Pick<ElementwiseOpDef<never>, "scalar">>;

export type ElementwiseName = keyof typeof elementwise;
/** Each elementwise primitive's scalar definition, by op name. */
export const scalarOps: { readonly [K in ElementwiseName]: ScalarDef<never> } = Object.fromEntries(
  Object.entries(elementwise).map(([k, d]) => [k, d.scalar]),
) as unknown as { [K in ElementwiseName]: ScalarDef<never> };
export const isElementwise = (op: string): op is ElementwiseName => Object.hasOwn(scalarOps, op);
const fused_elementwise = fusedElementwiseOp(scalarOps);

/** The other primitives: an elementwise one listed here (it has a `scalar`) is a type error, not a silently unfused op. */
const others = {
  constant, sum, mean, max, max_mask, reshape, transpose, tril, broadcast_to, slice, pad, concat,
  matmul, normalize, log_softmax, one_hot, dropout_mask,
  // Fused kernels: made by passes after differentiation, never differentiated themselves.
  fused_elementwise, linear,
  norm_forward, norm_backward, softmax_xent,
} satisfies Record<string, { readonly arity: number | null; readonly scalar?: never }>;

const registry = { ...elementwise, ...others };

export type OpName = keyof typeof registry;
export type AttrsOf<K extends OpName> = (typeof registry)[K] extends OpDef<infer A> ? A : never;

export const ops: { readonly [K in OpName]: OpDef<AttrsOf<K>> } = registry;
export const opNames = Object.keys(registry) as OpName[];

/** io-ts codec of a node's attributes, chosen by its op name. */
export const attrsCodec = <K extends OpName>(op: K): t.Type<AttrsOf<K>, unknown, unknown> => ops[op].attrs;
