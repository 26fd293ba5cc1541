import { unaryOp } from "./shared.js";
/** y = tanh x;  dx = g·(1 − y²) */
export const tanh = unaryOp("tanh", "tanh", (b, g, _x, y) => b.mul(g, b.sub(b.scalar(1), b.mul(y, y))));
