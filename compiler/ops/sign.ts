import { bind } from "../../runtime/wasm/fused-lanes.js";
import { unaryOp } from "./elementwise.js";
/** y = sign x ∈ {−1, 0, 1} (±0 and NaN stay themselves, as Math.sign); its derivative is 0 almost everywhere. */
export const sign = unaryOp("sign", {
  vjp: () => null,
  js: (a) => `Math.sign(${a})`,
  lower: (L, a) => {
    const x = bind(L, a());
    return { setup: [x.set], value: L.select(L.gt(x.get(), L.const(0)), L.const(1), L.select(L.lt(x.get(), L.const(0)), L.const(-1), x.get())) };
  },
});
