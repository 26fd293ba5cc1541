import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { binaryOp } from "./elementwise.js";
/** z = x − y;  dx = g, dy = −g */
export const sub = binaryOp("sub", { vjp: (b, g) => [g, b.neg(g)], js: (a, b) => `${a} - ${b}`, lower: (L, a, b) => noSetup(L.sub(a(), b())) });
