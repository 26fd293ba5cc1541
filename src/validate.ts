/** Checks on the arrays users pass to compiled programs: lengths and finite values. */
import { InputError } from "../runtime/errors.js";

export const describeValue = (a: unknown): string =>
  a === null || typeof a !== "object"
    ? `${typeof a} ${String(a)}`
    : `${(a as object).constructor?.name ?? "object"}(${String((a as ArrayLike<unknown>).length ?? "?")})`;

/** The shape text is built only for a message: a passing check allocates nothing. */
const shapeText = (shape: string | (() => string)): string => (typeof shape === "function" ? shape() : shape);

/** x must be array-like with `length` finite numbers; `what` names it in the message. */
export function checkFloats(x: unknown, length: number, what: string, shape: string | (() => string)): asserts x is ArrayLike<number> {
  if (x === null || typeof x !== "object" || typeof (x as ArrayLike<number>).length !== "number") {
    throw new InputError(`${what}: expected a Float32Array of ${length} values (${shapeText(shape)}), got ${describeValue(x)}`);
  }
  const a = x as ArrayLike<number>;
  if (a.length !== length) throw new InputError(`${what}: expected ${length} values (${shapeText(shape)}), got ${a.length}`);
  for (let i = 0; i < length; i++) {
    const v = a[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new InputError(`${what}[${i}]: expected a finite number, got ${String(v)}`);
    }
  }
}

/** Batch size implied by an eval input's length, which must be a positive multiple of the width. */
export function batchOf(x: unknown, width: number): number {
  if (x === null || typeof x !== "object" || typeof (x as ArrayLike<number>).length !== "number") {
    throw new InputError(`x: expected a Float32Array of batch×${width} values, got ${describeValue(x)}`);
  }
  const n = (x as ArrayLike<number>).length;
  if (n === 0 || n % width !== 0) {
    throw new InputError(`x: expected a positive multiple of ${width} values (batch×${width}), got ${n}`);
  }
  return n / width;
}
