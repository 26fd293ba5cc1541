import { bind } from "../../runtime/wasm/fused-lanes.js";
import { unaryOp } from "./elementwise.js";
/** y = max(0, x) (NaN → 0);  dx = g·1[x > 0] */
export const relu = unaryOp("relu", {
  vjp: (b, g, x) => b.mul(g, b.step(x)),
  js: (a) => `(${a} > 0 ? ${a} : 0)`,
  lower: (L, a) => {
    const x = bind(L, a());
    return { setup: [x.set], value: L.select(L.lt(L.const(0), x.get()), x.get(), L.const(0)) };
  },
});
