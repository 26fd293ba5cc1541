/**
 * Byte-level encoding of WebAssembly binaries: LEB128 integers, IEEE floats, names, vectors and
 * sections (core spec §5.1–5.5). Everything returns plain number arrays; the module builder
 * concatenates them once at the end.
 */
import { MAGIC, VERSION } from "./opcodes.js";

/** Unsigned LEB128: 7 bits per byte, low group first, high bit = "more bytes follow". */
export function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`uleb: ${n} is not a u32`);
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/**
 * Signed LEB128 of a 32-bit integer (i32.const's immediate). Groups are emitted until the rest
 * is pure sign extension of the last group's bit 6.
 */
export function sleb(n: number): number[] {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) throw new RangeError(`sleb: ${n} is not an i32`);
  n |= 0; // u32 bit patterns (e.g. 0xffffffff) become their i32 value
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7; // arithmetic shift keeps the sign
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const f32buf = new Float32Array(1), f64buf = new Float64Array(1);

/** Little-endian IEEE 754 single: f32.const's immediate. */
export function f32bytes(x: number): number[] {
  f32buf[0] = x;
  return [...new Uint8Array(f32buf.buffer)];
}

/** Little-endian IEEE 754 double: f64.const's immediate. */
export function f64bytes(x: number): number[] {
  f64buf[0] = x;
  return [...new Uint8Array(f64buf.buffer)];
}

/** A name: byte length, then UTF-8 bytes. */
export function name(s: string): number[] {
  const bytes = new TextEncoder().encode(s);
  return [...uleb(bytes.length), ...bytes];
}

/** Append bytes to out (a loop: spreading large arrays is slow and can overflow the stack). */
export function append(out: number[], bytes: readonly number[]): number[] {
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
  return out;
}

/** A vector: element count, then the elements' encodings back to back. */
export function vec(items: readonly (readonly number[])[]): number[] {
  const out = uleb(items.length);
  for (const item of items) append(out, item);
  return out;
}

/** A section: id byte, payload size, payload. */
export function section(id: number, payload: readonly number[]): number[] {
  return append([id, ...uleb(payload.length)], payload);
}

/** Preamble + sections, in the id order the spec requires. */
export function moduleBytes(sections: readonly (readonly number[])[]): Uint8Array {
  const out: number[] = [...MAGIC, ...VERSION];
  for (const s of sections) append(out, s);
  return Uint8Array.from(out);
}
