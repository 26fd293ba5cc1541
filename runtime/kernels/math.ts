/**
 * Scalar math JavaScript lacks, in float64 to full precision: the reference kernels, the
 * generated elementwise kernels and the float64 gradient checks use these.
 */

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

/**
 * erf x. |x| < 3: erf x = (2/√π)·e^{−x²}·Σₙ (2x²)ⁿ·x / (1·3·…·(2n+1)), a series of positive terms
 * (no cancellation; about x² + 40 terms). |x| ≥ 3: erf x = 1 − erfc x with erfc from its
 * continued fraction erfc x = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated
 * bottom-up with 60 levels (enough for 1e-16 from x = 3 on).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x); // erfc 6 ≈ 2e-17: 1 − erfc rounds to 1
  if (a < 3) {
    const x2 = x * x;
    let term = x, s = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      s += term;
      if (Math.abs(term) < 1e-17 * Math.abs(s)) break;
    }
    return TWO_OVER_SQRT_PI * Math.exp(-x2) * s;
  }
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
  const erfc = (Math.exp(-a * a) * ONE_OVER_SQRT_PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** 1/(1 + e^{−x}), written so neither branch overflows. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
