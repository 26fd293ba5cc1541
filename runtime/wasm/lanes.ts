/**
 * Lane-generic arithmetic: the elementwise kernels are written once against `Lanes<T>` and
 * emitted twice, with T = v128 (4 floats per step) for the body of a row and T = f32 for its
 * tail. Both instantiations perform the same IEEE operations in the same order, so an element's
 * result never depends on whether it fell in a vector or in the tail — nor, therefore, on the
 * row length's alignment or on how rows are split between threads.
 */
import {
  displaced, f32, f32x4, forRange, get, i32, i32x4, select, set, v128, type Expr, type Local, type Stmt,
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
  sqrt(a: Expr<T>): Expr<T>;
  /** pmax(a, b) = a < b ? b : a: max for ordered inputs, one maxps on x86. */
  pmax(a: Expr<T>, b: Expr<T>): Expr<T>;
  /** x ≤ 0 ? +0 : a, PyTorch's relu backward gate (threshold_backward: a NaN x passes a). */
  reluGate(x: Expr<T>, a: Expr<T>): Expr<T>;
  /** Round to nearest integer, ties to even. */
  nearest(a: Expr<T>): Expr<T>;
  /** 2^n for a float n holding an integer in [−126, 127]: the exponent field built directly. */
  pow2(n: Expr<T>): Expr<T>;
}

/**
 * 2^n without a float→int conversion: the float 2^23 + 127 + n holds the integer 127 + n in its
 * low mantissa bits (bit pattern 0x4B000000 + 127 + n); shifting left by 23 drops the 0x4B
 * exponent out of the word and lands 127 + n in the exponent field: the float 2^n.
 */
const POW2_MAGIC = 2 ** 23 + 127;

export const VEC: Lanes<"v128"> = {
  type: "v128", width: 4,
  load: (a, o = 0) => v128.load(a, o),
  store: (a, v, o = 0) => v128.store(a, v, o),
  splat: (x) => f32x4.splat(x),
  const: (x) => f32x4.const(x),
  add: f32x4.add, sub: f32x4.sub, mul: f32x4.mul, div: f32x4.div, sqrt: f32x4.sqrt, pmax: f32x4.pmax,
  reluGate: (x, a) => v128.andnot(a, f32x4.le(x, v128.zero())),
  nearest: f32x4.nearest,
  pow2: (n) => i32x4.shl(f32x4.add(n, f32x4.const(POW2_MAGIC)), i32.const(23)),
};

export const SCALAR: Lanes<"f32"> = {
  type: "f32", width: 1,
  load: (a, o = 0) => f32.load(a, o),
  store: (a, v, o = 0) => f32.store(a, v, o),
  splat: (x) => x,
  const: (x) => f32.const(x),
  add: f32.add, sub: f32.sub, mul: f32.mul, div: f32.div, sqrt: f32.sqrt,
  pmax: (a, b) => select(b, a, f32.lt(a, b)),
  reluGate: (x, a) => select(f32.const(0), a, f32.le(x, f32.const(0))),
  nearest: f32.nearest,
  pow2: (n) => f32.reinterpret_i32(i32.shl(i32.reinterpret_f32(f32.add(n, f32.const(POW2_MAGIC))), i32.const(23))),
};

/**
 * Visit elements [0, n) of a row: `body(L, byteOffset, slot)` is emitted `unroll` times per trip
 * of a vector loop over [0, n − n mod 4U) (slot u handles the u-th group of 4 floats), once in a
 * vector loop over the remaining groups of 4 (slot 0), and once as the scalar tail (slot 0).
 * Reductions keep one accumulator per slot (Acc below): independent add chains, so a row sum
 * runs at add throughput instead of add latency. byteOffset = 4·(element index), its constant
 * part (16 bytes per slot) kept apart so that loads and stores put it in their offset immediate
 * (emit.ts displaced): `base + 4i` is then computed once per base and trip, where `base + 4i + 16u`
 * cost a `lea` per access. layerNormFwd on 256 rows of 1024: 105 → 80 µs; colSum 0.83×, relu 0.93×.
 */
export function eachLane(
  f: FuncBuilder, n: I, body: <T extends LaneType>(L: Lanes<T>, off: I, slot: number) => Stmt[], unroll = 1,
): Stmt[] {
  const i = f.local("i32"), nU = f.local("i32"), n4 = f.local("i32");
  // 4i + extra with the constant kept apart, for the accesses' offset immediates (emit.ts displaced).
  const byte = (extra: number) => displaced(i32.shl(get(i), i32.const(2)), extra);
  return [
    set(n4, i32.and(n, i32.const(-4))),
    ...(unroll > 1 ? [
      set(nU, i32.and(n, i32.const(-4 * unroll))),
      forRange(i, i32.const(0), get(nU), 4 * unroll, ...Array.from({ length: unroll }, (_, u) => body(VEC, byte(16 * u), u)).flat()),
    ] : [set(nU, i32.const(0))]),
    forRange(i, get(nU), get(n4), 4, ...body(VEC, byte(0), 0)),
    forRange(i, get(n4), n, 1, ...body(SCALAR, byte(0), 0)),
  ];
}

/** Per-slot vector accumulators plus one for the scalar tail. */
export interface Acc { readonly v: readonly Local<"v128">[]; readonly s: Local<"f32"> }
export const accLocals = (f: FuncBuilder, unroll: number): Acc => ({ v: f.locals("v128", unroll), s: f.local("f32") });
export const accInit = (acc: Acc, x: number): Stmt[] => [...acc.v.map((v) => set(v, f32x4.const(x))), set(acc.s, f32.const(x))];

/** acc[slot] = op(acc[slot], x) in the lane type of L. */
export function accUpdate<T extends LaneType>(L: Lanes<T>, acc: Acc, slot: number, op: (a: Expr<T>, x: Expr<T>) => Expr<T>, x: Expr<T>): Stmt {
  const a = (L.type === "v128" ? acc.v[slot]! : acc.s) as Local<T>;
  return set(a, op(get(a), x));
}

/**
 * Combine an accumulator: slots pairwise in a fixed tree into slot 0 (setup), then its lanes as
 * (l0 ∘ l1) ∘ (l2 ∘ l3), then the tail (value). The order depends only on the unroll factor.
 */
export function accReduce(acc: Acc, op: <T extends LaneType>(L: Lanes<T>) => (a: Expr<T>, b: Expr<T>) => Expr<T>): { setup: Stmt[]; value: Expr<"f32"> } {
  let vs: Expr<"v128">[] = acc.v.map((v) => get(v));
  while (vs.length > 1) {
    const next = Array.from({ length: vs.length >> 1 }, (_, i) => op(VEC)(vs[2 * i]!, vs[2 * i + 1]!));
    vs = vs.length % 2 ? [...next, vs[vs.length - 1]!] : next;
  }
  const v0 = acc.v[0]!, l = (k: number) => f32x4.extract_lane(get(v0), k), s = op(SCALAR);
  return { setup: [set(v0, vs[0]!)], value: s(s(s(l(0), l(1)), s(l(2), l(3))), get(acc.s)) };
}
export const sum = <T extends LaneType>(L: Lanes<T>) => L.add;
export const pmax = <T extends LaneType>(L: Lanes<T>) => L.pmax;

/** One local per lane type, for a value a lane-generic body reads or rewrites (e.g. a broadcast mean). */
export interface LanePair { readonly v128: Local<"v128">; readonly f32: Local<"f32"> }
export const lanePair = (f: FuncBuilder): LanePair => ({ v128: f.local("v128"), f32: f.local("f32") });
export const pick = <T extends LaneType>(L: Lanes<T>, p: LanePair): Local<T> => p[L.type] as Local<T>;
/** Set a pair to a scalar: the f32 local gets it, the v128 local gets it in every lane. */
export const setPair = (p: LanePair, x: Expr<"f32">): Stmt[] => [set(p.f32, x), set(p.v128, f32x4.splat(get(p.f32)))];
