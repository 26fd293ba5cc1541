/**
 * Lane-generic float and integer arithmetic for the fused elementwise kernels: every op is
 * written once against `FLanes<F, I>` and emitted with F = I = v128 (four elements per step) and
 * with F = f32, I = i32 (heads and tails of rows, and kernels whose strides rule out vectors).
 * The two instantiations perform the same IEEE float32 operations in the same order, so an
 * element's bits never depend on whether it fell in a vector or in a scalar loop.
 *
 * Comparisons give a lane mask of type I: all ones per true lane (v128) or 1 (i32). Masks are
 * combined with `iand`/`ior` (both encodings are closed under them) and consumed by `select`.
 */
import type { FuncBuilder } from "./builder.js";
import { f32, f32x4, get, i32, i32x4, select, set, v128, type Expr, type Local, type Stmt, type ValType } from "./emit.js";
import { SCALAR, VEC, type LaneType, type Lanes } from "./lanes.js";

type A = Expr<"i32">;

/** The float lanes of lanes.ts (load, store, splat, const, add … pmax), plus integers and masks. */
export interface FLanes<F extends LaneType, I extends ValType> extends Lanes<F> {
  readonly f: FuncBuilder;
  localF(): Local<F>;
  localI(): Local<I>;
  /** Int32s at addr, converted to float. */
  loadInt(addr: A): Expr<F>;
  neg(a: Expr<F>): Expr<F>;
  floor(a: Expr<F>): Expr<F>;
  /** b < a ? b : a (NaN a stays). */
  pmin(a: Expr<F>, b: Expr<F>): Expr<F>;
  /** IEEE maximum / minimum as WebAssembly's (and Math.max/min): NaN if either is, max(−0, +0) = +0. */
  max(a: Expr<F>, b: Expr<F>): Expr<F>;
  min(a: Expr<F>, b: Expr<F>): Expr<F>;
  lt(a: Expr<F>, b: Expr<F>): Expr<I>;
  gt(a: Expr<F>, b: Expr<F>): Expr<I>;
  eq(a: Expr<F>, b: Expr<F>): Expr<I>;
  /** m ? a : b per lane. */
  select(m: Expr<I>, a: Expr<F>, b: Expr<F>): Expr<F>;
  selectInt(m: Expr<I>, a: Expr<I>, b: Expr<I>): Expr<I>;
  bits(x: Expr<F>): Expr<I>;
  fromBits(x: Expr<I>): Expr<F>;
  toFloat(x: Expr<I>): Expr<F>;
  /** Float to int32, truncated (vectors saturate; a scalar must be in range). */
  toInt(x: Expr<F>): Expr<I>;
  /** 1 if any lane of the mask is true, else 0. */
  anyTrue(m: Expr<I>): Expr<"i32">;
  iconst(n: number): Expr<I>;
  iadd(a: Expr<I>, b: Expr<I>): Expr<I>;
  isub(a: Expr<I>, b: Expr<I>): Expr<I>;
  iand(a: Expr<I>, b: Expr<I>): Expr<I>;
  ior(a: Expr<I>, b: Expr<I>): Expr<I>;
  ishl(a: Expr<I>, n: number): Expr<I>;
  ishr_u(a: Expr<I>, n: number): Expr<I>;
  ige_s(a: Expr<I>, b: Expr<I>): Expr<I>;
}

export type VecLanes = FLanes<"v128", "v128">;
export type ScalarLanes = FLanes<"f32", "i32">;
export type AnyLanes = VecLanes | ScalarLanes;

// The float arithmetic both share with the other kernels comes from lanes.ts (VEC, SCALAR); the
// rest is the integer side and the masks.
export function vecLanes(f: FuncBuilder): VecLanes {
  return {
    ...VEC, f,
    localF: () => f.local("v128"), localI: () => f.local("v128"),
    load: (a) => v128.load(a),
    loadInt: (a) => f32x4.convert_i32x4_s(v128.load(a)),
    neg: f32x4.neg, floor: f32x4.floor, pmin: f32x4.pmin, max: f32x4.max, min: f32x4.min,
    lt: f32x4.lt, gt: f32x4.gt, eq: f32x4.eq,
    select: (m, a, b) => v128.bitselect(a, b, m),
    selectInt: (m, a, b) => v128.bitselect(a, b, m),
    bits: (x) => x, fromBits: (x) => x,
    toFloat: f32x4.convert_i32x4_s,
    toInt: i32x4.trunc_sat_f32x4_s, anyTrue: v128.any_true,
    iconst: (n) => i32x4.splat(i32.const(n)),
    iadd: i32x4.add, isub: i32x4.sub, iand: v128.and, ior: v128.or,
    ishl: (a, n) => i32x4.shl(a, i32.const(n)),
    ishr_u: (a, n) => i32x4.shr_u(a, i32.const(n)),
    ige_s: i32x4.ge_s,
  };
}

export function scalarLanes(f: FuncBuilder): ScalarLanes {
  return {
    ...SCALAR, f,
    localF: () => f.local("f32"), localI: () => f.local("i32"),
    load: (a) => f32.load(a),
    loadInt: (a) => f32.convert_i32_s(i32.load(a)),
    neg: f32.neg, floor: f32.floor, max: f32.max, min: f32.min,
    pmin: (a, b) => select(b, a, f32.lt(b, a)),
    lt: f32.lt, gt: f32.gt, eq: f32.eq,
    select: (m, a, b) => select(a, b, m),
    selectInt: (m, a, b) => select(a, b, m),
    bits: i32.reinterpret_f32, fromBits: f32.reinterpret_i32,
    toFloat: f32.convert_i32_s,
    toInt: i32.trunc_f32_s, anyTrue: (m) => m,
    iconst: (n) => i32.const(n),
    iadd: i32.add, isub: i32.sub, iand: i32.and, ior: i32.or,
    ishl: (a, n) => i32.shl(a, i32.const(n)),
    ishr_u: (a, n) => i32.shr_u(a, i32.const(n)),
    ige_s: i32.ge_s,
  };
}

/** Statements plus the value they prepare (ops that need temporaries). */
export interface Valued<F extends ValType> { readonly setup: Stmt[]; readonly value: Expr<F> }
export const noSetup = <F extends ValType>(value: Expr<F>): Valued<F> => ({ setup: [], value });
/** Evaluate x into a fresh local: the setup sets it, the value reads it. */
export function bind<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<F>): { set: Stmt; get: () => Expr<F> } {
  const l = L.localF();
  return { set: set(l, x), get: () => get(l) };
}
export function bindInt<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<I>): { set: Stmt; get: () => Expr<I> } {
  const l = L.localI();
  return { set: set(l, x), get: () => get(l) };
}
