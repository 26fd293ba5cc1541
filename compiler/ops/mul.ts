import { binaryOp } from "./shared.js";
/** z = x·y;  dx = g·y, dy = g·x */
export const mul = binaryOp("mul", "mul", (b, g, x, y) => [b.mul(g, y), b.mul(g, x)]);
