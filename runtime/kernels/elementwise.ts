/**
 * Elementwise kernels: unary maps and broadcasting binary ops.
 *
 * Broadcast parameters: p = [rank, ...outShape, ...aStrides, ...bStrides], where a stride is 0
 * along a dimension the operand is broadcast over. Common layouts take a fast path.
 */
import { erf as erf64, sigmoid as sigmoid64 } from "./math.js";
import type { FloatArray, Kernel } from "./types.js";

const map1 = (f: (x: number) => number): Kernel => (bufs) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  for (let i = 0; i < y.length; i++) y[i] = f(x[i]!);
};

export const neg = map1((x) => -x);
export const exp = map1(Math.exp);
export const log = map1(Math.log);
export const relu = map1((x) => (x > 0 ? x : 0));
/** Heaviside step 1[x > 0], the derivative of relu. */
export const step = map1((x) => (x > 0 ? 1 : 0));
export const sqrt = map1(Math.sqrt);
export const rsqrt = map1((x) => 1 / Math.sqrt(x));
export const tanh = map1(Math.tanh);
export const sigmoid = map1(sigmoid64);
export const erf = map1(erf64);
export const abs = map1(Math.abs);
export const sign = map1(Math.sign);

/** y = x^k, p = [k]. */
export const pow: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray, k = p[0]!;
  for (let i = 0; i < y.length; i++) y[i] = Math.pow(x[i]!, k);
};

/** Visit (i, ia, ib) for every output element, following per-operand strides. */
function strided(p: readonly number[], visit: (i: number, ia: number, ib: number) => void): void {
  const rank = p[0]!;
  const shape = p.slice(1, 1 + rank), sa = p.slice(1 + rank, 1 + 2 * rank), sb = p.slice(1 + 2 * rank, 1 + 3 * rank);
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(rank).fill(0);
  let ia = 0, ib = 0;
  for (let i = 0; i < n; i++) {
    visit(i, ia, ib);
    // Odometer: bump the last dimension, carrying into earlier ones.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      ia += sa[d]!;
      ib += sb[d]!;
      if (idx[d]! < shape[d]!) break;
      ia -= sa[d]! * shape[d]!;
      ib -= sb[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

const map2 = (f: (a: number, b: number) => number): Kernel => (bufs, p) => {
  const a = bufs[0] as FloatArray, b = bufs[1] as FloatArray, y = bufs[2] as FloatArray;
  const n = y.length;
  if (a.length === n && b.length === n) {
    for (let i = 0; i < n; i++) y[i] = f(a[i]!, b[i]!);
  } else if (a.length === n && b.length === 1) {
    const s = b[0]!;
    for (let i = 0; i < n; i++) y[i] = f(a[i]!, s);
  } else if (b.length === n && a.length === 1) {
    const s = a[0]!;
    for (let i = 0; i < n; i++) y[i] = f(s, b[i]!);
  } else {
    strided(p, (i, ia, ib) => { y[i] = f(a[ia]!, b[ib]!); });
  }
};

export const add = map2((a, b) => a + b);
export const sub = map2((a, b) => a - b);
export const mul = map2((a, b) => a * b);
export const div = map2((a, b) => a / b);
/** NaN in either operand gives NaN (as torch.maximum / torch.minimum). */
export const maximum = map2((a, b) => (a !== a || b !== b ? NaN : a > b ? a : b));
export const minimum = map2((a, b) => (a !== a || b !== b ? NaN : a < b ? a : b));

/** y = x broadcast to the output shape; p = [rank, ...outShape, ...xStrides, ...unused]. */
export const broadcast: Kernel = (bufs, p) => {
  const x = bufs[0] as FloatArray, y = bufs[1] as FloatArray;
  if (x.length === y.length) y.set(x);
  else if (x.length === 1) y.fill(x[0]!);
  else strided(p, (i, ia) => { y[i] = x[ia]!; });
};

/** Plain copy (reshape is a copy in the reference path). */
export const copy: Kernel = (bufs) => {
  (bufs[1] as FloatArray).set(bufs[0] as FloatArray);
};

/** Fill with the constant p[0]. */
export const fill: Kernel = (bufs, p) => {
  (bufs[0] as FloatArray).fill(p[0]!);
};
