import { unaryOp } from "./shared.js";
/** y = max(0, x);  dx = g·1[x > 0] */
export const relu = unaryOp("relu", "relu", (b, g, x) => b.mul(g, b.step(x)));
