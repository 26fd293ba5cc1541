/** Run-time validation of layer hyper-parameters, shared by the constructors. */
import { ModelError } from "../../runtime/errors.js";
import { isFloat32, numberText } from "../options.js";

/** Feature counts are positive integers small enough that a weight fits in one typed array. */
export function checkFeatures(what: string, n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 2 ** 24) {
    throw new ModelError(`${what} must be a positive integer ≤ 16777216, got ${String(n)}`);
  }
  return n;
}

export function checkRange(what: string, x: unknown, lo: number, hi: number, hiOpen: boolean): number {
  if (!isFloat32(x) || x < lo || (hiOpen ? x >= hi : x > hi)) {
    throw new ModelError(`${what} must be a number in [${lo}, ${hi}${hiOpen ? ")" : "]"}, got ${numberText(x)}`);
  }
  return x;
}

export function checkPositive(what: string, x: unknown): number {
  // > 0 as float32 too: an eps of 1e-46 would be stored as 0.
  if (!isFloat32(x) || Math.fround(x) <= 0) {
    throw new ModelError(`${what} must be a finite number > 0, got ${numberText(x)}${typeof x === "number" && x > 0 && Math.fround(x) === 0 ? " (0 as float32)" : ""}`);
  }
  return x;
}
