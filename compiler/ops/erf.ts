import { erfF } from "../../runtime/wasm/fused-math.js";
import { unaryOp } from "./elementwise.js";
/**
 * y = erf x = (2/√π)∫₀ˣ e^{−t²} dt;  dx = g·(2/√π)·e^{−a²}, a = min(|x|, 10.2). From |x| = 10.2 on
 * e^{−x²} ≤ e^{−104} rounds to 0 in float32, so the min changes no result (and |x|·|x| is x·x to
 * the bit); it keeps the square finite where |x| > 1.8e19 (an erf of an exp), which checkNumerics
 * would otherwise report as the step's first ∞.
 */
export const erf = unaryOp("erf", {
  vjp: (b, g, x) => {
    const a = b.minimum(b.abs(x), b.scalar(10.2));
    return b.mul(g, b.mul(b.scalar(2 / Math.sqrt(Math.PI)), b.exp(b.neg(b.mul(a, a)))));
  },
  js: (a) => `erf(${a})`,
  lower: (L, a) => erfF(L, a()),
});
