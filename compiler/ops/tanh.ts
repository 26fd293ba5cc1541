import { tanhF } from "../../runtime/wasm/fused-math.js";
import { unaryOp } from "./elementwise.js";
/** y = tanh x;  dx = g·(1 − y²) */
export const tanh = unaryOp("tanh", {
  vjp: (b, g, _x, y) => b.mul(g, b.sub(b.scalar(1), b.mul(y, y))),
  js: (a) => `Math.tanh(${a})`,
  lower: (L, a) => tanhF(L, a()),
});
