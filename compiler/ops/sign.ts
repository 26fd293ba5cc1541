import { bind } from "../../runtime/wasm/fused-lanes.js";
import { unaryOp } from "./elementwise.js";
/**
 * y = sign x ∈ {−1, 0, 1}, as PyTorch's: ±0 and NaN give +0 (so abs's gradient g·sign x is 0
 * at NaN, as PyTorch's); its derivative is 0 almost everywhere.
 */
export const sign = unaryOp("sign", {
  vjp: () => null,
  js: (a) => `(${a} > 0 ? 1 : ${a} < 0 ? -1 : 0)`,
  lower: (L, a) => {
    const x = bind(L, a());
    return { setup: [x.set], value: L.select(L.gt(x.get(), L.const(0)), L.const(1), L.select(L.lt(x.get(), L.const(0)), L.const(-1), L.const(0))) };
  },
});
