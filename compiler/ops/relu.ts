import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { unaryOp } from "./elementwise.js";
/**
 * y = x < 0 ? 0 : x — PyTorch's relu (clamp_min(x, 0)): NaN stays NaN (a NaN in the weights
 * must not hide behind a finite loss) and −0 stays −0; one pmax(x, 0) per four lanes.
 * dx = g·step(x), step(NaN) = 1: the gradient passes at NaN as PyTorch's threshold_backward.
 */
export const relu = unaryOp("relu", {
  vjp: (b, g, x) => b.mul(g, b.step(x)),
  js: (a) => `(${a} < 0 ? 0 : ${a})`,
  lower: (L, a) => noSetup(L.pmax(a(), L.const(0))),
});
