/**
 * The built-in activations, written as `fn`s of primitives exactly as a user would write them:
 * they trace into elementwise primitives, so the fusion passes put them in the elementwise loops
 * and matmul epilogues like any other chain. Formulas are PyTorch's.
 */
import { ModelError } from "../../runtime/errors.js";
import { fn, type Fn } from "./fn.js";
import type { BuiltinActivation } from "./node.js";
import type { T } from "../dsl/tensor.js";
import { isFloat32, knownOptions, numberText } from "../options.js";

/** An fn marked as kiln's own, so a spec can name it. */
const builtin = (name: string, f: (x: T) => T, spec: BuiltinActivation): Fn => Object.freeze({ ...fn(name, f), builtin: Object.freeze(spec) });

/** tanh(x). @example seq(linear(64, 32), tanh) */
export const tanh: Fn = builtin("tanh", (x) => x.tanh(), { name: "tanh" });

/** σ(x) = 1 / (1 + e^−x). @example seq(linear(64, 1), sigmoid) */
export const sigmoid: Fn = builtin("sigmoid", (x) => x.sigmoid(), { name: "sigmoid" });

/** SiLU (swish): x·σ(x), PyTorch's nn.SiLU. @example seq(linear(64, 64), silu) */
export const silu: Fn = builtin("silu", (x) => x.mul(x.sigmoid()), { name: "silu" });

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_PI = Math.sqrt(2 / Math.PI);

const geluErf: Fn = builtin("gelu", (x) => x.mul(x.mul(SQRT1_2).erf().add(1)).mul(0.5), { name: "gelu", approximate: "none" });
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), PyTorch's approximate="tanh".
const geluTanh: Fn = builtin("gelu_tanh", (x) => x.mul(x.add(x.pow(3).mul(0.044715)).mul(SQRT_2_PI).tanh().add(1)).mul(0.5),
  { name: "gelu", approximate: "tanh" });

export type Gelu = Fn & ((opts?: { approximate?: "none" | "tanh" }) => Fn);

/**
 * GELU. `gelu` is the exact form x·Φ(x) = 0.5·x·(1 + erf(x/√2)) (PyTorch's default);
 * `gelu({ approximate: "tanh" })` the tanh approximation.
 * @example seq(linear(20, 64), gelu, linear(64, 10)); seq(linear(20, 64), gelu({ approximate: "tanh" }))
 */
export const gelu: Gelu = callableLayer(geluErf, (opts?: { approximate?: "none" | "tanh" }) => {
  knownOptions("gelu", opts, ["approximate"]);
  const a = opts?.approximate ?? "none";
  if (a !== "none" && a !== "tanh") throw new ModelError(`gelu approximate must be "none" or "tanh", got ${JSON.stringify(a)}`);
  return a === "tanh" ? geluTanh : geluErf;
});

export type LeakyRelu = Fn & ((slope?: number) => Fn);

/**
 * Leaky ReLU: x for x > 0, slope·x below (PyTorch's nn.LeakyReLU, default slope 0.01).
 * `leakyRelu` alone is slope 0.01.
 * @example seq(linear(48, 48), leakyRelu(0.1))
 */
export const leakyRelu: LeakyRelu = callableLayer(leaky(0.01), (slope: number = 0.01) => leaky(slope));

function leaky(slope: number): Fn {
  if (!isFloat32(slope)) throw new ModelError(`leakyRelu slope must be a finite number, got ${numberText(slope)}`);
  // x·(q + slope·(1 − q)) with q = sign(relu(x)), 1 above 0 and 0 at or below it (its derivative
  // is 0): x·1 = x exactly above 0 (±∞ included), x·slope below, one rounding, as PyTorch's
  // leaky_relu; NaN stays NaN; the derivative is q + slope·(1 − q), slope at 0 as PyTorch's
  // leaky_relu'(0). (slope·x + (1 − slope)·relu(x) rounded twice above 0, and for |slope| beyond
  // ~2²⁴ cancelled to 0: leakyRelu(1e30) of 1 was 0.)
  return builtin(`leakyRelu(${slope})`, (x) => { const q = x.relu().sign(); return x.mul(q.add(q.mul(-1).add(1).mul(slope))); }, { name: "leakyRelu", slope });
}

/** A function that is also the layer it returns with no arguments (`gelu` and `gelu()`). */
function callableLayer<F extends (...args: never[]) => Fn>(layer: Fn, f: F): Fn & F {
  const g = ((...args: Parameters<F>) => f(...args)) as F;
  Object.defineProperties(g, {
    kind: { value: layer.kind, enumerable: true }, f: { value: layer.f, enumerable: true }, builtin: { value: layer.builtin, enumerable: true },
  });
  Object.defineProperty(g, "name", { value: layer.name, enumerable: true });
  return Object.freeze(g) as Fn & F;
}
