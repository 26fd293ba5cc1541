import { unaryOp } from "./shared.js";
/** y = √x;  dx = g / (2y) */
export const sqrt = unaryOp("sqrt", "sqrt", (b, g, _x, y) => b.div(g, b.mul(y, b.scalar(2))));
