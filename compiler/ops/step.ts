import { unaryOp } from "./shared.js";
/** y = 1[x > 0] (Heaviside), the derivative of relu; its own derivative is 0 almost everywhere. */
export const step = unaryOp("step", "step", () => null);
