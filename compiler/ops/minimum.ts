import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { binaryOp } from "./elementwise.js";
/** z = min(x, y), broadcasting, NaN if either is. With s = sign(x − y):  dx = g·(1 − s)/2,  dy = g·(1 + s)/2 (ties split, as torch.minimum). */
export const minimum = binaryOp("minimum", {
  vjp: (b, g, x, y) => {
    const half = b.mul(g, b.scalar(0.5)), s = b.sign(b.sub(x, y));
    return [b.mul(half, b.sub(b.scalar(1), s)), b.mul(half, b.add(b.scalar(1), s))];
  },
  js: (a, b) => `Math.min(${a}, ${b})`,
  lower: (L, a, b) => noSetup(L.min(a(), b())),
});
