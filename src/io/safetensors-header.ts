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
import { LONE_SURROGATE } from "../validate.js";

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

/** A message names this many problems of a tensor and counts the rest (report()'s default). */
const SHOWN = 5;

/**
 * t.array(Count), except that it builds an error for the first SHOWN bad elements only (the
 * message shows no more; badCounts tells how many there are). t.array builds one per bad
 * element, ~500 bytes each with its path: a 15 MB header whose shape held 5·10⁶ entries of -1
 * took 2.8 GB and 12·10⁶ ran out of heap. A valid array comes back as itself, as from t.array.
 */
const Counts = new t.Type<number[], number[], unknown>(
  t.array(Count).name,
  (u): u is number[] => Array.isArray(u) && u.every(Count.is),
  (u, c) => {
    if (!Array.isArray(u)) return t.failure(u, c);
    const errors: t.ValidationError[] = [];
    for (let i = 0; i < u.length && errors.length < SHOWN; i++) {
      if (!Count.is(u[i])) errors.push({ value: u[i], context: [...c, { key: String(i), type: Count, actual: u[i] }] });
    }
    return errors.length > 0 ? t.failures(errors) : t.success(u);
  },
  t.identity,
);
const badCounts = (u: unknown): number => (Array.isArray(u) ? u.reduce((n: number, x) => (Count.is(x) ? n : n + 1), 0) : 0);

const Offsets = t.refinement(Counts, (a) => a.length === 2, "[begin, end]");
const FIELDS = { dtype: DtypeC, shape: Counts, data_offsets: Offsets };
const TensorInfoC = closed(FIELDS, "TensorInfo");
export type TensorInfo = t.TypeOf<typeof TensorInfoC>;

/**
 * What the reader and the writer say of a name or metadata string with a lone surrogate
 * (LONE_SURROGATE), "expected a name that is ${UNICODE}": JSON can write one as an escape
 * ("\ud800"), but the reference's reader refuses it and its writer cannot write it.
 */
export const UNICODE = "valid Unicode (UTF-8), got one with a lone surrogate";

export const fail = (msg: string): never => { throw new DecodeError(`invalid safetensors file: ${msg}`); };
export const quote = (name: string): string => JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);

/**
 * Tensors one file may hold: a state dict of the largest models has a few thousand. A header of a
 * million empty ones (58 MB) took 8 s and 1.2 GB to check entry by entry before it was refused.
 */
const MAX_TENSORS = 65_536;

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

/**
 * Is `v` nested more than `max` levels deep? Iterative, as a header can nest 10⁷ levels; only
 * arrays and objects are stacked and arrays are walked by index, so a shape of 10⁷ numbers costs
 * no key string or stack entry per number.
 */
function tooDeep(v: unknown, max: number): boolean {
  const isNode = (x: unknown): x is object => typeof x === "object" && x !== null;
  const stack: [object, number][] = isNode(v) ? [[v, 0]] : [];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (d >= max) return true;
    for (const c of Array.isArray(x) ? x : Object.values(x)) if (isNode(c)) stack.push([c, d + 1]);
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

/**
 * A tensor's { dtype, shape, data_offsets } checked by TensorInfoC; a DecodeError names its first
 * SHOWN problems and counts the rest. The parts that can be millions long — the keys, the
 * arrays — cost no error object beyond the SHOWN: closed() builds one per unknown key, so it
 * sees only the first SHOWN of them (a 64 MB header of 5·10⁶ unknown keys took 3.9 GB and 42 s).
 */
function decodeInfo(name: string, value: unknown): TensorInfo {
  const expected = `tensor ${quote(name)}: expected { dtype, shape, data_offsets }, got`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`${expected} ${show(value)}`);
  const entry = value as Record<string, unknown>;
  let unknown = 0;
  const kept: [string, unknown][] = [];
  for (const k in entry) if (Object.hasOwn(FIELDS, k) || ++unknown <= SHOWN) kept.push([k, entry[k]]);
  // fromEntries defines keys as own properties, so even a "__proto__" key is kept as a key.
  const checked = unknown > SHOWN ? Object.fromEntries(kept) : entry;
  // { dtype, shape: [..], data_offsets: [..] } nests 2 levels; refuse deeper before the codec walks it.
  if (tooDeep(checked, 3)) fail(`${expected} a value nested more than 3 levels deep`);
  const r = TensorInfoC.decode(checked);
  if (either.isRight(r)) return r.right;
  // What r.left lacks: closed() reports the unknown keys alone when there are any (it saw SHOWN
  // of them); else Counts stopped at the first SHOWN bad elements of each array.
  const past = (n: number): number => Math.max(0, n - SHOWN);
  const omitted = unknown > 0 ? past(unknown) : past(badCounts(entry.shape)) + past(badCounts(entry.data_offsets));
  const more = r.left.length - SHOWN + omitted;
  return fail(`tensor ${quote(name)}: ${report(r.left.slice(0, SHOWN), SHOWN)}${more > 0 ? `; … and ${more} more` : ""}`);
}

/** Parse and check the header; returns the entries in data order and the metadata. */
export function readHeader(bytes: Uint8Array): { entries: Entry[]; metadata: Map<string, string>; dataStart: number } {
  if (bytes.length < 8) fail(`the file is ${bytes.length} bytes; expected at least 8 (the header length)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true), hi = view.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  // Another kind of file (an ONNX model, a zip) reads as an absurd length here: say so.
  const notOne = bytes[8] !== 0x7b ? ` (the header does not start with "{": is this a safetensors file?)` : "";
  if (hi !== 0 || n > MAX_HEADER_BYTES) fail(`header length ${hi >= 2 ** 21 ? `${hi}·2³²+${lo}` : n}: expected at most ${MAX_HEADER_BYTES} bytes${notOne}`);
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
  const names = Object.keys(json as object).length;
  if (names > MAX_TENSORS + 1) fail(`header: ${names} entries; expected at most ${MAX_TENSORS} tensors (and __metadata__)`);
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
        if (LONE_SURROGATE.test(k)) fail(`__metadata__.${quote(k)}: expected a key that is ${UNICODE}`);
        if (typeof v !== "string") fail(`__metadata__.${quote(k)}: expected a string, got ${show(v)}`);
        if (LONE_SURROGATE.test(v as string)) fail(`__metadata__.${quote(k)}: expected a string that is ${UNICODE}`);
        metadata.set(k, v as string);
      }
      continue;
    }
    if (LONE_SURROGATE.test(name)) fail(`tensor ${quote(name)}: expected a name that is ${UNICODE}`);
    entries.push({ name, info: decodeInfo(name, value) });
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
