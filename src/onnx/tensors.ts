/**
 * TensorProto ↔ typed arrays. Reading checks before it allocates: the element count is the
 * product of the declared dims, and it must equal what the message actually carries, so a
 * declared shape of 2⁴⁰ with four floats of data is refused without allocating anything larger
 * than the input. Data stored outside the file (`data_location: EXTERNAL`) is refused: kiln reads
 * only the bytes it was given, never a path named inside them.
 */
import { MAX_ELEMENTS } from "../../compiler/ir/graph.js";
import { DecodeError } from "../../runtime/errors.js";
import { DataType, EXTERNAL, int, quoteName, type Int64, type Tensor } from "./proto.js";

export interface FloatTensor { readonly dims: readonly number[]; readonly data: Float32Array }

/** Declared dims as numbers, each a non-negative integer, their product at most MAX_ELEMENTS. */
export function dimsOf(t: Tensor, what: string): number[] {
  const dims = t.dims.map((d, i) => int(d, `${what} dims[${i}]`));
  let count = 1;
  for (const d of dims) {
    if (d < 0) throw new DecodeError(`ONNX: ${what} declares a negative dimension (${d})`);
    count *= d;
    if (count > MAX_ELEMENTS) throw new DecodeError(`ONNX: ${what} declares [${dims.join(",")}], more than ${MAX_ELEMENTS} elements`);
  }
  return dims;
}

function refuseExternal(t: Tensor, what: string): void {
  if (t.data_location === EXTERNAL || t.external_data.length > 0) {
    const where = t.external_data.find((e) => e.key === "location")?.value;
    throw new DecodeError(`ONNX: ${what} keeps its data in an external file${where === undefined ? "" : ` (${quoteName(where)})`}; kiln reads only the bytes it is given — save the model with its data inside`);
  }
  // One place for the values, as the ONNX checker and ONNX Runtime require: which would be meant?
  const fields = (["raw_data", "float_data", "double_data", "int32_data", "int64_data"] as const).filter((f) => t[f].length > 0);
  if (fields.length > 1) throw new DecodeError(`ONNX: ${what} carries its values twice, in ${fields.join(" and ")}; expected one of them`);
}

const elements = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/**
 * A FLOAT tensor's values (raw_data little-endian, or float_data), or a DOUBLE's rounded to float
 * (torch's export without constant folding writes a Python number as a DOUBLE constant and a Cast).
 */
export function readFloats(t: Tensor, what: string, infinities = false): FloatTensor {
  refuseExternal(t, what);
  const finite = (data: Float32Array, what: string) => checked(data, what, infinities);
  if (t.data_type === DataType.DOUBLE) return readDoubles(t, what, infinities);
  if (t.data_type !== DataType.FLOAT) throw new DecodeError(`ONNX: ${what} has data type ${t.data_type}; kiln reads FLOAT (1) and DOUBLE (11) tensors`);
  const dims = dimsOf(t, what);
  const count = elements(dims);
  if (t.raw_data.length > 0) {
    if (t.raw_data.length !== count * 4) throw new DecodeError(`ONNX: ${what} declares [${dims.join(",")}] (${count * 4} bytes) but carries ${t.raw_data.length} bytes`);
    const view = new DataView(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.byteLength);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(4 * i, true);
    return { dims, data: finite(data, what) };
  }
  if (t.float_data.length !== count) throw new DecodeError(`ONNX: ${what} declares [${dims.join(",")}] (${count} values) but carries ${t.float_data.length}`);
  return { dims, data: finite(Float32Array.from(t.float_data), what) };
}

function readDoubles(t: Tensor, what: string, infinities: boolean): FloatTensor {
  const finite = (data: Float32Array, what: string) => checked(data, what, infinities);
  const dims = dimsOf(t, what);
  const count = elements(dims);
  if (t.raw_data.length > 0) {
    if (t.raw_data.length !== count * 8) throw new DecodeError(`ONNX: ${what} declares [${dims.join(",")}] (${count * 8} bytes) but carries ${t.raw_data.length} bytes`);
    const view = new DataView(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.byteLength);
    return { dims, data: finite(Float32Array.from({ length: count }, (_v, i) => view.getFloat64(8 * i, true)), what) };
  }
  if (t.double_data.length !== count) throw new DecodeError(`ONNX: ${what} declares [${dims.join(",")}] (${count} values) but carries ${t.double_data.length}`);
  return { dims, data: finite(Float32Array.from(t.double_data), what) };
}

/**
 * Weights must be finite: a NaN or ±∞ would make every output NaN (as a checkpoint's would). A
 * constant a graph computes may hold ±∞ (`infinities`: attention's additive mask of 0 and −∞),
 * never NaN.
 */
function checked(data: Float32Array, what: string, infinities: boolean): Float32Array {
  const i = data.findIndex((v) => (infinities ? Number.isNaN(v) : !Number.isFinite(v)));
  if (i >= 0) throw new DecodeError(`ONNX: ${what} holds ${data[i]} at element ${i}; expected ${infinities ? "numbers or ±∞" : "finite numbers"}`);
  return data;
}

/**
 * An INT64 (or INT32) tensor's values as numbers: shapes, axes. With `clamp`, an int64 beyond
 * ±2⁵³ reads as ±2⁵³ (Slice's "to the end" is INT64_MAX), else it is a DecodeError.
 */
export function readInts(t: Tensor, what: string, clamp = false): { dims: number[]; data: number[] } {
  refuseExternal(t, what);
  const dims = dimsOf(t, what);
  const count = elements(dims);
  const data: number[] = [];
  if (t.data_type === DataType.INT64 && t.raw_data.length > 0) {
    if (t.raw_data.length !== count * 8) throw new DecodeError(`ONNX: ${what} declares ${count} int64 values but carries ${t.raw_data.length} bytes`);
    const view = new DataView(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.byteLength);
    for (let i = 0; i < count; i++) {
      const v = view.getBigInt64(8 * i, true);
      const out = v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER);
      if (out && !clamp) throw new DecodeError(`ONNX: ${what}[${i}] is out of range`);
      data.push(out ? (v > 0n ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER) : Number(v));
    }
  } else if (t.data_type === DataType.INT64) {
    if (t.int64_data.length !== count) throw new DecodeError(`ONNX: ${what} declares ${count} int64 values but carries ${t.int64_data.length}`);
    t.int64_data.forEach((v, i) => data.push(clamp ? clampedInt(v) : int(v, `${what}[${i}]`)));
  } else if (t.data_type === DataType.INT32 && t.raw_data.length === 0) {
    if (t.int32_data.length !== count) throw new DecodeError(`ONNX: ${what} declares ${count} int32 values but carries ${t.int32_data.length}`);
    for (const v of t.int32_data) data.push(v); // not push(...): 200,000 values overflowed the stack
  } else {
    throw new DecodeError(`ONNX: ${what} has data type ${t.data_type}; expected an INT64 tensor`);
  }
  return { dims, data };
}

/** A FLOAT initializer with raw little-endian data. */
export function floatTensor(name: string, dims: readonly number[], data: ArrayLike<number>): object {
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i]!, true);
  return { name, dims: [...dims], data_type: DataType.FLOAT, raw_data: raw };
}

/** An INT64 tensor (Reshape's shape, ReduceSum's axes). */
export const int64Tensor = (name: string, values: readonly number[], dims: readonly number[] = [values.length]): object =>
  ({ name, dims: [...dims], data_type: DataType.INT64, int64_data: [...values] });

/** An int64 field as a number, clamped to ±2⁵³. */
function clampedInt(x: Int64): number {
  const n = typeof x === "number" ? x : x.toNumber();
  return Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.trunc(n)));
}
