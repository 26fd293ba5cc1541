/** Checks on the arrays users pass to compiled programs: lengths and finite values. */
import { InputError } from "../runtime/errors.js";
import { isFloat32 } from "./options.js";

export const describeValue = (a: unknown): string =>
  a === null ? "null" : a === undefined ? "undefined"
    : typeof a === "string" ? `string ${JSON.stringify(a.length > 60 ? `${a.slice(0, 57)}...` : a)}`
    : typeof a !== "object" ? `${typeof a} ${String(a)}`
    : typeof (a as ArrayLike<unknown>).length === "number" ? `${(a as object).constructor?.name ?? "object"}(${(a as ArrayLike<unknown>).length})`
    : `${(a as object).constructor?.name ?? "an object"} (no length)`;

/** What kind of value `a` is, for a message: "null", a primitive's type, or an object's class ("Float64Array"). */
export const typeName = (a: unknown): string =>
  a === null ? "null" : typeof a === "object" ? (a as object).constructor?.name ?? "an object" : typeof a;

/** One element as a message names it: a number as itself, anything else with its type ("string \"0\"", "BigInt 3", "undefined"). */
export const valueText = (v: unknown): string =>
  typeof v === "number" ? String(v) : typeof v === "bigint" ? `BigInt ${v}` : describeValue(v);

/** The shape text is built only for a message: a passing check allocates nothing. */
const shapeText = (shape: string | (() => string)): string => (typeof shape === "function" ? shape() : shape);

/**
 * What is wrong with one value the program will store as a float32, or null: a number that is
 * finite as a double can still be ±∞ as a float32 (|v| ≥ 2¹²⁸ − 2¹⁰³, e.g. 1e39 in a Float64Array).
 */
export function badFloat(v: unknown): string | null {
  if (typeof v !== "number" || !Number.isFinite(v)) return valueText(v);
  if (!isFloat32(v)) return `${v} (beyond float32's range: it would be stored as ${Math.fround(v)})`;
  return null;
}

/** The error for a value that badFloat refuses, at `at` ("x[3]", "targets[0]"). */
export const notFinite = (at: string, v: unknown): InputError => new InputError(`${at}: expected a finite number, got ${badFloat(v)}`);

/** x must be array-like with `length` finite numbers; `what` names it in the message. */
export function checkFloats(x: unknown, length: number, what: string, shape: string | (() => string)): asserts x is ArrayLike<number> {
  if (x === null || typeof x !== "object" || typeof (x as ArrayLike<number>).length !== "number") {
    throw new InputError(`${what}: expected a Float32Array of ${length} values (${shapeText(shape)}), got ${describeValue(x)}`);
  }
  const a = x as ArrayLike<number>;
  if (a.length !== length) throw new InputError(`${what}: expected ${length} values (${shapeText(shape)}), got ${a.length}`);
  // A Float32Array's elements are float32 already: no range to check.
  const f32 = a instanceof Float32Array;
  for (let i = 0; i < length; i++) {
    const v = a[i];
    if (typeof v !== "number" || !Number.isFinite(v) || (!f32 && !Number.isFinite(Math.fround(v)))) {
      throw notFinite(`${what}[${i}]`, v);
    }
  }
}

/** A private copy of a typed array that is a view of shared memory (another thread may write it), else the array. */
const unshared = <A>(x: A): A => {
  const v = x as unknown as { buffer: ArrayBufferLike; slice?: () => A };
  return typeof SharedArrayBuffer !== "undefined" && v.buffer instanceof SharedArrayBuffer && typeof v.slice === "function" ? v.slice() : x;
};

/**
 * Labels as the loss check and the copy after it can read them without them changing in between:
 * a typed array as is (copied when it is a view of shared memory); any other array-like (an
 * Array, an object with getters, a Proxy) read once, element by element, into a plain array — only
 * when its length is `want`, the program's own labels length (so the copy is bounded by memory the
 * program already holds); otherwise `{ length }` for the check to refuse. Non-objects pass through.
 */
export function stableArray(x: unknown, want: number): unknown {
  if (x === null || typeof x !== "object") return x;
  if (ArrayBuffer.isView(x)) return unshared(x);
  const n = (x as ArrayLike<unknown>).length;
  if (n !== want) return Object.freeze({ length: n });
  const out = new Array<unknown>(want);
  for (let i = 0; i < want; i++) out[i] = (x as ArrayLike<unknown>)[i];
  return out;
}

/**
 * `length` finite float32 values, checked as checkFloats checks them and read exactly once: a
 * typed array is checked in place (copied first when it views shared memory); any other
 * array-like is read element by element, each checked before the next is read, into a plain array
 * that grows with the values actually given — so `{ length: 3·2³⁰ }` is refused at its first
 * element instead of allocating for the length it declares, and a getter cannot pass the check
 * and then return NaN to the copy.
 */
export function floatsOnce(x: unknown, length: number, what: string, shape: string | (() => string)): ArrayLike<number> {
  if (x === null || typeof x !== "object" || typeof (x as ArrayLike<number>).length !== "number" || (x as ArrayLike<number>).length !== length) {
    checkFloats(x, length, what, shape); // throws: not an array-like, or the wrong length
  }
  if (ArrayBuffer.isView(x)) {
    const a = unshared(x as unknown as ArrayLike<number>);
    checkFloats(a, length, what, shape);
    return a;
  }
  const out: number[] = [];
  for (let i = 0; i < length; i++) {
    const v = (x as ArrayLike<unknown>)[i];
    if (badFloat(v) !== null) throw notFinite(`${what}[${i}]`, v);
    out.push(v as number);
  }
  return out;
}

/** A UTF-16 surrogate without its partner: no Unicode text, with no UTF-8 form. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether two views share any byte of one buffer. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** The program's copy of `what` held a non-finite value its source, read again, does not show. */
export function changedWhileRead(what: string): never {
  throw new InputError(`${what}: expected finite numbers, got an array that held a non-finite value when it was copied (was it written while kiln read it?)`);
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

/**
 * A frozen record whose names refuse assignment with a KilnError (a plain frozen object throws a
 * TypeError in strict code and ignores it in sloppy code): `net.params["0.weight"] = w` says to
 * write the array in place instead. Each name is a getter/setter pair, not a Proxy, so the record
 * still structuredClones and posts to a worker like a plain object; adding or deleting a name is
 * the frozen object's own TypeError.
 */
export function readOnlyRecord<T extends Record<string, unknown>>(record: T, what: string): Readonly<T> {
  const out = {} as T;
  for (const key of Object.keys(record)) {
    const value = record[key];
    Object.defineProperty(out, key, {
      enumerable: true,
      get: () => value,
      set: (v: unknown) => {
        throw new InputError(`${what} is read-only: expected its arrays to be changed in place (${what}[${JSON.stringify(key)}].set(values)), got an assignment of ${describeValue(v)} to ${JSON.stringify(key)}`);
      },
    });
  }
  return Object.freeze(out);
}
