import { bind } from "../../runtime/wasm/fused-lanes.js";
import { unaryOp } from "./elementwise.js";
/**
 * y = x ≤ 0 ? 0 : 1 (Heaviside), the derivative of relu; its own derivative is 0 almost
 * everywhere. NaN gives 1, as PyTorch's relu backward (threshold_backward: result ≤ 0 ? 0 : g)
 * passes the gradient at a NaN; step(relu(x)) = step(x) for every x (fuseLinear relies on it).
 */
export const step = unaryOp("step", {
  vjp: () => null,
  js: (a) => `(${a} <= 0 ? 0 : 1)`,
  lower: (L, a) => {
    const x = bind(L, a());
    return { setup: [x.set], value: L.select(L.ior(L.lt(x.get(), L.const(0)), L.eq(x.get(), L.const(0))), L.const(0), L.const(1)) };
  },
});
