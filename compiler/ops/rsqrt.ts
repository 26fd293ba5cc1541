import { unaryOp } from "./shared.js";
/** y = x^(−1/2);  dx = g·(−½)·x^(−3/2) = −½·g·y³ */
export const rsqrt = unaryOp("rsqrt", "rsqrt", (b, g, _x, y) => b.mul(b.mul(g, b.scalar(-0.5)), b.mul(y, b.mul(y, y))));
