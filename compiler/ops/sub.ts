import { binaryOp } from "./shared.js";
/** z = x − y;  dx = g, dy = −g */
export const sub = binaryOp("sub", "sub", (b, g) => [g, b.neg(g)]);
