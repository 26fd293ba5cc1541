import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { unaryOp } from "./elementwise.js";
/** y = 1/√x (rounded twice in float32);  dx = −g·y³/2 */
export const rsqrt = unaryOp("rsqrt", {
  vjp: (b, g, _x, y) => b.mul(b.mul(g, b.scalar(-0.5)), b.mul(y, b.mul(y, y))),
  js: (a) => `(1 / Math.sqrt(${a}))`,
  lower: (L, a) => noSetup(L.div(L.const(1), L.sqrt(a()))),
});
