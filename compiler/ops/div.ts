import { binaryOp } from "./shared.js";
/** z = x / y;  dx = g / y, dy = −g·x/y² = −g·z / y */
export const div = binaryOp("div", "div", (b, g, _x, y, z) => [b.div(g, y), b.neg(b.div(b.mul(g, z), y))]);
