import { unaryOp } from "./shared.js";
/** y = ln x;  dx = g / x */
export const log = unaryOp("log", "log", (b, g, x) => b.div(g, x));
