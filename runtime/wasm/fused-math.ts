/**
 * e^x and ln x in float32 for the fused kernels, lane-generic (fused-lanes.ts) so vectors and
 * tails agree bit for bit. WebAssembly has neither; these are Cephes' expf and logf (S. Moshier),
 * with the range handling made total: every float input, including ±0, subnormals, ±∞ and NaN,
 * gives what Math.exp / Math.log rounded to float32 give, within 2 ulp (test/wasm-fused.test.ts
 * measures the error over a sweep of inputs).
 */
import type { Expr, ValType } from "./emit.js";
import { bind, bindInt, type FLanes, type Valued } from "./fused-lanes.js";
import type { LaneType } from "./lanes.js";

/** Cephes expf: minimax polynomial P with e^r ≈ 1 + r + r²·P(r) on |r| ≤ ln2/2, highest degree first. */
const EXP_POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
/** ln 2 ≈ LN2_HI + LN2_LO, LN2_HI with 9 significant bits so n·LN2_HI is exact for |n| < 2^15 (Cody–Waite). */
const LN2_HI = 0.693359375, LN2_LO = -2.12194440e-4;
const LOG2E = 1.44269504088896341;
/**
 * e^-104 < 2^-150 (half the smallest subnormal) rounds to 0 and e^89 > 2^128 overflows, so the
 * argument is clamped to [−104, 89] without changing any result; then n = round(x·log2 e)
 * lies in [−150, 129].
 */
const EXP_LO = -104, EXP_HI = 89;
/** The float 2^23 + 127 + n holds 127 + n in its low mantissa bits: shifted left by 23 it is 2^n. */
const POW2_MAGIC = 2 ** 23 + 127;

/** 2^n for a float n holding an integer in [−126, 127], assembled in the exponent field. */
function pow2<F extends LaneType, I extends ValType>(L: FLanes<F, I>, n: Expr<F>) {
  return L.fromBits(L.ishl(L.bits(L.add(n, L.const(POW2_MAGIC))), 23));
}

/**
 * e^x = 2^n · (1 + r + r²·P(r)),  n = round(x·log2 e),  r = x − n·ln2 ∈ [−ln2/2, ln2/2].
 * 2^n is applied as 2^⌊n/2⌋ · 2^(n − ⌊n/2⌋): each factor is a normal float even when e^x is
 * subnormal (n ≥ −150) or overflows (n = 129), so the last multiply rounds into the subnormal
 * range or to ∞ exactly once, as a correctly rounded exp would.
 */
export function expF<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<F>): Valued<F> {
  const c = (v: number) => L.const(v);
  const xc = bind(L, L.pmin(L.pmax(x, c(EXP_LO)), c(EXP_HI))); // NaN passes through both
  const n = bind(L, L.nearest(L.mul(xc.get(), c(LOG2E))));
  const r = bind(L, L.sub(L.sub(xc.get(), L.mul(n.get(), c(LN2_HI))), L.mul(n.get(), c(LN2_LO))));
  let p = c(EXP_POLY[0]!);
  for (const k of EXP_POLY.slice(1)) p = L.add(L.mul(p, r.get()), c(k));
  const q = bind(L, L.add(L.add(L.mul(p, L.mul(r.get(), r.get())), r.get()), c(1)));
  const n1 = bind(L, L.floor(L.mul(n.get(), c(0.5))));
  return {
    setup: [xc.set, n.set, r.set, q.set, n1.set],
    value: L.mul(L.mul(q.get(), pow2(L, n1.get())), pow2(L, L.sub(n.get(), n1.get()))),
  };
}

/** Cephes logf: ln(1 + f) ≈ f − f²/2 + f³·P(f) for f ∈ [√½ − 1, √2 − 1], highest degree first. */
const LOG_POLY = [
  7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
];
const SMALLEST_NORMAL = 2 ** -126;

/**
 * ln x = e·ln2 + ln m with x = 2^e·m, m ∈ [√½, √2) (subnormals scaled by 2^23 first), and
 * ln m = ln(1 + f), f = m − 1 exact. e·ln2 is added as e·LN2_LO then e·LN2_HI around the
 * polynomial, as in Cephes. x = ±0 → −∞, x < 0 → NaN, +∞ → +∞, NaN → NaN.
 */
export function logF<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<F>): Valued<F> {
  const c = (v: number) => L.const(v);
  const xv = bind(L, x);
  const sub = bindInt(L, L.lt(xv.get(), c(SMALLEST_NORMAL)));
  const bits = bindInt(L, L.bits(L.select(sub.get(), L.mul(xv.get(), c(2 ** 23)), xv.get())));
  // Exponent (valid for positive x), minus 23 for a scaled subnormal.
  const e0 = L.isub(L.isub(L.ishr_u(bits.get(), 23), L.iconst(127)), L.selectInt(sub.get(), L.iconst(23), L.iconst(0)));
  const m0 = bind(L, L.fromBits(L.ior(L.iand(bits.get(), L.iconst(0x7fffff)), L.iconst(0x3f800000)))); // [1, 2)
  const big = bindInt(L, L.gt(m0.get(), c(Math.SQRT2)));
  const e = bind(L, L.toFloat(L.iadd(e0, L.selectInt(big.get(), L.iconst(1), L.iconst(0)))));
  const f = bind(L, L.sub(L.select(big.get(), L.mul(m0.get(), c(0.5)), m0.get()), c(1)));
  const z = bind(L, L.mul(f.get(), f.get()));
  let p = c(LOG_POLY[0]!);
  for (const k of LOG_POLY.slice(1)) p = L.add(L.mul(p, f.get()), c(k));
  let y = L.mul(L.mul(p, f.get()), z.get());
  y = L.add(y, L.mul(e.get(), c(LN2_LO)));
  y = L.add(y, L.mul(z.get(), c(-0.5)));
  const res = L.add(L.add(f.get(), y), L.mul(e.get(), c(LN2_HI)));
  // Outside (0, ∞): 0 → −∞, negative → NaN, +∞ and NaN → themselves.
  const ok = L.iand(L.gt(xv.get(), c(0)), L.lt(xv.get(), c(Infinity)));
  const special = L.select(L.eq(xv.get(), c(0)), c(-Infinity), L.select(L.lt(xv.get(), c(0)), c(NaN), xv.get()));
  return {
    setup: [xv.set, sub.set, bits.set, m0.set, big.set, e.set, f.set, z.set],
    value: L.select(ok, res, special),
  };
}
