import { sigmoidF } from "../../runtime/wasm/fused-math.js";
import { unaryOp } from "./elementwise.js";
/** y = 1/(1 + e^{−x});  dx = g·y·(1 − y) */
export const sigmoid = unaryOp("sigmoid", {
  vjp: (b, g, _x, y) => b.mul(g, b.mul(y, b.sub(b.scalar(1), y))),
  js: (a) => `sigmoid(${a})`,
  lower: (L, a) => sigmoidF(L, a()),
});
