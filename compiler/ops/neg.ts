import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { unaryOp } from "./elementwise.js";
/** y = −x;  dx = −g */
export const neg = unaryOp("neg", { vjp: (b, g) => b.neg(g), js: (a) => `-${a}`, lower: (L, a) => noSetup(L.neg(a())) });
