import { logF } from "../../runtime/wasm/fused-math.js";
import { unaryOp } from "./elementwise.js";
/** y = ln x;  dx = g / x */
export const log = unaryOp("log", { vjp: (b, g, x) => b.div(g, x), js: (a) => `Math.log(${a})`, lower: (L, a) => logF(L, a()) });
