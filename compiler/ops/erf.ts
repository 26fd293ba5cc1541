import { erfF } from "../../runtime/wasm/fused-math.js";
import { unaryOp } from "./elementwise.js";
/** y = erf x = (2/√π)∫₀ˣ e^{−t²} dt;  dx = g·(2/√π)·e^{−x²} */
export const erf = unaryOp("erf", {
  vjp: (b, g, x) => b.mul(g, b.mul(b.scalar(2 / Math.sqrt(Math.PI)), b.exp(b.neg(b.mul(x, x))))),
  js: (a) => `erf(${a})`,
  lower: (L, a) => erfF(L, a()),
});
