/**
 * ONNX's activation functions for the layer of primitives (./import-primitives.ts), each composed
 * of the IR's primitives as ONNX defines it (the numbers: see ./import-ops.ts). LeakyRelu's and
 * PRelu's derivative at 0 is their slope, as PyTorch's.
 */
import type { V } from "../../compiler/ir/types.js";
import { attrFloat, attrString } from "./import-graph.js";
import { clamp, s, type Ctx } from "./import-ops.js";
import type { Node } from "./proto.js";

/** relu(x) + α·(exp(min(x, 0)) − 1): ELU's two branches without evaluating exp of a large x. */
const elu = (c: Ctx, x: V, alpha: number): V => {
  const { b } = c;
  const neg = b.sub(b.exp(b.minimum(x, s(c, 0))), s(c, 1));
  return b.add(b.relu(x), alpha === 1 ? neg : b.mul(neg, s(c, alpha)));
};

/** As kiln's leakyRelu: x·(q + (1 − q)·slope), q = sign(relu(x)); the slope a number or a tensor. */
const leaky = (c: Ctx, x: V, slope: V): V => {
  const { b } = c, q = b.sign(b.relu(x));
  return b.mul(x, b.add(q, b.mul(b.sub(s(c, 1), q), slope)));
};

export const ACTIVATION_RULES: Readonly<Record<string, (c: Ctx, n: Node) => V>> = {
  LeakyRelu: (c, n) => leaky(c, c.data(0), s(c, attrFloat(n, "alpha", 0.01))),
  Elu: (c, n) => elu(c, c.data(0), attrFloat(n, "alpha", 1)),
  // max(0, x) + min(0, α·(e^{x/α} − 1)).
  Celu: (c, n) => {
    const x = c.data(0), { b } = c, alpha = attrFloat(n, "alpha", 1);
    if (!(alpha !== 0 && Number.isFinite(alpha))) c.fail(`has alpha ${alpha}; expected a finite number other than 0`);
    return b.add(b.relu(x), b.mul(b.sub(b.exp(b.div(b.minimum(x, s(c, 0)), s(c, alpha))), s(c, 1)), s(c, alpha)));
  },
  // As LeakyRelu with a slope tensor (a parameter, broadcast to x).
  PRelu: (c) => leaky(c, c.data(0), c.data(1)),
  Selu: (c, n) => c.b.mul(elu(c, c.data(0), attrFloat(n, "alpha", 1.67326319217681884765625)), s(c, attrFloat(n, "gamma", 1.05070102214813232421875))),
  // log(1 + eˣ) = relu(x) + log(1 + e^−|x|): no overflow for large x.
  Softplus: (c) => { const x = c.data(0), { b } = c; return b.add(b.relu(x), b.log(b.add(s(c, 1), b.exp(b.neg(b.abs(x)))))); },
  Softsign: (c) => { const x = c.data(0); return c.b.div(x, c.b.add(s(c, 1), c.b.abs(x))); },
  HardSigmoid: (c, n) => { const x = c.data(0); return clamp(c, c.b.add(c.b.mul(x, s(c, attrFloat(n, "alpha", 0.2))), s(c, attrFloat(n, "beta", 0.5))), 0, 1); },
  HardSwish: (c) => { const x = c.data(0); return c.b.mul(x, clamp(c, c.b.add(c.b.mul(x, s(c, 1 / 6)), s(c, 0.5)), 0, 1)); },
  Gelu: (c, n) => {
    const x = c.data(0), { b } = c;
    const tanhForm = attrString(n, "approximate", "none") === "tanh";
    const inner = tanhForm
      ? b.tanh(b.mul(b.add(x, b.mul(b.pow(x, 3), s(c, 0.044715))), s(c, Math.sqrt(2 / Math.PI))))
      : b.erf(b.mul(x, s(c, Math.SQRT1_2)));
    return b.mul(b.mul(x, b.add(inner, s(c, 1))), s(c, 0.5));
  },
};
