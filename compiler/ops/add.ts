import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { binaryOp } from "./elementwise.js";
/** z = x + y;  dx = g, dy = g (each reduced to its operand's shape) */
export const add = binaryOp("add", { vjp: (_b, g) => [g, g], js: (a, b) => `${a} + ${b}`, lower: (L, a, b) => noSetup(L.add(a(), b())) });
