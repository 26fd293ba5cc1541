import { unaryOp } from "./shared.js";
/** y = −x;  dx = −g */
export const neg = unaryOp("neg", "neg", (b, g) => b.neg(g));
