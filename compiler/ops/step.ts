import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { unaryOp } from "./elementwise.js";
/** y = 1[x > 0] (Heaviside), the derivative of relu; its own derivative is 0 almost everywhere. */
export const step = unaryOp("step", {
  vjp: () => null,
  js: (a) => `(${a} > 0 ? 1 : 0)`,
  lower: (L, a) => noSetup(L.select(L.lt(L.const(0), a()), L.const(1), L.const(0))),
});
