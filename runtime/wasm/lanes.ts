/**
 * Lane-generic arithmetic: the elementwise kernels are written once against `Lanes<T>` and
 * emitted twice, with T = v128 (4 floats per step) for the body of a row and T = f32 for its
 * tail. Both instantiations perform the same IEEE operations in the same order, so an element's
 * result never depends on whether it fell in a vector or in the tail — nor, therefore, on the
 * row length's alignment or on how rows are split between threads.
 */
import {
  f32, f32x4, forRange, get, i32, i32x4, select, set, v128, type Expr, type Local, type Stmt,
} from "./emit.js";
import type { FuncBuilder } from "./builder.js";

type I = Expr<"i32">;
export type LaneType = "f32" | "v128";

export interface Lanes<T extends LaneType> {
  readonly type: T;
  readonly width: 1 | 4; // floats per step
  load(addr: I, offset?: number): Expr<T>;
  store(addr: I, v: Expr<T>, offset?: number): Stmt;
  splat(x: Expr<"f32">): Expr<T>;
  const(x: number): Expr<T>;
  add(a: Expr<T>, b: Expr<T>): Expr<T>;
  sub(a: Expr<T>, b: Expr<T>): Expr<T>;
  mul(a: Expr<T>, b: Expr<T>): Expr<T>;
  div(a: Expr<T>, b: Expr<T>): Expr<T>;
  /** max(a, b) as b < a ? a : b… precisely pmax(a, b) = a < b ? b : a (one maxps). */
  pmax(a: Expr<T>, b: Expr<T>): Expr<T>;
  /** 0 < x ? a : +0, the relu/step gate (NaN x → 0). */
  gatePositive(x: Expr<T>, a: Expr<T>): Expr<T>;
  /** Round to nearest integer, ties to even. */
  nearest(a: Expr<T>): Expr<T>;
  /** 2^n for a float n holding an integer in [−126, 127]: the exponent field built directly. */
  pow2(n: Expr<T>): Expr<T>;
}

export const VEC: Lanes<"v128"> = {
  type: "v128", width: 4,
  load: (a, o = 0) => v128.load(a, o),
  store: (a, v, o = 0) => v128.store(a, v, o),
  splat: (x) => f32x4.splat(x),
  const: (x) => f32x4.const(x),
  add: f32x4.add, sub: f32x4.sub, mul: f32x4.mul, div: f32x4.div, pmax: f32x4.pmax,
  gatePositive: (x, a) => v128.and(a, f32x4.lt(v128.zero(), x)),
  nearest: f32x4.nearest,
  pow2: (n) => i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(i32.const(127))), i32.const(23)),
};

export const SCALAR: Lanes<"f32"> = {
  type: "f32", width: 1,
  load: (a, o = 0) => f32.load(a, o),
  store: (a, v, o = 0) => f32.store(a, v, o),
  splat: (x) => x,
  const: (x) => f32.const(x),
  add: f32.add, sub: f32.sub, mul: f32.mul, div: f32.div,
  pmax: (a, b) => select(b, a, f32.lt(a, b)),
  gatePositive: (x, a) => select(a, f32.const(0), f32.lt(f32.const(0), x)),
  nearest: f32.nearest,
  pow2: (n) => f32.reinterpret_i32(i32.shl(i32.add(i32.trunc_f32_s(n), i32.const(127)), i32.const(23))),
};

/**
 * Visit elements [0, n) of a row: `body(L, byteOffset)` is emitted for the vector lanes over
 * [0, n − n mod 4) and again for the scalar tail. byteOffset = 4·(element index).
 */
export function eachLane(f: FuncBuilder, n: I, body: <T extends LaneType>(L: Lanes<T>, off: I) => Stmt[]): Stmt[] {
  const i = f.local("i32"), n4 = f.local("i32");
  return [
    set(n4, i32.and(n, i32.const(-4))),
    forRange(i, i32.const(0), get(n4), 4, ...body(VEC, i32.shl(get(i), i32.const(2)))),
    forRange(i, get(n4), n, 1, ...body(SCALAR, i32.shl(get(i), i32.const(2)))),
  ];
}

/** Horizontal sum in a fixed order: (l0 + l1) + (l2 + l3). */
export function hsum(v: Local<"v128">): Expr<"f32"> {
  const l = (k: number) => f32x4.extract_lane(get(v), k);
  return f32.add(f32.add(l(0), l(1)), f32.add(l(2), l(3)));
}

/** Horizontal max (pmax order (l0, l1), (l2, l3)); NaN-free inputs assumed. */
export function hmax(v: Local<"v128">): Expr<"f32"> {
  const l = (k: number) => f32x4.extract_lane(get(v), k);
  return SCALAR.pmax(SCALAR.pmax(l(0), l(1)), SCALAR.pmax(l(2), l(3)));
}

/** One local per lane type, for state a lane-generic body carries (e.g. a running sum). */
export interface LanePair { readonly v128: Local<"v128">; readonly f32: Local<"f32"> }
export const lanePair = (f: FuncBuilder): LanePair => ({ v128: f.local("v128"), f32: f.local("f32") });
export const pick = <T extends LaneType>(L: Lanes<T>, p: LanePair): Local<T> => p[L.type] as Local<T>;
