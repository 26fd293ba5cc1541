/**
 * The safetensors header: the length field, the JSON text and every check on it (see
 * safetensors.ts for the format). Everything a header claims — sizes, offsets, nesting — is
 * checked against the bytes actually present before anything is allocated.
 */
import { either } from "fp-ts";
import * as t from "io-ts";
import { closed } from "../../compiler/ir/closed.js";
import { report } from "../../compiler/ir/report.js";
import { DecodeError } from "../../runtime/errors.js";

/** Element types kiln reads; the writer infers one of the typed-array ones from the array. */
export type Dtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U64" | "U32" | "U16" | "U8" | "BOOL";

/** The reference refuses headers over 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element, and the reference's dtype order (serialization sorts by it, descending). */
export const DTYPES: Readonly<Record<Dtype, { readonly bytes: number; readonly rank: number }>> = {
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
export type TensorInfo = t.TypeOf<typeof TensorInfoC>;

export const fail = (msg: string): never => { throw new DecodeError(`invalid safetensors file: ${msg}`); };
export const quote = (name: string): string => JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);

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

export interface Entry { readonly name: string; readonly info: TensorInfo }

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
export function readHeader(bytes: Uint8Array): { entries: Entry[]; metadata: Map<string, string>; dataStart: number } {
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
