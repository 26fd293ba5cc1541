/**
 * Transcendental functions for the kernels, since WebAssembly has none: a lane-generic e^x
 * (vector and tail give identical bits) and a scalar natural log computed in double.
 */
import type { FuncBuilder } from "./builder.js";
import { f32, f64, get, i32, select, set, type Expr, type Local, type Stmt } from "./emit.js";
import { lanePair, pick, type LaneType, type Lanes } from "./lanes.js";

/** Cephes expf: minimax polynomial for (e^r − 1 − r)/r² on |r| ≤ ln2/2, highest degree first. */
const EXP_POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
/** ln 2 split in two so n·LN2_HI is exact for |n| < 2^9 (Cody–Waite range reduction). */
const LN2_HI = 0.693359375, LN2_LO = -2.12194440e-4;
const LOG2E = 1.44269504088896341;
/** Below this e^x is under the smallest normal float; clamping keeps 2^n's exponent field valid. */
const EXP_MIN_ARG = -87.33654;

/** Temporaries exp needs, one set per lane type. */
export function expTemps(f: FuncBuilder) {
  return { x: lanePair(f), n: lanePair(f), r: lanePair(f), p: lanePair(f) };
}

/**
 * out = e^x for x ≤ 88 (about 1 ulp; x below −87.3 gives ~1e-38 rather than 0):
 *   n = round(x·log2 e),  r = x − n·ln2  (r ∈ [−ln2/2, ln2/2]),
 *   e^x = 2^n · (1 + r + r²·P(r)),  2^n assembled in the exponent bits.
 */
export function exp<T extends LaneType>(L: Lanes<T>, out: Local<T>, x: Expr<T>, t: ReturnType<typeof expTemps>): Stmt[] {
  const xv = pick(L, t.x), n = pick(L, t.n), r = pick(L, t.r), p = pick(L, t.p);
  const c = (v: number) => L.const(v);
  const horner: Stmt[] = EXP_POLY.slice(1).map((k) => set(p, L.add(L.mul(get(p), get(r)), c(k))));
  return [
    set(xv, L.pmax(x, c(EXP_MIN_ARG))),
    set(n, L.nearest(L.mul(get(xv), c(LOG2E)))),
    set(r, L.sub(L.sub(get(xv), L.mul(get(n), c(LN2_HI))), L.mul(get(n), c(LN2_LO)))),
    set(p, c(EXP_POLY[0]!)),
    ...horner,
    set(out, L.mul(L.add(L.add(L.mul(get(p), L.mul(get(r), get(r))), get(r)), c(1)), L.pow2(get(n)))),
  ];
}

/** Temporaries for logPositive. */
export function logTemps(f: FuncBuilder) {
  return { bits: f.local("i32"), e: f.local("i32"), big: f.local("i32"), m: f.local("f64"), t: f.local("f64"), t2: f.local("f64") };
}

/**
 * ln s for a positive normal float s, in double (error ~1e-10 relative before rounding to f32):
 *   s = 2^e · m with m ∈ [√½, √2),  ln s = e·ln2 + 2·atanh(t),  t = (m − 1)/(m + 1), |t| < 0.172,
 *   2·atanh(t) = 2t·(1 + t²/3 + t⁴/5 + t⁶/7 + t⁸/9 + …), truncated after t⁸ (next term < 1e-9).
 */
export function logPositive(s: Expr<"f32">, t: ReturnType<typeof logTemps>): { setup: Stmt[]; value: Expr<"f32"> } {
  const { bits, e, big, m } = t;
  const d = f64.const;
  // 1 + t2·(1/3 + t2·(1/5 + t2·(1/7 + t2·(1/9))))
  const series = [1 / 7, 1 / 5, 1 / 3, 1].reduce<Expr<"f64">>((acc, k) => f64.add(d(k), f64.mul(get(t.t2), acc)), d(1 / 9));
  return {
    setup: [
      set(bits, i32.reinterpret_f32(s)),
      set(e, i32.sub(i32.shr_u(get(bits), i32.const(23)), i32.const(127))),
      // The mantissa with a zero exponent: m ∈ [1, 2).
      set(m, f64.promote_f32(f32.reinterpret_i32(i32.or(i32.and(get(bits), i32.const(0x7fffff)), i32.const(0x3f800000))))),
      // Fold m ∈ (√2, 2) to (√½, 1) so |t| stays small: m /= 2, e += 1.
      set(big, f64.gt(get(m), d(Math.SQRT2))),
      set(e, i32.add(get(e), get(big))),
      set(m, select(f64.mul(get(m), d(0.5)), get(m), get(big))),
      set(t.t, f64.div(f64.sub(get(m), d(1)), f64.add(get(m), d(1)))),
      set(t.t2, f64.mul(get(t.t), get(t.t))),
    ],
    value: f32.demote_f64(f64.add(f64.mul(f64.convert_i32_s(get(e)), d(Math.LN2)), f64.mul(f64.mul(d(2), get(t.t)), series))),
  };
}
