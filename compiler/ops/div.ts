import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { binaryOp } from "./elementwise.js";
/** z = x / y;  dx = g / y, dy = −g·x/y² = −g·z / y */
export const div = binaryOp("div", {
  vjp: (b, g, _x, y, z) => [b.div(g, y), b.neg(b.div(b.mul(g, z), y))],
  js: (a, b) => `${a} / ${b}`,
  lower: (L, a, b) => noSetup(L.div(a(), b())),
});
