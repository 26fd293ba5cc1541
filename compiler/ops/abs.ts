import { unaryOp } from "./shared.js";
/** y = |x|;  dx = g·sign x (so abs'(0) = 0, as PyTorch) */
export const abs = unaryOp("abs", "abs", (b, g, x) => b.mul(g, b.sign(x)));
