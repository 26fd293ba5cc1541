import { noSetup } from "../../runtime/wasm/fused-lanes.js";
import { unaryOp } from "./elementwise.js";
/**
 * y = x with no gradient (torch's detach, JAX's stop_gradient): the value passes, the
 * derivative is 0. It lets an expression carry a value and a gradient of different formulas —
 * binaryCrossEntropy's PyTorch gradient, (p − t)/max(p(1 − p), 10⁻¹²), beside its clamped logs —
 * and a user write a straight-through estimator or a fixed target.
 */
export const detach = unaryOp("detach", { vjp: () => null, js: (a) => a, lower: (L, a) => noSetup(a()) });
