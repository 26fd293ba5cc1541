import { unaryOp } from "./shared.js";
/** y = 1/(1 + e^{−x});  dx = g·y·(1 − y) */
export const sigmoid = unaryOp("sigmoid", "sigmoid", (b, g, _x, y) => b.mul(g, b.mul(y, b.sub(b.scalar(1), y))));
