import { expF } from "../../runtime/wasm/fused-math.js";
import { unaryOp } from "./elementwise.js";
/** y = eˣ;  dx = g·y */
export const exp = unaryOp("exp", { vjp: (b, g, _x, y) => b.mul(g, y), js: (a) => `Math.exp(${a})`, lower: (L, a) => expF(L, a()) });
