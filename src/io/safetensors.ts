/**
 * The safetensors format (huggingface/safetensors), read and written exactly as the reference:
 *
 *   [u64 little-endian N] [N bytes of JSON header, space-padded to a multiple of 8] [data region]
 *   header = { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, …,
 *              "__metadata__"?: { "<key>": "<string>" } }
 *
 * Offsets are relative to the start of the data region; the tensors must tile it exactly (no gap,
 * no overlap, nothing after the last one) — the reference loader refuses anything else, and so
 * does this one. Every size is checked against the bytes actually present BEFORE anything is
 * allocated, so a header claiming 10¹² elements costs nothing. Returned arrays are copies (never
 * views of the file), so reading at any byte offset works, aligned or not.
 *
 * dtypes: F64 F32 I64 I32 U64 U32 I16 U16 I8 U8 BOOL are read into the matching typed array;
 * F16 and BF16 are widened to a Float32Array (exact: every half and bfloat16 value is a float32),
 * the entry keeps its original dtype. F8 and other exotic dtypes are refused.
 *
 * Errors: a bad file is a DecodeError; bad arguments to the writer are an InputError.
 */
import { InputError } from "../../runtime/errors.js";
import { DTYPES, MAX_HEADER_BYTES, UNICODE, fail, quote, readHeader, type Dtype, type TensorInfo } from "./safetensors-header.js";
import { LONE_SURROGATE } from "../validate.js";

export { MAX_HEADER_BYTES, type Dtype };

export type TensorArray =
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array
  | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

export interface SafeTensor {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Row-major elements; a Float32Array for F16/BF16 (widened exactly), a Uint8Array of 0/1 for BOOL. */
  readonly data: TensorArray;
}

export interface SafetensorsFile {
  /** By name, in file order (ascending data offset). A Map, so any name is safe as a key. */
  readonly tensors: ReadonlyMap<string, SafeTensor>;
  /** The optional `__metadata__` string map (empty when absent). */
  readonly metadata: ReadonlyMap<string, string>;
}

// ─────────────────────────────── element copies ───────────────────────────────

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const ARRAYS = {
  F64: Float64Array, F32: Float32Array, I64: BigInt64Array, U64: BigUint64Array, I32: Int32Array, U32: Uint32Array,
  I16: Int16Array, U16: Uint16Array, I8: Int8Array, U8: Uint8Array, BOOL: Uint8Array,
} as const;

/** Reverse the byte order of each `size`-byte element in place (big-endian hosts only). */
function swap(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

/** f16 bits → number (exact). */
function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function readTensor(bytes: Uint8Array, start: number, info: TensorInfo): TensorArray {
  const [begin, end] = info.data_offsets as [number, number];
  // A fresh copy at offset 0 (aligned whatever the file offset; Buffer#slice would be a view).
  const raw = new Uint8Array(end - begin);
  raw.set(bytes.subarray(start + begin, start + end));
  if (info.dtype === "F16" || info.dtype === "BF16") {
    const v = new DataView(raw.buffer);
    const out = new Float32Array(raw.length / 2);
    if (info.dtype === "F16") for (let i = 0; i < out.length; i++) out[i] = half(v.getUint16(2 * i, true));
    else {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < out.length; i++) bits[i] = v.getUint16(2 * i, true) << 16;
    }
    return out;
  }
  if (!LITTLE_ENDIAN) swap(raw, DTYPES[info.dtype].bytes);
  const Ctor = ARRAYS[info.dtype];
  return new Ctor(raw.buffer, 0, raw.length / DTYPES[info.dtype].bytes);
}

/**
 * Read a safetensors file. Every problem is a DecodeError naming the tensor and what is wrong.
 * @example const { tensors } = decodeSafetensors(readFileSync("model.safetensors")); tensors.get("0.weight")
 */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) fail(`expected a Uint8Array, got ${bytes === null ? "null" : typeof bytes}`);
  const { entries, metadata, dataStart } = readHeader(bytes);
  const tensors = new Map<string, SafeTensor>();
  for (const { name, info } of entries) {
    const data = readTensor(bytes, dataStart, info);
    if (info.dtype === "BOOL") {
      const bad = (data as Uint8Array).findIndex((b) => b > 1);
      if (bad >= 0) fail(`tensor ${quote(name)}: BOOL element ${bad} is ${(data as Uint8Array)[bad]}; expected 0 or 1`);
    }
    tensors.set(name, Object.freeze({ dtype: info.dtype, shape: Object.freeze([...info.shape]), data }));
  }
  return { tensors, metadata };
}

// ─────────────────────────────── writing ───────────────────────────────

type Writable = Exclude<Dtype, "F16" | "BF16" | "BOOL">;

function dtypeOf(a: unknown): Writable | null {
  if (a instanceof Float32Array) return "F32";
  if (a instanceof Float64Array) return "F64";
  if (a instanceof BigInt64Array) return "I64";
  if (a instanceof BigUint64Array) return "U64";
  if (a instanceof Int32Array) return "I32";
  if (a instanceof Uint32Array) return "U32";
  if (a instanceof Int16Array) return "I16";
  if (a instanceof Uint16Array) return "U16";
  if (a instanceof Int8Array) return "I8";
  if (a instanceof Uint8Array) return "U8";
  return null;
}

/** Rust orders `String`s by their UTF-8 bytes, i.e. by code point (not by UTF-16 unit as `<`). */
function byCodePoint(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

type Named<T> = Readonly<Record<string, T>> | ReadonlyMap<string, T>;

/** The entries of a record or Map argument; anything else, or a Map key that is not a string (its header would not be JSON), is an InputError. */
function entriesOf<T>(m: Named<T>, what: string): [string, T][] {
  if (m === null || typeof m !== "object") throw new InputError(`encodeSafetensors: expected ${what} as an object or a Map, got ${m === null ? "null" : typeof m}`);
  if (!(m instanceof Map)) return Object.keys(m).map((k) => [k, (m as Record<string, T>)[k]!]);
  const entries = [...m.entries()];
  const bad = entries.find(([k]) => typeof k !== "string");
  if (bad) throw new InputError(`encodeSafetensors: expected ${what} named by strings, got the ${typeof bad[0]} key ${String(bad[0])}`);
  return entries;
}

/**
 * Write tensors as a safetensors file, byte-identical to the reference writer: tensors sorted by
 * dtype (widest first) then name, packed without gaps, `__metadata__` first, header padded with
 * spaces to a multiple of 8. The dtype comes from the array type (Float32Array → F32,
 * BigInt64Array → I64, …). Shapes are checked against the array lengths.
 * @example encodeSafetensors({ "0.weight": w }, { "0.weight": [256, 784] }, { format: "pt" })
 */
export function encodeSafetensors(
  tensors: Named<TensorArray>, shapes: Named<readonly number[]>, metadata?: Named<string>,
): Uint8Array {
  const shapeOf = new Map(entriesOf(shapes, "shapes"));
  const list = entriesOf(tensors, "tensors").map(([name, data]) => {
    const what = `encodeSafetensors: tensor ${quote(name)}`;
    if (name === "__metadata__") throw new InputError(`${what}: the name "__metadata__" is reserved`);
    if (LONE_SURROGATE.test(name)) throw new InputError(`${what}: expected a name that is ${UNICODE}`);
    const dtype = dtypeOf(data);
    if (dtype === null) throw new InputError(`${what}: expected a typed array (Float32Array, BigInt64Array, …), got ${Object.prototype.toString.call(data)}`);
    const shape = shapeOf.get(name);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InputError(`${what}: expected a shape of non-negative integers, got ${JSON.stringify(shape) ?? "none"}`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new InputError(`${what}: shape [${shape.join(",")}] has ${count} elements, but the array has ${data.length}`);
    return { name, dtype, shape: [...shape], data };
  });
  const names = new Set(list.map((e) => e.name));
  for (const name of shapeOf.keys()) {
    if (!names.has(name)) throw new InputError(`encodeSafetensors: shape given for ${quote(name)}, which is not among the tensors`);
  }
  list.sort((a, b) => DTYPES[b.dtype].rank - DTYPES[a.dtype].rank || byCodePoint(a.name, b.name));

  // JSON.stringify keeps insertion order except for integer-like keys, which it puts first: build
  // the header text by hand so the order is the reference's whatever the names are.
  const parts: string[] = [];
  const meta = metadata === undefined ? [] : entriesOf(metadata, "metadata");
  if (metadata !== undefined) {
    for (const [k, v] of meta) {
      const what = `encodeSafetensors: metadata ${quote(k)}`;
      if (LONE_SURROGATE.test(k)) throw new InputError(`${what}: expected a key that is ${UNICODE}`);
      if (typeof v !== "string") throw new InputError(`${what}: expected a string, got ${v === null ? "null" : typeof v}`);
      if (LONE_SURROGATE.test(v)) throw new InputError(`${what}: expected a string that is ${UNICODE}`);
    }
    parts.push(`"__metadata__":{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`);
  }
  let offset = 0;
  for (const e of list) {
    const end = offset + e.data.byteLength;
    parts.push(`${JSON.stringify(e.name)}:{"dtype":"${e.dtype}","shape":[${e.shape.join(",")}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const n = Math.ceil(json.length / 8) * 8;
  if (n > MAX_HEADER_BYTES) throw new InputError(`encodeSafetensors: the header would be ${n} bytes; the format allows ${MAX_HEADER_BYTES}`);
  const out = new Uint8Array(8 + n + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, n % 2 ** 32, true);
  view.setUint32(4, Math.floor(n / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const e of list) {
    const b = new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    out.set(b, at);
    if (!LITTLE_ENDIAN) swap(out.subarray(at, at + b.length), DTYPES[e.dtype].bytes);
    at += b.length;
  }
  return out;
}
