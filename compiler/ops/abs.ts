import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { absF } from "../../runtime/wasm/fused-math.js";
import { unaryOp } from "./elementwise.js";
/** y = |x|;  dx = g·sign x (so abs'(0) = 0, as PyTorch) */
export const abs = unaryOp("abs", { vjp: (b, g, x) => b.mul(g, b.sign(x)), js: (a) => `Math.abs(${a})`, lower: (L, a) => noSetup(absF(L, a())) });
