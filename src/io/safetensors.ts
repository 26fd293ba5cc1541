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
import { either } from "fp-ts";
import * as t from "io-ts";
import { closed } from "../../compiler/ir/closed.js";
import { report } from "../../compiler/ir/report.js";
import { DecodeError, InputError } from "../../runtime/errors.js";

/** Element types kiln reads; the writer infers one of the typed-array ones from the array. */
export type Dtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U64" | "U32" | "U16" | "U8" | "BOOL";

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

/** The reference refuses headers over 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element, and the reference's dtype order (serialization sorts by it, descending). */
const DTYPES: Readonly<Record<Dtype, { readonly bytes: number; readonly rank: number }>> = {
  BOOL: { bytes: 1, rank: 0 }, U8: { bytes: 1, rank: 1 }, I8: { bytes: 1, rank: 2 },
  I16: { bytes: 2, rank: 5 }, U16: { bytes: 2, rank: 6 }, F16: { bytes: 2, rank: 7 }, BF16: { bytes: 2, rank: 8 },
  I32: { bytes: 4, rank: 9 }, U32: { bytes: 4, rank: 10 }, F32: { bytes: 4, rank: 11 }, F64: { bytes: 8, rank: 12 },
  I64: { bytes: 8, rank: 13 }, U64: { bytes: 8, rank: 14 },
};

// ─────────────────────────────── header codec ───────────────────────────────

const DtypeC = t.keyof(Object.fromEntries(Object.keys(DTYPES).map((k) => [k, null])) as Record<Dtype, null>,
  `one of ${Object.keys(DTYPES).join(", ")}`);
const Count = t.refinement(t.number, (n) => Number.isSafeInteger(n) && n >= 0, "non-negative integer");
const Offsets = t.refinement(t.array(Count), (a) => a.length === 2, "[begin, end]");
const TensorInfoC = closed({ dtype: DtypeC, shape: t.array(Count), data_offsets: Offsets }, "TensorInfo");
type TensorInfo = t.TypeOf<typeof TensorInfoC>;

const fail = (msg: string): never => { throw new DecodeError(`invalid safetensors file: ${msg}`); };
const quote = (name: string): string => JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);

/** The first key that appears twice in one object of a JSON text JSON.parse accepted, or null. */
function duplicateKey(text: string): string | null {
  const stack: (Set<string> | null)[] = []; // a Set of keys per open object, null per open array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1, escaped = false;
      for (; text.charCodeAt(j) !== 0x22; j++) if (text.charCodeAt(j) === 0x5c) { escaped = true; j++; }
      const keys = stack[stack.length - 1];
      if (keys && expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) { stack.push(new Set()); expectKey = true; }
    else if (c === 0x5b) stack.push(null);
    else if (c === 0x7d || c === 0x5d) { stack.pop(); expectKey = false; }
    else if (c === 0x2c) expectKey = stack[stack.length - 1] !== null && stack.length > 0;
  }
  return null;
}

interface Entry { readonly name: string; readonly info: TensorInfo }

/** Is `v` nested more than `max` levels deep? (Iterative: a header can nest 10⁷ levels.) */
function tooDeep(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== "object" || x === null) continue;
    if (d >= max) return true;
    for (const k of Object.keys(x)) stack.push([(x as Record<string, unknown>)[k], d + 1]);
  }
  return false;
}

/** A short description of a header value for messages, safe for any nesting. */
function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === "object" && v !== null) return "an object";
  return String(v);
}

/** Parse and check the header; returns the entries in data order and the metadata. */
function readHeader(bytes: Uint8Array): { entries: Entry[]; metadata: Map<string, string>; dataStart: number } {
  if (bytes.length < 8) fail(`the file is ${bytes.length} bytes; expected at least 8 (the header length)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true), hi = view.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  if (hi !== 0 || n > MAX_HEADER_BYTES) fail(`header length ${hi >= 2 ** 21 ? `${hi}·2³²+${lo}` : n}: expected at most ${MAX_HEADER_BYTES} bytes`);
  if (n < 2) fail(`header length ${n}: expected at least 2 bytes ("{}")`);
  if (n > bytes.length - 8) fail(`header length ${n}: expected at most ${bytes.length - 8}, the bytes after the length field`);
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail("header: expected UTF-8 text, got invalid bytes");
  }
  if (!text.startsWith("{")) fail(`header: expected a JSON object starting with "{", got ${JSON.stringify(text.slice(0, 20))}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`header: expected JSON, got a parse error (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("header: expected a JSON object");
  const dup = duplicateKey(text);
  if (dup !== null) fail(`header: key ${quote(dup)} appears twice`);

  const metadata = new Map<string, string>();
  const entries: Entry[] = [];
  for (const name of Object.keys(json as object)) {
    const value = (json as Record<string, unknown>)[name];
    if (name === "__metadata__") {
      if (value === null) continue; // the reference reads it as an Option: null is no metadata
      if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`__metadata__: expected an object of strings, got ${show(value)}`);
      for (const k of Object.keys(value as object)) {
        const v = (value as Record<string, unknown>)[k];
        if (typeof v !== "string") fail(`__metadata__.${quote(k)}: expected a string, got ${show(v)}`);
        metadata.set(k, v as string);
      }
      continue;
    }
    // { dtype, shape: [..], data_offsets: [..] } nests 2 levels; refuse deeper before the codec walks it.
    if (typeof value !== "object" || value === null || Array.isArray(value) || tooDeep(value, 3)) {
      fail(`tensor ${quote(name)}: expected { dtype, shape, data_offsets }, got ${tooDeep(value, 3) ? "a value nested more than 3 levels deep" : show(value)}`);
    }
    const r = TensorInfoC.decode(value);
    if (either.isLeft(r)) fail(`tensor ${quote(name)}: ${report(r.left)}`);
    entries.push({ name, info: (r as either.Right<TensorInfo>).right });
  }

  const dataStart = 8 + n;
  const dataBytes = bytes.length - dataStart;
  for (const { name, info } of entries) {
    const [begin, end] = info.data_offsets as [number, number];
    let count = 1;
    for (const d of info.shape) {
      count *= d;
      if (count > Number.MAX_SAFE_INTEGER) fail(`tensor ${quote(name)}: shape [${info.shape.join(",")}] has too many elements`);
    }
    const want = count * DTYPES[info.dtype].bytes;
    if (end < begin) fail(`tensor ${quote(name)}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end - begin !== want) {
      fail(`tensor ${quote(name)}: ${info.dtype} [${info.shape.join(",")}] needs ${want} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > dataBytes) fail(`tensor ${quote(name)}: data_offsets [${begin}, ${end}] go past the data region of ${dataBytes} bytes`);
  }
  entries.sort((a, b) => a.info.data_offsets[0]! - b.info.data_offsets[0]! || a.info.data_offsets[1]! - b.info.data_offsets[1]!);
  let covered = 0;
  let prev: string | null = null;
  for (const { name, info } of entries) {
    const begin = info.data_offsets[0]!;
    if (begin > covered) fail(`tensor ${quote(name)}: data begins at ${begin}, leaving a gap of ${begin - covered} bytes after ${prev === null ? "the data region start" : `tensor ${quote(prev)}`}`);
    if (begin < covered) fail(`tensor ${quote(name)}: data [${begin}, ${info.data_offsets[1]}] overlaps tensor ${quote(prev!)} (which ends at ${covered})`);
    covered = info.data_offsets[1]!;
    prev = name;
  }
  if (covered !== dataBytes) fail(`the tensors cover ${covered} bytes of the data region, but it has ${dataBytes} (trailing bytes)`);
  return { entries, metadata, dataStart };
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
const entriesOf = <T>(m: Named<T>): [string, T][] =>
  m instanceof Map ? [...m.entries()] : Object.keys(m).map((k) => [k, (m as Record<string, T>)[k]!]);
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

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
  const shapeOf = new Map(entriesOf(shapes));
  const list = entriesOf(tensors).map(([name, data]) => {
    const what = `encodeSafetensors: tensor ${quote(name)}`;
    if (name === "__metadata__") throw new InputError(`${what}: the name "__metadata__" is reserved`);
    if (LONE_SURROGATE.test(name)) throw new InputError(`${what}: expected a name that is valid UTF-8, got one with a lone surrogate`);
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
  const meta = metadata === undefined ? [] : entriesOf(metadata);
  if (metadata !== undefined) {
    for (const [k, v] of meta) {
      if (typeof v !== "string" || LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) {
        throw new InputError(`encodeSafetensors: metadata ${quote(k)}: expected a (valid UTF-8) string, got ${typeof v}`);
      }
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
