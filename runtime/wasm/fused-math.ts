/**
 * e^x and ln x in float32 for the fused kernels, lane-generic (fused-lanes.ts) so vectors and
 * tails agree bit for bit. WebAssembly has neither; these are Cephes' expf and logf (S. Moshier),
 * with the range handling made total: every float input, including ±0, subnormals, ±∞ and NaN,
 * gives what Math.exp / Math.log rounded to float32 give, within 2 ulp (test/wasm-fused.test.ts
 * measures the error over a sweep of inputs).
 */
import { get, set, when, type Expr, type Stmt, type ValType } from "./emit.js";
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
/** e^88 < 2^127.5: n = round(88·log2 e) = 127, so 2^n is a normal float (see expF's nonNegative). */
const EXP_NORMAL = 88;
/** The float 2^23 + 127 + n holds 127 + n in its low mantissa bits: shifted left by 23 it is 2^n. */
const POW2_MAGIC = 2 ** 23 + 127;

/** 2^n for a float n holding an integer in [−126, 127], assembled in the exponent field. */
function pow2<F extends LaneType, I extends ValType>(L: FLanes<F, I>, n: Expr<F>) {
  return L.fromBits(L.ishl(L.bits(L.add(n, L.const(POW2_MAGIC))), 23));
}

/**
 * e^x = 2^n · (1 + r + r²·P(r)),  n = round(x·log2 e),  r = x − n·ln2 ∈ [−ln2/2, ln2/2]; P as
 * E(r²) + r·O(r²) (evenOdd: max error over 2^20 points of [−87, 88] 1.00 ulp, 0.97 with Horner).
 * 2^n is applied as 2^⌊n/2⌋ · 2^(n − ⌊n/2⌋): each factor is a normal float even when e^x
 * overflows (n = 129), so the last multiply rounds to ∞ exactly once, as a correctly rounded exp
 * would.
 *
 * A subnormal e^x (n ≤ −126, x below about −87.3) is never made by a multiply: x86 multiplies
 * into the subnormal range through a microcode assist, which made exp of such x 3.3× slower
 * (sigmoid of x < −87 2.5×, a softmax over rows that span 1000 3×). The multiplies take n
 * clamped to ≥ −125 (q ≥ ½√2 keeps e^x normal there), and where a lane needs it (a branch on
 * any lane: none, almost always) its bits are assembled as integers instead: the float whose bits
 * are k < 2^24 is k·2^−149, so e^x = q·2^n has the bits round(q·2^(n + 149)) — q scaled exactly,
 * rounded once to nearest-even as the multiply would round: the same bits.
 */
export function expF<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<F>, known?: "nonNegative" | "nonPositive"): Valued<F> {
  const c = (v: number) => L.const(v);
  // nonNegative: the caller's x is ≥ 0 (or NaN) and any x above EXP_NORMAL may be taken as EXP_NORMAL
  // (tanh's e^{2|x|}: tanh is ±1 from |x| = 9 on). Then n ∈ [0, 127], e^x is a normal float and
  // one power of two scales it — the same bits as the two-step scaling below, 7 operations fewer.
  // nonPositive: x ≤ 0 or NaN (sigmoid's e^{−|x|}, softmax's e^{z − max}): n ≤ 0, so with n
  // clamped to ≥ −125 one power of two scales q exactly too; the subnormal case as below.
  const nonNegative = known === "nonNegative";
  const xc = bind(L, nonNegative ? L.pmin(x, c(EXP_NORMAL)) : known === "nonPositive" ? L.pmax(x, c(EXP_LO)) : L.pmin(L.pmax(x, c(EXP_LO)), c(EXP_HI))); // NaN passes through
  const n = bind(L, L.nearest(L.mul(xc.get(), c(LOG2E))));
  const r = bind(L, L.sub(L.sub(xc.get(), L.mul(n.get(), c(LN2_HI))), L.mul(n.get(), c(LN2_LO))));
  const p = evenOdd(L, EXP_POLY, r.get);
  const q = bind(L, L.add(L.add(L.mul(p.value, L.mul(r.get(), r.get())), r.get()), c(1)));
  if (nonNegative) return { setup: [xc.set, n.set, r.set, ...p.setup, q.set], value: L.mul(q.get(), pow2(L, n.get())) };
  const nn = bind(L, L.pmax(n.get(), c(SUBNORMAL_N + 1))); // NaN passes through
  const n1 = bind(L, L.floor(L.mul(nn.get(), c(0.5))));
  const y = L.localF();
  const tiny = bindInt(L, L.lt(n.get(), c(SUBNORMAL_N + 0.5))); // NaN: false
  // n + 149 ∈ [−1, 23] in the lanes taken; the others are clamped to 23 so nothing overflows.
  const bits = L.toInt(L.nearest(L.mul(q.get(), pow2(L, L.pmin(L.add(n.get(), c(149)), c(23))))));
  const scaled = known === "nonPositive" ? L.mul(q.get(), pow2(L, nn.get())) : L.mul(L.mul(q.get(), pow2(L, n1.get())), pow2(L, L.sub(nn.get(), n1.get())));
  return {
    setup: [xc.set, n.set, r.set, ...p.setup, q.set, nn.set, ...(known === "nonPositive" ? [] : [n1.set]), tiny.set,
      set(y, scaled),
      when(L.anyTrue(tiny.get()), set(y, L.select(tiny.get(), L.fromBits(bits), get(y))))],
    value: get(y),
  };
}
/** n at and below which q·2^n may be subnormal (q < 1, 2^−126 the smallest normal). */
const SUBNORMAL_N = -126;

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

/** |x| by clearing the sign bit (exact; NaN stays NaN). */
export function absF<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<F>): Expr<F> {
  return L.fromBits(L.iand(L.bits(x), L.iconst(0x7fffffff)));
}

/** x with the sign bit of s. */
function withSignOf<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<F>, s: Expr<F>): Expr<F> {
  return L.fromBits(L.ior(L.iand(L.bits(x), L.iconst(0x7fffffff)), L.iand(L.bits(s), L.iconst(-0x80000000))));
}

/**
 * σ(x) = 1/(1 + e^{−x}) through e = e^{−|x|} ∈ (0, 1], which never overflows: s = 1/(1 + e) is
 * σ(|x|), and σ(x) = e·s for x < 0 (= e^x/(1 + e^x), accurate where σ is tiny). A few ulp: exp's
 * 2 ulp plus three roundings.
 */
export function sigmoidF<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<F>): Valued<F> {
  const xv = bind(L, x);
  const e = expF(L, L.neg(absF(L, xv.get())), "nonPositive");
  const ev = bind(L, e.value);
  const s = bind(L, L.div(L.const(1), L.add(L.const(1), ev.get())));
  // e·s is e itself below 2^−24 (s rounds to 1): there it is not multiplied, since a product in
  // the subnormal range (σ of x < −87) costs x86 a microcode assist; the same bits.
  const small = L.lt(ev.get(), L.const(2 ** -24));
  const es = L.select(small, ev.get(), L.mul(L.pmax(ev.get(), L.const(2 ** -24)), s.get()));
  return { setup: [xv.set, ...e.setup, ev.set, s.set], value: L.select(L.lt(xv.get(), L.const(0)), es, s.get()) };
}

/** Cephes tanhf: tanh x ≈ x + x·z·P(z), z = x², for |x| < 0.625 (highest degree first). */
const TANH_POLY = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1];

/**
 * tanh x: the odd polynomial below |x| = 0.625 (where 1 − e^{−2|x|} would cancel), else
 * 1 − 2/(e^{2|x|} + 1) with x's sign (e^{2|x|} = ∞ gives exactly ±1). Both are computed and one
 * selected per lane. Within 2e-7 relative of tanh (test/wasm-fused.test.ts sweeps it).
 */
export function tanhF<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<F>): Valued<F> {
  const c = (v: number) => L.const(v);
  const xv = bind(L, x), a = bind(L, absF(L, xv.get()));
  const z = bind(L, L.mul(xv.get(), xv.get()));
  let p = c(TANH_POLY[0]!);
  for (const k of TANH_POLY.slice(1)) p = L.add(L.mul(p, z.get()), c(k));
  const small = L.add(L.mul(L.mul(xv.get(), z.get()), p), xv.get());
  const e = expF(L, L.mul(a.get(), c(2)), "nonNegative");
  const big = withSignOf(L, L.sub(c(1), L.div(c(2), L.add(e.value, c(1)))), xv.get());
  return { setup: [xv.set, a.set, z.set, ...e.setup], value: L.select(L.lt(a.get(), c(0.625)), small, big) };
}

/**
 * erf x = x·P(x²) on |x| < 1 (P fitted to erf(x)/x, relative error 4e-9 in float64); on
 * 1 ≤ |x| < 3.92 erf |x| = 1 − Q(t), t = (|x| − 2.46)/1.46 ∈ [−1, 1] (Q a degree-14 Chebyshev
 * fit of erfc, absolute error 2e-8); beyond, erfc |x| < 2^−25 and erf rounds to ±1. Both
 * polynomials are highest degree first; the second is computed only for vectors that need it. Within 2e-7 relative in float32 (test/wasm-fused.test.ts).
 */
const ERF_POLY = [
  7.971188035258137e-05, -0.0008043411030956849, 0.005191836929647456, -0.02685551087436564,
  0.11283622079652718, -0.37612628737705023, 1.1283791660959899,
];
const ERFC_MID = 2.46, ERFC_HALF = 1.46, ERF_ONE = 3.92;
const ERFC_POLY = [
  -0.0002193802975165892, -2.6629303232904283e-05, 0.0016276413414243614, -0.0015457067711425326,
  -0.0033393051676043057, 0.008982384892080652, -0.007346182201146623, -0.006468099983274232,
  0.028447176788922425, -0.045114313090206824, 0.045047333900728764, -0.030599113600519257,
  0.013928979797065331, -0.0038781327592729356, 0.0005033536447975086,
];

export function erfF<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<F>): Valued<F> {
  const c = (v: number) => L.const(v);
  const xv = bind(L, x), a = bind(L, absF(L, xv.get()));
  const z = bind(L, L.mul(xv.get(), xv.get()));
  let p = c(ERF_POLY[0]!);
  for (const k of ERF_POLY.slice(1)) p = L.add(L.mul(p, z.get()), c(k));
  const small = L.mul(xv.get(), p);
  // t = (|x| − mid)/half as a product with 1/half (a division cost more than the polynomial's terms).
  const t = bind(L, L.mul(L.sub(L.pmin(a.get(), c(ERF_ONE)), c(ERFC_MID)), c(1 / ERFC_HALF)));
  const q = evenOdd(L, ERFC_POLY, t.get);
  const big = withSignOf(L, L.select(L.gt(a.get(), c(ERF_ONE)), c(1), L.sub(c(1), q.value)), xv.get());
  // The second polynomial only where a lane has |x| ≥ 1 (0.99999994 is the float below 1): a
  // branch on the vector, as exp's subnormal case. A NaN lane takes `small`, x·P(x²) = NaN.
  // GELU of 256×1024 floats drawn from N(0, σ²), 1 thread: σ = 0.5 848 → 310 µs, σ = 1 1151 → 679,
  // σ = 2 1162 → 998, σ = 4 1162 → 1065 (the branch mispredicted, never slower than both branches).
  const y = L.localF(), need = bindInt(L, L.gt(a.get(), c(0.99999994)));
  return {
    setup: [xv.set, a.set, z.set, need.set, set(y, small),
      when(L.anyTrue(need.get()), t.set, ...q.setup, set(y, L.select(need.get(), big, get(y))))],
    value: get(y),
  };
}

/**
 * P(t) for coefficients highest degree first, as E(t²) + t·O(t²): two Horner chains of half the
 * length side by side (a lane's 15-term Horner chain is 14 dependent multiply-adds; the loop
 * waited on it: GELU's erf ran at ~4.6 ns an element).
 */
function evenOdd<F extends LaneType, I extends ValType>(L: FLanes<F, I>, highFirst: readonly number[], t: () => Expr<F>): Valued<F> {
  const low = [...highFirst].reverse(); // low[k]: the coefficient of t^k
  const u = bind(L, L.mul(t(), t()));
  const horner = (cs: number[]): Expr<F> => {
    let acc = L.const(cs[cs.length - 1]!);
    for (let k = cs.length - 2; k >= 0; k--) acc = L.add(L.mul(acc, u.get()), L.const(cs[k]!));
    return acc;
  };
  const even = low.filter((_, k) => k % 2 === 0), odd = low.filter((_, k) => k % 2 === 1);
  return { setup: [u.set], value: L.add(horner(even), L.mul(t(), horner(odd))) };
}

/**
 * x^k for a number k known when the kernel is emitted: k = 0 → 1, k = ½ → √x (+0 for −0, ∞ for −∞, as Math.pow),
 * integer |k| ≤ 32 → repeated squaring (then 1/·), any other k → e^{k·ln|x|} with x's sign for an
 * odd integer k (ln of a negative x is NaN, as x^k is for a non-integer k; ln 0 = −∞ and ln ∞ = ∞
 * give 0 and ∞ as they should).
 */
export function powF<F extends LaneType, I extends ValType>(L: FLanes<F, I>, x: Expr<F>, k: number): Valued<F> {
  if (k === 0) return { setup: [], value: L.const(1) };
  const xv = bind(L, x);
  if (k === 0.5) return { setup: [xv.set], value: L.select(L.eq(xv.get(), L.const(-Infinity)), L.const(Infinity), L.add(L.sqrt(xv.get()), L.const(0))) };
  if (Number.isInteger(k) && Math.abs(k) <= 32) {
    const setup = [xv.set];
    let acc: (() => Expr<F>) | null = null, sq: () => Expr<F> = xv.get;
    for (let n = Math.abs(k); n > 0; n >>= 1) {
      if (n & 1) {
        const prev: (() => Expr<F>) | null = acc, cur = sq;
        const v: { set: Stmt; get: () => Expr<F> } = bind(L, prev ? L.mul(prev(), cur()) : cur());
        setup.push(v.set);
        acc = v.get;
      }
      if (n > 1) {
        const s = bind(L, L.mul(sq(), sq()));
        setup.push(s.set);
        sq = s.get;
      }
    }
    return { setup, value: k < 0 ? L.div(L.const(1), acc!()) : acc!() };
  }
  const odd = Number.isInteger(k) && Math.abs(k % 2) === 1;
  const base = Number.isInteger(k) ? absF(L, xv.get()) : xv.get();
  const ln = logF(L, base);
  const e = expF(L, L.mul(ln.value, L.const(k)));
  if (Number.isInteger(k)) return { setup: [xv.set, ...ln.setup, ...e.setup], value: odd ? withSignOf(L, e.value, xv.get()) : e.value };
  // A non-integer power of −∞ is +∞ (k > 0) or +0 (k < 0), as Math.pow and C's powf, not NaN.
  return { setup: [xv.set, ...ln.setup, ...e.setup], value: L.select(L.eq(xv.get(), L.const(-Infinity)), L.const(k > 0 ? Infinity : 0), e.value) };
}
