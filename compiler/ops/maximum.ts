import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { binaryOp } from "./elementwise.js";
/**
 * z = max(x, y), broadcasting; NaN if either is (torch.maximum), max(−0, +0) = +0. With
 * s = sign(x − y):  dx = g·(1 + s)/2,  dy = g·(1 − s)/2 — the whole gradient to the larger
 * operand, half to each on a tie (as torch.maximum).
 */
export const maximum = binaryOp("maximum", {
  vjp: (b, g, x, y) => {
    const half = b.mul(g, b.scalar(0.5)), s = b.sign(b.sub(x, y));
    return [b.mul(half, b.add(b.scalar(1), s)), b.mul(half, b.sub(b.scalar(1), s))];
  },
  js: (a, b) => `Math.max(${a}, ${b})`,
  lower: (L, a, b) => noSetup(L.max(a(), b())),
});
