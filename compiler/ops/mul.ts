import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { binaryOp } from "./elementwise.js";
/** z = x·y;  dx = g·y, dy = g·x */
export const mul = binaryOp("mul", { vjp: (b, g, x, y) => [b.mul(g, y), b.mul(g, x)], js: (a, b) => `${a} * ${b}`, lower: (L, a, b) => noSetup(L.mul(a(), b())) });
