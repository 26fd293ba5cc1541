import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { bind } from "../../runtime/wasm/fused-lanes.js";
import { binaryOp } from "./elementwise.js";

export const KeepAttrs = closed({ when: t.union([t.literal(0), t.literal(1)]) });

/**
 * z = keep(x, c): x where the condition c is nonzero (`when` 1) or zero (`when` 0), else +0,
 * with broadcasting. A selection, not a product, so x = ±∞ or NaN where it is not kept gives 0:
 * keep(a, c, 1) + keep(b, c, 0) is torch.where(c, a, b) for any a and b (a product
 * c·a + (1 − c)·b is NaN when the side not taken is infinite). A NaN condition counts as nonzero.
 * dx = keep(g, c) (the same selection), dc = 0: a condition has no gradient.
 */
export const keep = binaryOp<{ when: 0 | 1 }>("keep", {
  attrs: KeepAttrs,
  num: (a) => [a.when],
  vjp: (b, g, _x, c, _z, a) => [b.keep(g, c, a.when), null],
  js: (x, c, [when]) => (when ? `(${c} !== 0 ? ${x} : 0)` : `(${c} === 0 ? ${x} : 0)`),
  lower: (L, x, c, [when]) => {
    const cv = bind(L, c());
    const zero = L.eq(cv.get(), L.const(0));
    return { setup: [cv.set], value: when ? L.select(zero, L.const(0), x()) : L.select(zero, x(), L.const(0)) };
  },
});
