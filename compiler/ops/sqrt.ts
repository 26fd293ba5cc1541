import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { unaryOp } from "./elementwise.js";
/** y = √x;  dx = g / (2y) */
export const sqrt = unaryOp("sqrt", { vjp: (b, g, _x, y) => b.div(g, b.mul(y, b.scalar(2))), js: (a) => `Math.sqrt(${a})`, lower: (L, a) => noSetup(L.sqrt(a())) });
