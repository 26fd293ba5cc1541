import { unaryOp } from "./shared.js";
/** y = eˣ;  dx = g·y */
export const exp = unaryOp("exp", "exp", (b, g, _x, y) => b.mul(g, y));
